"""The lead screen (F3, leads only): queue and aging against SLA, exceptions, operators, KPIs.

Tabs that each fit 80x24: Queue (the aging matrix lane × hour bucket with SLA breaches,
the units not yet disposed by day bucket, and the most urgent units), Exceptions (the open
exception queue and the lead's actions: m match to an RMA line, q quarantine, v void with a
reason), Operators (units per hour today) and KPIs (cycle time P50/P90 today and this week,
disposition mix and recovery value, hourly throughput sparkline).

Every figure comes from `dockstation.kpis.bench.lead_snapshot`, computed in SQL in a thread every
`[lead] refresh_seconds` with a `LeadCache` the screen keeps (a refresh reads what changed since
the last one); the tables hold one page of rows (the counts cover the rest), so the screen stays
responsive with 100k open units.

- `screen`: `LeadScreen` — layout, refresh, tabs;
- `exceptions`: the exception dialogue (match, quarantine, void; by key or scan);
- `render`: the text and table cells, from a snapshot;
- `approvals`: tab 5, the awaiting-approval queue; `triggers`: tab 7, the units the age triggers
  moved today and why (its refresh also starts a trigger pass: tui/age_triggers.py);
- `holds`: tab 8, blind receipts on the hold shelf (matched automatically, the deadline's default confirmed).
"""

from dockstation.tui.lead.render import BREACH, OK, SOON, STATE_SHORT, hours_text, money
from dockstation.tui.lead.screen import TABS, LeadScreen

__all__ = ["BREACH", "OK", "SOON", "STATE_SHORT", "TABS", "LeadScreen", "hours_text", "money"]
