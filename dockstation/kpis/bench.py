"""The lead screen's figures over this bench's store, in one read transaction.

Built for a bench with 100k open units (issue 8: a refresh within 100 ms):
- the open units' counts, aging buckets and SLA breaches are index range counts
  (`lead_queue.open_units`): no expression is evaluated per unit;
- the queue itself is one page of the most urgent units, walking the partial index of open
  units ix_unit_open_due; the table shows counts for the rest;
- operators' actions today are read from the covering index ix_event_kind_at_op;
- cycle time, mix and throughput come from each unit's first disposition in the window
  (`lead_first`); with a `LeadCache` (the lead screen keeps one) a refresh reads only what the
  events appended since the last one changed.

Timestamps are compared as the store writes them (naive UTC text, microseconds always present),
so parameters go through `ts`, never through sqlite3's own datetime adapter. The queries run on
the session's own sqlite3 connection (same transaction, no SQL compilation per refresh).
"""


from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from dockstation.kpis.config import KpisConfig
from dockstation.kpis.lead_first import FirstDispositions, FirstRow, first_dispositions
from dockstation.kpis.lead_queue import open_units
from dockstation.kpis.lead_queue import parse_ts as _dt
from dockstation.kpis.lead_queue import ts as _ts
from dockstation.kpis.stats import bucket_labels, dec, rank
from dockstation.store import Store
from dockstation.types import as_utc


@dataclass(frozen=True)
class QueueRow:
    lpn: str
    rma_id: str
    state: str
    lane: str
    category: str
    sku: str
    description: str
    received_at: datetime
    sla_due_at: datetime | None
    age_hours: float
    breached: bool


@dataclass(frozen=True)
class ExceptionRow:
    id: int
    kind: str
    code: str
    at: datetime
    operator: str | None
    detail: str
    rma_id: str | None
    value: Decimal | None
    age_hours: float


@dataclass(frozen=True)
class OperatorRow:
    badge: str
    name: str
    received: int
    graded: int
    disposed: int
    hours: float  # first to last action today, at least 1
    per_hour: float


@dataclass(frozen=True)
class Cycle:
    units: int
    p50_hours: float | None
    p90_hours: float | None


@dataclass(frozen=True)
class MixRow:
    path: str
    units_today: int
    value_today: Decimal
    units_week: int
    value_week: Decimal


@dataclass
class LeadSnapshot:
    now: datetime
    day_start: datetime
    week_start: datetime
    open_units: int = 0
    breached: int = 0
    by_state_lane: dict[tuple[str, str], int] = field(default_factory=dict)
    lane_sla: dict[str, float | None] = field(default_factory=dict)
    queue_labels: list[str] = field(default_factory=list)
    queue_edges: list[float] = field(default_factory=list)
    queue_buckets: dict[str, list[int]] = field(default_factory=dict)  # lane → count per hour bucket
    breached_by_lane: dict[str, int] = field(default_factory=dict)
    open_labels: list[str] = field(default_factory=list)
    open_aging: dict[str, int] = field(default_factory=dict)
    queue: list[QueueRow] = field(default_factory=list)
    exceptions_open: int = 0
    exceptions: list[ExceptionRow] = field(default_factory=list)
    operators: list[OperatorRow] = field(default_factory=list)
    cycle_today: Cycle = Cycle(0, None, None)
    cycle_week: Cycle = Cycle(0, None, None)
    mix: list[MixRow] = field(default_factory=list)
    sparkline: list[int] = field(default_factory=list)  # units disposed per hour, oldest first
    elapsed_ms: float = 0.0

    def bucket_breaches(self, lane: str, index: int) -> bool:
        """Whether units in hour bucket `index` of `lane` are past the lane's SLA."""
        sla = self.lane_sla.get(lane)
        if sla is None or index == 0:
            return False
        return self.queue_edges[index - 1] >= sla



class LeadCache:
    """What a lead screen keeps between refreshes so the next one reads only what changed (the
    first dispositions of the window, see `lead_first`). One per screen; not thread-safe: the
    screen runs one refresh at a time."""

    def __init__(self) -> None:
        self.first = FirstDispositions()


