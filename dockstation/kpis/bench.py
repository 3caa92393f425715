"""The lead screen's figures, aggregated in SQL over this bench's store.

Built for a bench with 100k open units: one pass over the open units' index gives the counts and
SLA breaches per state and lane; the aging buckets are index range counts (the hour buckets read
only the young units, the day buckets only the old ones); the queue itself is one page of the most
urgent units (the table shows counts for the rest); and everything about dispositions comes from
the `event` table through its (kind, at) index, so it costs what this week did, not all history.
The (state, lane, received_at, sla_due_at) index `ix_unit_queue` makes all of it index-only.

Timestamps are compared as the store writes them (naive UTC text, microseconds always present),
so parameters go through `_ts`, never through sqlite3's own datetime adapter.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from dockstation.kpis.config import KpisConfig
from dockstation.kpis.stats import bucket_labels, dec, percentile
from dockstation.store import Store
from dockstation.types import as_utc


def _ts(at: datetime) -> str:
    return as_utc(at).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def _dt(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return as_utc(value)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


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


def starts(now: datetime, tz: tzinfo | None) -> tuple[datetime, datetime]:
    """Start of today and of this week (Monday) in the bench's time zone, as UTC."""
    local = as_utc(now).astimezone(tz) if tz else as_utc(now).astimezone()
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    week = day - timedelta(days=day.weekday())
    return day.astimezone(UTC), week.astimezone(UTC)


# The first real disposition of each unit in a window (a policy hold in quarantine is a decision
# but not a disposition: the unit is still waiting). Later overrides and redispositions are not a
# second disposal for cycle time, mix or throughput. Bounded by what the bench disposed this week,
# not by its backlog, so the rows come back (hours ago, cycle hours, path, value) and are summed
# with the same percentile as HQ's. The hold test reads the payload as the bench writes it
# (types.dumps: compact, so `"path":"quarantine"` cannot occur inside another string value).
_NOT_HOLD = "instr({a}.payload, '\"path\":\"quarantine\"') = 0"
_FIRST = f"""
SELECT (julianday(:now) - julianday(e.at)) * 24.0, (julianday(e.at) - julianday(u.received_at)) * 24.0,
       COALESCE(u.disposition, '?'), COALESCE(u.recovery_value, '0')
FROM event e JOIN unit u ON u.lpn = e.lpn
WHERE e.kind = 'unit_disposed' AND e.at >= :since AND e.at <= :now AND e.lpn IS NOT NULL
  AND {_NOT_HOLD.format(a="e")}
  AND NOT EXISTS (SELECT 1 FROM event p WHERE p.lpn = e.lpn AND p.kind = 'unit_disposed'
                  AND (p.at < e.at OR (p.at = e.at AND p.seq < e.seq)) AND {_NOT_HOLD.format(a="p")})
"""

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


MAX_TERMS = 500  # scalar subqueries per statement (SQLite allows 2000 result columns)


def _range_counts(conn: Any, pairs: list[tuple[str, str]], n_hours: int, n_days: int,
                  params: dict[str, Any]) -> list[tuple[list[int], list[int]]]:
    """Per (state, lane): units in hour buckets 0..k-1 (the last is the rest) and in day buckets
    1..k (the first is the rest). :h{i} / :d{i} are the receipt times at each edge (now − edge):
    age ≤ edge ⇔ received_at ≥ now − edge, so a unit exactly at an edge is in the younger bucket."""
    terms: list[str] = []
    for j, (state, lane) in enumerate(pairs):
        params[f"s{j}"], params[f"l{j}"] = state, lane
        base = f"SELECT COUNT(*) FROM unit WHERE state = :s{j} AND lane = :l{j} AND "
        terms += [f"({base}received_at >= :h{i}{f' AND received_at < :h{i - 1}' if i else ''})"
                  for i in range(n_hours)]
        terms += [f"({base}received_at >= :d{i} AND received_at < :d{i - 1})" for i in range(1, n_days)]
        if n_days:
            terms.append(f"({base}received_at < :d{n_days - 1})")
    values: list[int] = []
    for at in range(0, len(terms), MAX_TERMS):
        values += list(conn.execute(text("SELECT " + ", ".join(terms[at:at + MAX_TERMS])), params).one())
    per = n_hours + n_days
    rows = [[int(v) for v in values[j * per:(j + 1) * per]] for j in range(len(pairs))]
    return [(row[:n_hours], row[n_hours:]) for row in rows]


