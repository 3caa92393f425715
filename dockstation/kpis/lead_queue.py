"""The lead screen's open-unit figures: counts per state and lane, aging buckets, SLA breaches.

Built for 100k open units, on a plain sqlite3 cursor inside the caller's read transaction:

- the (state, lane) pairs come from a loose index scan (one MIN() seek per pair on ix_unit_queue),
  not from a GROUP BY over every unit;
- the counts are index range counts on ix_unit_queue (state, lane, received_at, …): for each pair,
  one COUNT per *segment* between consecutive edges of the hour buckets and the day buckets
  together, so every open unit's index entry is stepped over once and no expression is evaluated
  per row. The hour buckets, the day buckets and each pair's total are sums of segments;
- SLA breaches are counted from the other side: a lane's open units minus those still in time
  (due at or after now, or no due time and received within the lane's SLA), read from the
  partial index of open units ix_unit_open_lane_due. Units in time were received within the
  last SLA hours, so this costs what the bench received recently, not the size of its backlog.

Timestamps are compared as the store writes them (naive UTC text with microseconds), see `_ts`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from dockstation.types import as_utc

OPEN = "state NOT IN ('disposed', 'voided')"  # must read exactly as in the partial indexes' WHERE
CLOSED_STATES = ("disposed", "voided")
MAX_TERMS = 500  # scalar subqueries per statement (SQLite allows 2000 result columns)


def ts(at: datetime) -> str:
    """A time as the store writes it: naive UTC text, microseconds always present."""
    return as_utc(at).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


@dataclass
class OpenUnits:
    total: int = 0
    breached: int = 0
    by_state_lane: dict[tuple[str, str], int] = field(default_factory=dict)
    queue_buckets: dict[str, list[int]] = field(default_factory=dict)  # lane → count per hour bucket
    breached_by_lane: dict[str, int] = field(default_factory=dict)
    open_aging: list[int] = field(default_factory=list)  # count per day bucket


def pairs(cur: Any) -> list[tuple[str, str]]:
    """The (state, lane) pairs of open units, by a loose index scan of ix_unit_queue: one seek per
    pair (a DISTINCT or GROUP BY would step over every unit without ANALYZE's statistics)."""
    out: list[tuple[str, str]] = []
    state = cur.execute("SELECT MIN(state) FROM unit").fetchone()[0]
    while state is not None:
        if state not in CLOSED_STATES:
            lane = cur.execute("SELECT MIN(lane) FROM unit WHERE state = ?", (state,)).fetchone()[0]
            while lane is not None:
                out.append((state, lane))
                lane = cur.execute("SELECT MIN(lane) FROM unit WHERE state = ? AND lane > ?",
                                   (state, lane)).fetchone()[0]
        state = cur.execute("SELECT MIN(state) FROM unit WHERE state > ?", (state,)).fetchone()[0]
    return out


def open_units(cur: Any, now: datetime, queue_hours: Sequence[float], open_days: Sequence[float],
               lane_sla: Mapping[str, float]) -> OpenUnits:
    """Counts, aging buckets (closed on the upper edge: a unit exactly 4 h old is in ≤4h) and
    breaches of the units not disposed or voided, as of `now`."""
    now = as_utc(now)
    # Bucket edges as receipt times (age ≤ edge ⇔ received_at ≥ now − edge), youngest first.
    hour_at = [ts(now - timedelta(hours=h)) for h in queue_hours]
    day_at = [ts(now - timedelta(days=d)) for d in open_days]
    edges = sorted(set(hour_at) | set(day_at), reverse=True)
    found = pairs(cur)
    # seg[j][k]: units of pair j received in [edges[k], edges[k-1]) (k = 0: ≥ edges[0], no upper
    # bound, so a receipt time after `now` counts as young; k = len(edges): < edges[-1]).
    params: dict[str, Any] = {f"e{k}": at for k, at in enumerate(edges)}
    terms: list[str] = []
    for j, (state, lane) in enumerate(found):
        params[f"s{j}"], params[f"l{j}"] = state, lane
        base = f"(SELECT COUNT(*) FROM unit WHERE state = :s{j} AND lane = :l{j}"
        for k in range(len(edges) + 1):
            lo = f" AND received_at >= :e{k}" if k < len(edges) else ""
            hi = f" AND received_at < :e{k - 1}" if k else ""
            terms.append(f"{base}{lo}{hi})")
    values: list[int] = []
    for at in range(0, len(terms), MAX_TERMS):
        values += cur.execute("SELECT " + ", ".join(terms[at:at + MAX_TERMS]), params).fetchone()
    per = len(edges) + 1
    index = {at: k for k, at in enumerate(edges)}

    def younger(seg: list[int], at: str) -> int:  # units received at or after `at`
        return sum(seg[:index[at] + 1])

    out = OpenUnits(open_aging=[0] * (len(day_at) + 1))
    lane_totals: dict[str, int] = {}
    for j, (state, lane) in enumerate(found):
        seg = [int(v) for v in values[j * per:(j + 1) * per]]
        n = sum(seg)
        out.total += n
        out.by_state_lane[(state, lane)] = n
        lane_totals[lane] = lane_totals.get(lane, 0) + n
        cum = [younger(seg, at) for at in hour_at]
        buckets = [b - a for a, b in zip([0, *cum], cum, strict=False)] + [n - (cum[-1] if cum else 0)]
        acc = out.queue_buckets.setdefault(lane, [0] * (len(hour_at) + 1))
        for i, k in enumerate(buckets):
            acc[i] += k
        cum = [younger(seg, at) for at in day_at]
        days = [b - a for a, b in zip([0, *cum], cum, strict=False)] + [n - (cum[-1] if cum else 0)]
        for i, k in enumerate(days):
            out.open_aging[i] += k
    for lane, n in lane_totals.items():
        late = n - _in_time(cur, lane, now, lane_sla.get(lane))
        out.breached_by_lane[lane] = late
        out.breached += late
    return out


def _in_time(cur: Any, lane: str, now: datetime, sla_hours: float | None) -> int:
    """Open units of `lane` not past their SLA: due at or after now, or with no due time of their
    own and received within the lane's SLA from the policy (no SLA for the lane: never late)."""
    due = cur.execute(f"SELECT COUNT(*) FROM unit WHERE {OPEN} AND lane = ? AND sla_due_at >= ?",
                      (lane, ts(now))).fetchone()[0]
    if sla_hours is None:
        no_due = cur.execute(f"SELECT COUNT(*) FROM unit WHERE {OPEN} AND lane = ? AND sla_due_at IS NULL",
                             (lane,)).fetchone()[0]
    else:
        no_due = cur.execute(f"SELECT COUNT(*) FROM unit WHERE {OPEN} AND lane = ? AND sla_due_at IS NULL "
                             "AND received_at >= ?", (lane, ts(now - timedelta(hours=sla_hours)))).fetchone()[0]
    return int(due) + int(no_due)


def parse_ts(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return as_utc(value)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)