def starts(now: datetime, tz: tzinfo | None) -> tuple[datetime, datetime]:
    """Start of today and of this week (Monday) in the bench's time zone, as UTC."""
    local = as_utc(now).astimezone(tz) if tz else as_utc(now).astimezone()
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    week = day - timedelta(days=day.weekday())
    return day.astimezone(UTC), week.astimezone(UTC)


# Operators' actions today, index-only on ix_event_kind_at_op (kind, at, operator).
_OPERATORS = """
SELECT operator, kind, COUNT(*), MIN(at), MAX(at) FROM event
WHERE kind IN ('unit_received', 'unit_graded', 'unit_disposed') AND at >= :day AND at <= :now
  AND operator IS NOT NULL
GROUP BY operator, kind
"""

# The queue page: the most urgent open units by due time, walking the partial index of open
# units (ix_unit_open_due) and reading only the rows shown; units without a due time come last.
_COLUMNS = "lpn, rma_id, state, lane, category, sku, description, received_at, sla_due_at, {breach}"
_PAGE = (f"SELECT {_COLUMNS} FROM unit WHERE state NOT IN ('disposed', 'voided') AND sla_due_at IS NOT NULL "
         f"ORDER BY sla_due_at, received_at LIMIT :lim")
_PAGE_NO_DUE = (f"SELECT {_COLUMNS} FROM unit WHERE state NOT IN ('disposed', 'voided') AND sla_due_at IS NULL "
                f"ORDER BY received_at LIMIT :lim")


def lead_snapshot(store: Store, cfg: KpisConfig, *, now: datetime, lane_sla: Mapping[str, float] | None = None,
                  names: Mapping[str, str] | None = None, tz: tzinfo | None = None,
                  page_rows: int | None = None, cache: LeadCache | None = None) -> LeadSnapshot:
    """Everything the lead screen shows, in one read transaction (a consistent picture).

    With `cache` (kept by the caller between calls) the first dispositions are brought up to
    date from the new events instead of read whole; the figures are the same either way."""
    t0 = time.perf_counter()
    now = as_utc(now)
    day, week = starts(now, tz)
    lane_sla = dict(lane_sla or {})
    qe, de = list(cfg.aging.queue_hours), list(cfg.aging.open_days)
    snap = LeadSnapshot(now=now, day_start=day, week_start=week, queue_edges=qe,
                        queue_labels=bucket_labels(qe, "h"), open_labels=bucket_labels(de, "d"))
    p: dict[str, Any] = {"now": _ts(now), "day": _ts(day)}
    # A unit with no due time of its own falls back to its lane's SLA from the policy.
    lane_cases = []
    for i, (lane, hours) in enumerate(sorted(lane_sla.items())):
        p[f"ln{i}"], p[f"lc{i}"] = lane, _ts(now - timedelta(hours=hours))
        lane_cases.append(f"WHEN :ln{i} THEN received_at < :lc{i}")
    fallback = f"(CASE lane {' '.join(lane_cases)} ELSE 0 END)" if lane_cases else "0"
    breach = f"COALESCE(sla_due_at < :now, {fallback})"
    hours = cfg.lead.sparkline_hours
    since = _ts(min(week, now - timedelta(hours=hours)))

    with store.read() as s:
        cur = s.connection().connection.driver_connection.cursor()
        try:
            counts = open_units(cur, now, qe, de, lane_sla)
            limit = page_rows or cfg.lead.page_rows
            page = cur.execute(_PAGE.format(breach=breach), {**p, "lim": limit}).fetchall()
            if len(page) < limit:
                page += cur.execute(_PAGE_NO_DUE.format(breach=breach), {**p, "lim": limit - len(page)}).fetchall()
            exceptions_open = cur.execute("SELECT COUNT(*) FROM scan_exception WHERE state = 'open'").fetchone()[0]
            exceptions = cur.execute(
                "SELECT id, kind, code, at, operator, detail, rma_id, value FROM scan_exception "
                "WHERE state = 'open' ORDER BY at, id LIMIT :lim", {"lim": cfg.lead.exception_rows}).fetchall()
            operators = cur.execute(_OPERATORS, p).fetchall()
            julian_now = float(cur.execute("SELECT julianday(:now)", p).fetchone()[0])
            first = (cache.first.update(cur, store.path, since) if cache is not None
                     else first_dispositions(cur, since))
        finally:
            cur.close()

    snap.open_units, snap.breached = counts.total, counts.breached
    snap.by_state_lane, snap.breached_by_lane = counts.by_state_lane, counts.breached_by_lane
    snap.queue_buckets = counts.queue_buckets
    snap.open_aging = dict(zip(snap.open_labels, counts.open_aging, strict=True))
    snap.lane_sla = {lane: lane_sla.get(lane) for lane in sorted(set(snap.queue_buckets) | set(lane_sla))}
    for r in page:
        received = _dt(r[7]) or now
        snap.queue.append(QueueRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], received, _dt(r[8]),
                                   (now - received).total_seconds() / 3600, bool(r[9])))
    snap.exceptions_open = int(exceptions_open)
    for r in exceptions:
        at = _dt(r[3]) or now
        snap.exceptions.append(ExceptionRow(r[0], r[1], r[2], at, r[4], r[5], r[6],
                                            None if r[7] is None else dec(r[7]),
                                            (now - at).total_seconds() / 3600))
    snap.operators = _operators(operators, names or {})
    _dispositions(snap, first, julian_now, _ts(now), hours)
    snap.elapsed_ms = (time.perf_counter() - t0) * 1000
    return snap


