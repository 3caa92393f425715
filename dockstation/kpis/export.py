"""`dockstation export kpis`: this bench's KPI stack since a date, as CSV or JSON.

The figures come from the bench's own event table through the same fold HQ's figures are held
to (`kpi_report`), so a bench and head office agree on what a number means. Events are streamed
from SQLite (one cursor, a few fields kept per unit), not loaded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import IO

from dockstation.kpis.config import KpisConfig
from dockstation.kpis.render import to_json, write_csv
from dockstation.kpis.report import EventRow, KpiReport, ReportOptions, kpi_report
from dockstation.store import Store
from dockstation.types import as_utc, utcnow

KINDS = ("unit_received", "unit_graded", "unit_disposed", "unit_voided", "exception_recorded",
         "exception_resolved")
FORMATS = ("csv", "json")


def bench_events(store: Store, until: datetime) -> Iterator[EventRow]:
    """The KPI-relevant events of this store up to `until`, streamed."""
    conn = store.raw_connection()
    try:
        marks = ",".join("?" * len(KINDS))
        cur = conn.execute(
            f"SELECT station_id, seq, kind, at, lpn, payload FROM event WHERE kind IN ({marks}) AND at < ?",
            (*KINDS, as_utc(until).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")))
        for station, seq, kind, at, lpn, payload in cur:
            yield EventRow(station, seq, kind, datetime.fromisoformat(at).replace(tzinfo=UTC), lpn,
                           json.loads(payload) if payload else {})
    finally:
        conn.close()


def since_start(since: date | datetime | str | None, now: datetime) -> datetime:
    """A date means its midnight UTC; none means Monday 00:00 UTC of this week."""
    if since is None:
        day = as_utc(now).replace(hour=0, minute=0, second=0, microsecond=0)
        return day - timedelta(days=day.weekday())
    if isinstance(since, str):
        since = datetime.fromisoformat(since) if "T" in since or " " in since else date.fromisoformat(since)
    if isinstance(since, datetime):
        return as_utc(since)
    return datetime(since.year, since.month, since.day, tzinfo=UTC)


def bench_report(store: Store, since: date | datetime | str | None = None, *, now: datetime | None = None,
                 cfg: KpisConfig | None = None, site: str = "") -> KpiReport:
    now = as_utc(now or utcnow())
    start = since_start(since, now)
    if start >= now:
        raise ValueError(f"--since {start:%Y-%m-%d} is not in the past")
    options = ReportOptions()
    if cfg is not None:
        options = ReportOptions(cfg.aging.open_days, cfg.report.capital_paths, cfg.report.leakage_flags)
    # Events after `now` cannot exist on this bench, but a clock set back could have made some.
    events = bench_events(store, now + timedelta(microseconds=1))
    sites = _Sites(site)
    return kpi_report(events, start, now, period=f"since {start:%Y-%m-%d}", sites=sites, as_of=now,
                      options=options)


class _Sites(dict[str, str]):
    """Every station of a bench's store is this bench's site."""

    def __init__(self, site: str) -> None:
        super().__init__()
        self.site = site

    def get(self, key: str, default: str | None = None) -> str:  # type: ignore[override]
        return self.site


def export_kpis(store: Store, fmt: str, out: IO[str], since: date | datetime | str | None = None, *,
                now: datetime | None = None, cfg: KpisConfig | None = None, site: str = "") -> KpiReport:
    """Write this bench's KPIs since `since` to `out` as `fmt` ("csv" or "json")."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    report = bench_report(store, since, now=now, cfg=cfg, site=site)
    if fmt == "json":
        out.write(to_json(report) + "\n")
    else:
        write_csv(report, out)
    return report
