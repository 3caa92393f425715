"""HQ weekly KPI report: `GET /api/v1/kpis/weekly?week=YYYY-Www` and the function behind it.

`router` (under /api/v1) is included by the HQ app. `weekly_report(db, week)` is also what
`dockstation hq report` prints. The figures are computed in SQL over `hq_event` by
`dockstation.kpis.sql_report` (definitions: docs/kpis.md), per station (with its site) and in
total; every registered station is listed, an idle one with zeros.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from sqlalchemy import select

from dockstation.config import ConfigError, package_config_dir, read_toml, validate
from dockstation.kpis.config import KpisConfig
from dockstation.kpis.render import to_json
from dockstation.kpis.report import KpiReport, ReportOptions
from dockstation.kpis.sql_report import sql_kpi_report
from dockstation.kpis.stats import parse_week
from dockstation.types import utcnow
from sync.hq.db import HQDatabase, HqStation
from sync.hq.deps import Db, Reader
from sync.hq.openapi import errors, refused
from sync.protocol import API


def _week_pattern() -> str:
    """Exactly the ISO weeks of 1970-2199: W01-W52 of every year, and W53 of the years that have one
    (those whose 28 December falls in week 53). What the pattern takes, HQ answers."""
    long_years = "|".join(str(y) for y in range(1970, 2200) if date(y, 12, 28).isocalendar().week == 53)
    return f"^(?:(?:19[7-9][0-9]|2[01][0-9]{{2}})-W(?:0[1-9]|[1-4][0-9]|5[0-2])|(?:{long_years})-W53)$"


WEEK_PATTERN = _week_pattern()
_WEEK = re.compile(WEEK_PATTERN)

# The prefix is the router's own, so the route's template is the whole path (HQ's request log).
router = APIRouter(prefix=API, tags=["head office"])


def report_options(config_dir: Path | None) -> ReportOptions:
    """Aging buckets and definitions from HQ's kpis.toml (its config bundle dir), else defaults."""
    cfg = KpisConfig()
    path = (config_dir if config_dir is not None else package_config_dir()) / "kpis.toml"
    if path.is_file():
        cfg = validate(KpisConfig, [(path, read_toml(path))], "kpis.toml")
    return ReportOptions(cfg.aging.open_days, cfg.report.capital_paths, cfg.report.leakage_flags)


def weekly_report(db: HQDatabase, week: str, *, now: datetime | None = None,
                  options: ReportOptions | None = None) -> KpiReport:
    """The KPI stack of ISO week `week` over every station's events (ValueError for a bad week)."""
    start, end = parse_week(week)
    with db.read() as conn:
        t = HqStation.__table__
        sites = {r.station_id: r.site or "" for r in conn.execute(select(t.c.station_id, t.c.site))}
        return sql_kpi_report(conn, start, end, period=week, sites=sites, as_of=now or utcnow(),
                              options=options or ReportOptions(), stations=sorted(sites), by_site=True)


@router.get("/kpis/weekly", responses={200: {"description": "the week's KPI stack (docs/kpis.md)"},
                                       **errors(400, 401, 403, 503,
                                                e403="a station token: KPIs across stations need a reader token")})
def get_weekly(request: Request, db: Db, _reader: Reader,
               week: Annotated[str, Query(json_schema_extra={"pattern": WEEK_PATTERN},
                                          description="ISO week of 1970-2199, e.g. 2026-W07")]) -> Response:
    """Cycle time P50/P90, right first time, recovery by category and path, aging, margin leakage
    by exception type and working capital released, per station and in total (weeks in UTC).

    Every station's figures: an HQ reader token only (`dockstation hq add-reader NAME`); a station
    token gets 403."""
    if not _WEEK.fullmatch(week):  # the document's pattern, said in words
        raise refused("query", "week", f"no such ISO week {week[:20]!r}: YYYY-Www, a week of 1970-2199 "
                                       "(W53 only in the years that have one)")
    try:
        options = report_options(getattr(request.app.state, "config_dir", None))
    except ConfigError as exc:
        raise HTTPException(503, f"HQ's kpis.toml is invalid: {exc}") from None
    try:
        report = weekly_report(db, week, options=options)
    except ValueError as exc:  # the pattern lets through only real weeks: kept for safety, in the 422 shape
        raise RequestValidationError([{"loc": ("query", "week"), "msg": str(exc), "type": "value_error"}]) from None
    return Response(with_containers(db, report, week, options), media_type="application/json")


def with_containers(db: HQDatabase, report: KpiReport, week: str, options: ReportOptions) -> str:
    """The report's JSON with its `containers` section (sync/hq/containers.py): containers shipped
    (closed) in the week per path with their value, and the working capital their units release."""
    import json

    from sync.hq.containers import week_figures

    start, end = parse_week(week)
    with db.read() as conn:
        figures = week_figures(conn, start, end, options.capital_paths)
    body = json.loads(to_json(report))
    body["containers"] = figures
    return json.dumps(body, indent=2, ensure_ascii=False)