def lead_snapshot(store: Store, cfg: KpisConfig, *, now: datetime, lane_sla: Mapping[str, float] | None = None,
                  names: Mapping[str, str] | None = None, tz: tzinfo | None = None,
                  page_rows: int | None = None) -> LeadSnapshot:
    """Everything the lead screen shows, in one read transaction (a consistent picture)."""
    t0 = time.perf_counter()
    now = as_utc(now)
    day, week = starts(now, tz)
    lane_sla = dict(lane_sla or {})
    qe, de = list(cfg.aging.queue_hours), list(cfg.aging.open_days)
    snap = LeadSnapshot(now=now, day_start=day, week_start=week, queue_edges=qe,
                        queue_labels=bucket_labels(qe, "h"), open_labels=bucket_labels(de, "d"))
    p: dict[str, Any] = {"now": _ts(now), "day": _ts(day), "week": _ts(week)}
    for i, hours in enumerate(qe):
        p[f"h{i}"] = _ts(now - timedelta(hours=hours))
    for i, days in enumerate(de):
        p[f"d{i}"] = _ts(now - timedelta(days=days))
    # A unit with no due time of its own falls back to its lane's SLA from the policy.
    lane_cases = []
    for i, (lane, hours) in enumerate(sorted(lane_sla.items())):
        p[f"ln{i}"], p[f"lc{i}"] = lane, _ts(now - timedelta(hours=hours))
        lane_cases.append(f"WHEN :ln{i} THEN received_at < :lc{i}")
    fallback = f"(CASE lane {' '.join(lane_cases)} ELSE 0 END)" if lane_cases else "0"
    breach = f"COALESCE(sla_due_at < :now, {fallback})"
    open_where = "state NOT IN ('disposed', 'voided')"

    with store.read() as s:
        conn = s.connection()
        # One pass over the open units (index only): counts and breaches per state and lane ...
        rows = conn.execute(text(
            f"SELECT state, lane, COUNT(*), SUM({breach}) FROM unit WHERE {open_where} GROUP BY state, lane"),
            p).all()
        # ... then the aging buckets as index range counts, each reading only the rows in its range
        # (young units for the hour buckets, old ones for the day buckets).
        ranges = _range_counts(conn, [(r[0], r[1]) for r in rows], len(qe), len(de), p)
        snap.open_aging = dict.fromkeys(snap.open_labels, 0)
        for (state, lane, n, breached), (hours, days) in zip(rows, ranges, strict=True):
            snap.open_units += n
            snap.breached += int(breached or 0)
            snap.by_state_lane[(state, lane)] = n
            lane_counts = snap.queue_buckets.setdefault(lane, [0] * (len(qe) + 1))
            for i, k in enumerate([*hours, n - sum(hours)]):
                lane_counts[i] += k
            snap.breached_by_lane[lane] = snap.breached_by_lane.get(lane, 0) + int(breached or 0)
            for label, k in zip(snap.open_labels, [n - sum(days), *days], strict=True):
                snap.open_aging[label] += k
        snap.lane_sla = {lane: lane_sla.get(lane) for lane in sorted(set(snap.queue_buckets) | set(lane_sla))}

        limit = page_rows or cfg.lead.page_rows
        page = conn.execute(text(_PAGE.format(breach=breach)), {**p, "lim": limit}).all()
        if len(page) < limit:
            page += conn.execute(text(_PAGE_NO_DUE.format(breach=breach)), {**p, "lim": limit - len(page)}).all()
        for r in page:
            received = _dt(r[7]) or now
            snap.queue.append(QueueRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], received, _dt(r[8]),
                                       (now - received).total_seconds() / 3600, bool(r[9])))

        snap.exceptions_open = conn.execute(text("SELECT COUNT(*) FROM scan_exception WHERE state = 'open'")).scalar_one()
        for r in conn.execute(text(
                "SELECT id, kind, code, at, operator, detail, rma_id, value FROM scan_exception "
                "WHERE state = 'open' ORDER BY at, id LIMIT :lim"), {"lim": cfg.lead.exception_rows}):
            at = _dt(r[3]) or now
            snap.exceptions.append(ExceptionRow(r[0], r[1], r[2], at, r[4], r[5], r[6],
                                                None if r[7] is None else dec(r[7]),
                                                (now - at).total_seconds() / 3600))

        snap.operators = _operators(conn, p, now, names or {})
        hours = cfg.lead.sparkline_hours
        since = min(week, now - timedelta(hours=hours))
        first = conn.execute(text(_FIRST), {**p, "since": _ts(since)}).all()
    _dispositions(snap, first, hours)
    snap.elapsed_ms = (time.perf_counter() - t0) * 1000
    return snap


