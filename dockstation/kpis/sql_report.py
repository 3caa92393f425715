"""The weekly KPI stack in SQL over HQ's event table, on SQLite and PostgreSQL.

The database does the work that touches all history: it finds the week's receipts, the units
whose first disposition fell in the week (through the (kind, at) index, then each unit's own
events through the lpn index), the open units' aging buckets (a count per station and bucket)
and the exception leakage (a sum per station and kind). Only one row per unit disposed in the
week comes back, streamed, to feed the same accumulators as the reference fold (`report.py`), so
percentiles, accuracy and flag attribution have one implementation. Nothing is loaded whole.

Works on any table shaped like `hq_event(station_id, seq, kind, at, lpn, payload)`: `at` naive
UTC (text on SQLite, `timestamp` on PostgreSQL), `payload` JSON (text on SQLite, jsonb on PG).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text

from dockstation.kpis.report import HOLD, Builder, KpiReport, ReportOptions, UnitFacts
from dockstation.kpis.stats import dec, parse_week
from dockstation.types import as_utc


class _Dialect:
    def __init__(self, name: str) -> None:
        if name not in ("sqlite", "postgresql"):
            raise ValueError(f"KPI report: unsupported database {name!r}")
        self.pg = name == "postgresql"

    def j(self, alias: str, key: str) -> str:
        """A payload field as text."""
        return f"({alias}.payload ->> '{key}')" if self.pg else f"json_extract({alias}.payload, '$.{key}')"

    def not_hold(self, alias: str) -> str:
        """A disposition that is not a hold in quarantine (a hold is a decision, not a disposition)."""
        return f"COALESCE({self.j(alias, 'path')}, '') <> '{HOLD}'"

    def num(self, alias: str, key: str) -> str:
        """A payload field as a number (exact numeric on PostgreSQL; REAL on SQLite)."""
        if self.pg:
            return f"COALESCE(NULLIF({self.j(alias, key)}, '')::numeric, 0)"
        return f"COALESCE(CAST({self.j(alias, key)} AS REAL), 0)"

    def flags_agg(self, alias: str) -> str:
        """All flag arrays of a unit's events, as one JSON array of arrays."""
        if self.pg:
            return f"jsonb_agg(COALESCE({alias}.payload -> 'risk_flags', {alias}.payload -> 'flags'))"
        return (f"json_group_array(json(COALESCE(json_extract({alias}.payload, '$.risk_flags'), "
                f"json_extract({alias}.payload, '$.flags'))))")

    def ts(self, at: datetime) -> Any:
        naive = as_utc(at).replace(tzinfo=None)
        # SQLite compares the stored text: give it the exact stored format (microseconds always).
        return naive if self.pg else naive.strftime("%Y-%m-%d %H:%M:%S.%f")


