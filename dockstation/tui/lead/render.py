"""What the lead screen shows, as Rich text and table cells, from a `LeadSnapshot` (no widgets).

Breaches are shown in red with ✖ (never colour alone); scanned and manifest text goes through
`cell` / `clean` (never markup).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from dockstation.kpis.bench import ExceptionRow, LeadSnapshot, OperatorRow, QueueRow
from dockstation.text import clean
from dockstation.tui.widgets import cell

STATE_SHORT = {"received": "received", "inspecting": "inspect", "graded": "graded",
               "awaiting_approval": "approval", "quarantined": "quarant."}
BREACH, SOON, OK = ("✖", "bold red"), ("!", "bold yellow"), ("✔", "green")


def hours_text(hours: float) -> str:
    sign = "-" if hours < 0 else ""
    h = abs(hours)
    return f"{sign}{h / 24:.0f}d" if h >= 72 else f"{sign}{h:.1f}h"


def money(value: Any) -> str:
    return f"{value:,.2f}"


def summary(s: LeadSnapshot, approvals: int = 0) -> Text:
    out = Text(no_wrap=True, overflow="ellipsis")
    out.append(f"{s.now.astimezone():%H:%M} ", style="bold")
    out.append(f"· open {s.open_units:,} · ")
    if approvals:  # decisions waiting for a lead: the first thing a lead should see
        out.append(f"{SOON[0]} {approvals:,} to approve", style=SOON[1])
        out.append(" · ")
    if s.breached:
        out.append(f"{BREACH[0]} {s.breached:,} past SLA", style=BREACH[1])
    else:
        out.append(f"{OK[0]} none past SLA", style=OK[1])
    out.append(f" · exceptions {s.exceptions_open:,}")
    c = s.cycle_today
    if c.units:
        out.append(f" · today P50 {c.p50_hours:.1f}h P90 {c.p90_hours:.1f}h")
    return out


def aging(s: LeadSnapshot) -> Text:
    out = Text(no_wrap=True, overflow="ellipsis")
    out.append(f"{'lane':<10}{'SLA':>5}", style="bold")
    for label in s.queue_labels:
        out.append(f"{label:>9}", style="bold")
    out.append(f"{'past SLA':>10}\n", style="bold")
    for lane, sla in s.lane_sla.items():
        counts = s.queue_buckets.get(lane, [0] * len(s.queue_labels))
        out.append(f"{clean(lane, limit=10):<10}{'–' if sla is None else f'{sla:g}h':>5}")
        for i, n in enumerate(counts):
            if n and s.bucket_breaches(lane, i):
                out.append(f" {BREACH[0]}{n:>7,}", style=BREACH[1])
            else:
                out.append(f"{n:>9,}")
        late = s.breached_by_lane.get(lane, 0)
        out.append(f"{BREACH[0] + ' ' if late else ''}{late:,}".rjust(10), style=BREACH[1] if late else "")
        out.append("\n")
    out.append("Not disposed: ", style="bold")
    out.append("  ".join(f"{label} {n:,}" for label, n in s.open_aging.items()))
    return out


def queue_note(s: LeadSnapshot) -> Text:
    return Text(f"Most urgent {len(s.queue):,} of {s.open_units:,} open · ✖ past SLA · ! due within 1 h · ✔ in time",
                no_wrap=True, overflow="ellipsis")


# A table row is kept as a plain tuple (its "view": strings and style names) and turned into
# cells only when it is new or changed, so a refresh that repeats most of the page builds few.
def queue_view(s: LeadSnapshot, q: QueueRow) -> tuple[str, ...]:
    due = None if q.sla_due_at is None else (q.sla_due_at - s.now).total_seconds() / 3600
    sym, style = BREACH if q.breached else SOON if due is not None and due < 1 else OK
    return (sym, style, q.lpn, STATE_SHORT.get(q.state, q.state), q.lane, hours_text(q.age_hours),
            style if q.breached else "", "–" if due is None else hours_text(due), f"{q.sku} {q.description}")


def queue_cells(view: tuple[str, ...]) -> tuple[Text, ...]:
    sym, style, lpn, state, lane, age, age_style, due, item = view
    return (Text(sym, style=style), cell(lpn, "bold"), cell(state), cell(lane), Text(age, style=age_style),
            Text(due, style=style), cell(item))


def exception_view(e: ExceptionRow) -> tuple[str, ...]:
    return (str(e.id), hours_text(e.age_hours), e.kind, e.code, e.operator or "–",
            "–" if e.value is None else money(e.value))


def exception_cells(view: tuple[str, ...]) -> tuple[Text, ...]:
    ident, age, kind, code, by, value = view
    return Text(ident), Text(age), cell(kind, "bold"), cell(code), cell(by), Text(value)


def exception_note(s: LeadSnapshot) -> Text:
    more = s.exceptions_open - len(s.exceptions)
    note = f"{s.exceptions_open:,} open" + (f" (oldest {len(s.exceptions)} shown)" if more > 0 else "")
    return Text(f"{note} · m match · q quarantine · v void", no_wrap=True)


def operator_view(o: OperatorRow) -> tuple[str, ...]:
    return o.name, str(o.received), str(o.graded), str(o.disposed), f"{o.hours:.1f}", f"{o.per_hour:.1f}"


def operator_cells(view: tuple[str, ...]) -> tuple[Text, ...]:
    name, received, graded, disposed, hours, per_hour = view
    return cell(name), Text(received), Text(graded), Text(disposed), Text(hours), Text(per_hour, style="bold")


def kpis(s: LeadSnapshot) -> Text:
    out = Text()
    out.append("Cycle time receipt → first disposition\n", style="bold")
    for label, c in (("today", s.cycle_today), ("this week", s.cycle_week)):
        if c.units:
            out.append(f"  {label:<10}{c.units:>6,} units   P50 {c.p50_hours:>6.1f} h   P90 {c.p90_hours:>6.1f} h\n")
        else:
            out.append(f"  {label:<10}     0 units\n")
    out.append(f"{'Disposition mix':<18}{'today':>7}{'value':>12}{'week':>8}{'value':>12}\n", style="bold")
    for m in s.mix:
        out.append(f"  {clean(m.path, limit=15):<16}{m.units_today:>7,}{money(m.value_today):>12}"
                   f"{m.units_week:>8,}{money(m.value_week):>12}\n")
    if s.mix:
        out.append(f"  {'recovery':<16}{sum(m.units_today for m in s.mix):>7,}"
                   f"{money(sum(m.value_today for m in s.mix)):>12}{sum(m.units_week for m in s.mix):>8,}"
                   f"{money(sum(m.value_week for m in s.mix)):>12}\n", style="bold")
    hours = len(s.sparkline)
    out.append(f"Units disposed per hour, last {hours} h (peak {max(s.sparkline, default=0)})", style="bold")
    return out