def _cycle(hours: list[float]) -> Cycle:
    if not hours:
        return Cycle(0, None, None)
    p50, p90 = percentile(hours, 50), percentile(hours, 90)
    return Cycle(len(hours), round(p50, 2), round(p90, 2))  # type: ignore[arg-type]


def _dispositions(snap: LeadSnapshot, first: Sequence[Any], spark_hours: int) -> None:
    """Cycle time today / this week, the mix and the sparkline from the first dispositions
    (rows of hours ago, cycle hours, path, recovery value)."""
    to_day = (snap.now - snap.day_start).total_seconds() / 3600
    to_week = (snap.now - snap.week_start).total_seconds() / 3600
    spark = [0] * spark_hours
    cyc_day: list[float] = []
    cyc_week: list[float] = []
    mix: dict[str, list[Any]] = {}
    for ago, cycle, path, value in first:
        # julianday differences carry ~1e-9 h of float noise: an event exactly 2 h ago is 2 h ago.
        ago, cycle = round(ago, 6), None if cycle is None else round(cycle, 6)
        if 0 <= ago < spark_hours:
            spark[spark_hours - 1 - int(ago)] += 1
        if ago > to_week:
            continue
        today = ago <= to_day
        m = mix.setdefault(path, [0, Decimal(0), 0, Decimal(0)])
        v = dec(value)
        m[2] += 1
        m[3] += v
        if cycle is not None:
            cyc_week.append(cycle)
        if today:
            m[0] += 1
            m[1] += v
            if cycle is not None:
                cyc_day.append(cycle)
    snap.cycle_week, snap.cycle_today = _cycle(cyc_week), _cycle(cyc_day)
    snap.mix = [MixRow(path, *m) for path, m in sorted(mix.items(), key=lambda kv: (-kv[1][2], kv[0]))]
    snap.sparkline = spark


def _operators(conn: Any, params: dict[str, Any], now: datetime, names: Mapping[str, str]) -> list[OperatorRow]:
    acc: dict[str, dict[str, Any]] = {}
    for op, kind, n, first, last in conn.execute(text(_OPERATORS), params):
        a = acc.setdefault(op, {"unit_received": 0, "unit_graded": 0, "unit_disposed": 0,
                                "first": _dt(first), "last": _dt(last)})
        a[kind] = n
        a["first"] = min(a["first"], _dt(first))
        a["last"] = max(a["last"], _dt(last))
    out = []
    for op, a in acc.items():
        # Rate over the operator's span today (first to last action), never under an hour, so one
        # early scan does not read as 60 units an hour.
        hours = max((a["last"] - a["first"]).total_seconds() / 3600, 1.0)
        total = a["unit_received"] + a["unit_graded"] + a["unit_disposed"]
        out.append(OperatorRow(op, names.get(op, op), a["unit_received"], a["unit_graded"], a["unit_disposed"],
                               round(hours, 2), round(total / hours, 1)))
    return sorted(out, key=lambda o: (-o.per_hour, o.badge))