def _cycle(hours: list[float]) -> Cycle:
    """P50 / P90 by nearest rank (stats.percentile), sorting once."""
    if not hours:
        return Cycle(0, None, None)
    hours.sort()
    n = len(hours)
    return Cycle(n, round(hours[rank(50, n) - 1], 2), round(hours[rank(90, n) - 1], 2))


def _dispositions(snap: LeadSnapshot, first: Sequence[FirstRow], julian_now: float, now: str,
                  spark_hours: int) -> None:
    """Cycle time today / this week, the mix and the sparkline from the first dispositions."""
    to_day = (snap.now - snap.day_start).total_seconds() / 3600
    to_week = (snap.now - snap.week_start).total_seconds() / 3600
    spark = [0] * spark_hours
    cyc_day: list[float] = []
    cyc_week: list[float] = []
    week: dict[str, list[Decimal]] = {}
    day: dict[str, list[Decimal]] = {}
    for at, julian, cycle, path, value in first:
        if at > now:  # recorded after `now` (a clock ahead): not yet, as of now
            continue
        # julianday differences carry ~1e-9 h of float noise: an event exactly 2 h ago is 2 h ago
        # (the cycle hours were rounded alike when read).
        ago = round((julian_now - julian) * 24.0, 6)
        if 0 <= ago < spark_hours:
            spark[spark_hours - 1 - int(ago)] += 1
        if ago > to_week:
            continue
        if path in week:
            week[path].append(value)
        else:
            week[path] = [value]
        if cycle is not None:
            cyc_week.append(cycle)
        if ago <= to_day:
            if path in day:
                day[path].append(value)
            else:
                day[path] = [value]
            if cycle is not None:
                cyc_day.append(cycle)
    snap.cycle_week, snap.cycle_today = _cycle(cyc_week), _cycle(cyc_day)
    mix = [MixRow(path, len(day.get(path, ())), sum(day.get(path, ()), Decimal(0)), len(values),
                  sum(values, Decimal(0))) for path, values in week.items()]
    snap.mix = sorted(mix, key=lambda m: (-m.units_week, m.path))
    snap.sparkline = spark


def _operators(rows: Sequence[Any], names: Mapping[str, str]) -> list[OperatorRow]:
    acc: dict[str, dict[str, Any]] = {}
    for op, kind, n, first, last in rows:
        a = acc.setdefault(op, {"unit_received": 0, "unit_graded": 0, "unit_disposed": 0,
                                "first": _dt(first), "last": _dt(last)})
        a[kind] = n
        a["first"] = min(a["first"], _dt(first))
        a["last"] = max(a["last"], _dt(last))
    out = []
    for op, a in acc.items():
        # Rate over the operator's span today (first to last action), never under an hour, so one
        # early scan does not read as 60 units an hour.
        span = max((a["last"] - a["first"]).total_seconds() / 3600, 1.0)
        total = a["unit_received"] + a["unit_graded"] + a["unit_disposed"]
        out.append(OperatorRow(op, names.get(op, op), a["unit_received"], a["unit_graded"], a["unit_disposed"],
                               round(span, 2), round(total / span, 1)))
    return sorted(out, key=lambda o: (-o.per_hour, o.badge))