def _dt(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return as_utc(value)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def _disposed_sql(d: _Dialect, t: str) -> str:
    earlier = "(p.at < e.at OR (p.at = e.at AND p.seq < e.seq))"
    return f"""
WITH f AS (
  SELECT e.lpn AS lpn, e.station_id AS dstation, e.at AS at, {d.j('e', 'kind')} AS first_kind
  FROM {t} e
  WHERE e.kind = 'unit_disposed' AND e.at >= :start AND e.at < :end AND e.lpn IS NOT NULL
    AND {d.not_hold('e')}
    AND NOT EXISTS (SELECT 1 FROM {t} p WHERE p.lpn = e.lpn AND p.kind = 'unit_disposed'
                    AND {d.not_hold('p')} AND {earlier})
)
SELECT f.lpn, f.dstation, f.at, f.first_kind,
  (SELECT COUNT(*) FROM {t} c WHERE c.lpn = f.lpn AND c.kind = 'unit_disposed') AS decisions,
  (SELECT l.payload FROM {t} l WHERE l.lpn = f.lpn AND l.kind = 'unit_disposed'
     ORDER BY l.at DESC, l.seq DESC LIMIT 1) AS latest,
  (SELECT r.station_id FROM {t} r WHERE r.lpn = f.lpn AND r.kind = 'unit_received'
     ORDER BY r.at DESC, r.seq DESC LIMIT 1) AS rstation,
  (SELECT r.at FROM {t} r WHERE r.lpn = f.lpn AND r.kind = 'unit_received'
     ORDER BY r.at DESC, r.seq DESC LIMIT 1) AS received_at,
  (SELECT r.payload FROM {t} r WHERE r.lpn = f.lpn AND r.kind = 'unit_received'
     ORDER BY r.at DESC, r.seq DESC LIMIT 1) AS receipt,
  (SELECT {d.flags_agg('x')} FROM {t} x WHERE x.lpn = f.lpn
     AND x.kind IN ('unit_received', 'unit_graded', 'unit_disposed')) AS flags
FROM f
"""


def _aging_sql(d: _Dialect, t: str, n_edges: int) -> str:
    buckets = " ".join(f"WHEN r.at >= :c{i} THEN {i}" for i in range(n_edges))
    bucket = f"CASE {buckets} ELSE {n_edges} END" if n_edges else "0"
    return f"""
SELECT r.station_id, {bucket} AS b, COUNT(*) FROM {t} r
WHERE r.kind = 'unit_received' AND r.at < :as_of AND r.lpn IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM {t} x WHERE x.lpn = r.lpn AND x.at < :as_of
                  AND (x.kind = 'unit_voided' OR (x.kind = 'unit_disposed' AND {d.not_hold('x')})))
GROUP BY r.station_id, b
"""


def _exceptions_sql(d: _Dialect, t: str) -> str:
    return f"""
SELECT x.station_id, COALESCE({d.j('x', 'kind')}, '?'), COUNT(*), SUM({d.num('x', 'value')})
FROM {t} x
LEFT JOIN (SELECT DISTINCT m.station_id AS station_id, {d.j('m', 'id')} AS xid FROM {t} m
           WHERE m.kind = 'exception_resolved' AND {d.j('m', 'action')} = 'matched') mt
  ON mt.station_id = x.station_id AND mt.xid = {d.j('x', 'id')}
WHERE x.kind = 'exception_recorded' AND x.at >= :start AND x.at < :end AND mt.xid IS NULL
GROUP BY x.station_id, 2
"""


def _triggers_sql(d: _Dialect, t: str) -> str:
    return (f"SELECT station_id, COALESCE({d.j('e', 'trigger_id')}, '?'), COUNT(*) FROM {t} e "
            f"WHERE e.kind = 'age_trigger_fired' AND e.at >= :start AND e.at < :end GROUP BY station_id, 2")


def _received_sql(t: str) -> str:
    return (f"SELECT station_id, COUNT(*) FROM {t} WHERE kind = 'unit_received' "
            f"AND at >= :start AND at < :end GROUP BY station_id")


def sql_kpi_report(conn: Connection, start: datetime, end: datetime, *, period: str = "",
                   sites: Mapping[str, str] | None = None, as_of: datetime | None = None,
                   options: ReportOptions = ReportOptions(), table: str = "hq_event",
                   stations: list[str] | None = None, by_site: bool = False) -> KpiReport:
    """The KPI stack for [start, end) from `table`; same figures as `report.kpi_report`."""
    d = _Dialect(conn.dialect.name)
    start, end = as_utc(start), as_utc(end)
    as_of = min(end, as_utc(as_of)) if as_of else end
    params = {"start": d.ts(start), "end": d.ts(end), "as_of": d.ts(as_of)}
    build = Builder(sites if sites is not None else {}, options, by_site=by_site)
    for station in stations or []:
        build.groups(station)  # every registered station is listed, even an idle one

    for station, n in conn.execute(text(_received_sql(table)), params):
        build.received(station, int(n))

    result = conn.execution_options(stream_results=True, yield_per=2000).execute(
        text(_disposed_sql(d, table)), params)
    for lpn, dstation, first_at, first_kind, decisions, latest, rstation, received_at, receipt, flags in result:
        latest, receipt = _json(latest) or {}, _json(receipt) or {}
        found: set[str] = set()
        for arr in _json(flags) or []:
            if isinstance(arr, list):
                found.update(str(f) for f in arr)
        price = latest.get("unit_price")
        if price in (None, ""):
            price = receipt.get("unit_price")
        build.disposed(UnitFacts(
            station=rstation or dstation, first_at=_dt(first_at), first_kind=first_kind or "policy",
            decisions=int(decisions), received_at=_dt(received_at),
            category=str(latest.get("category") or receipt.get("category") or ""),
            path=str(latest.get("path") or ""), recovery=dec(latest.get("recovery_value")),
            unit_price=None if price in (None, "") else dec(price), flags=found,
            decay=dec(latest.get("decay")),
        ))

    edges = list(options.open_days)
    cut = {f"c{i}": d.ts(as_of - timedelta(days=days)) for i, days in enumerate(edges)}
    for station, b, n in conn.execute(text(_aging_sql(d, table, len(edges))), {**params, **cut}):
        build.open_bucket(station, build.labels[int(b)], int(n))

    for station, kind, n, value in conn.execute(text(_exceptions_sql(d, table)), params):
        build.leak(station, str(kind), "exception", _money(value), int(n))

    for station, trigger, n in conn.execute(text(_triggers_sql(d, table)), params):
        build.fired(station, str(trigger), int(n))

    return build.finish(period or f"{start.isoformat()}/{end.isoformat()}", start, end, as_of)


def _money(value: Any) -> Decimal:
    return Decimal(0) if value is None else dec(value)


def sql_weekly_report(conn: Connection, week: str, **kw: Any) -> KpiReport:
    start, end = parse_week(week)
    return sql_kpi_report(conn, start, end, period=week, **kw)
