"""The KPI page: the weekly stack for the week picked, in total, per site and per station, a
12-week trend, charts, and every table as CSV (dockstation.csv_out: no cell runs as a formula).

The figures are the API's own (`GET /api/v1/kpis/weekly`, sync/hq/kpis.py) read from the weekly
reports HQ keeps (kpi_cache.py); definitions in docs/kpis.md.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from dockstation import csv_out
from dockstation.kpis.stats import parse_week, week_of
from dockstation.types import utcnow
from sync.hq.console import charts
from sync.hq.console.auth import ConsoleUser, checked_form, console_user
from sync.hq.console.kpi_cache import CachedWeek, compute, weeks_for_page
from sync.hq.console.web import page, secured
from sync.hq.kpis import WEEK_PATTERN

router = APIRouter(include_in_schema=False)
User = Annotated[ConsoleUser, Depends(console_user)]
TREND_WEEKS = 12
TABLES = ("summary", "trend", "recovery", "aging", "leakage", "triggers")
_WEEK = re.compile(WEEK_PATTERN)


def pick_week(value: str | None) -> str:
    if not value:
        return week_of(utcnow())
    if not _WEEK.fullmatch(value):
        raise HTTPException(400, f"no such ISO week {value[:20]!r}: YYYY-Www, e.g. 2026-W07")
    return value


def shift(week: str, weeks: int) -> str:
    return week_of(parse_week(week)[0] + timedelta(weeks=weeks))


def trend_weeks(week: str) -> list[str]:
    return [shift(week, -n) for n in range(TREND_WEEKS - 1, -1, -1)]


def scopes(report: dict[str, Any]) -> list[tuple[str, str]]:
    """(value, label) for the scope picker: total, each site, each station."""
    out = [("", "All stations")]
    out += [(f"site:{g['site']}", f"Site {g['site'] or '(none)'}") for g in report.get("sites", [])]
    out += [(f"station:{g['station_id']}", f"Station {g['station_id']}" + (f" ({g['site']})" if g["site"] else ""))
            for g in report["stations"]]
    return out


def group(report: dict[str, Any] | None, scope: str) -> dict[str, Any] | None:
    if report is None:
        return None
    if scope.startswith("site:"):
        return next((g for g in report.get("sites", []) if g["site"] == scope[5:]), None)
    if scope.startswith("station:"):
        return next((g for g in report["stations"] if g["station_id"] == scope[8:]), None)
    return report["total"]


def _f(value: Any) -> float:
    return float(Decimal(str(value))) if value not in (None, "") else 0.0


def summary_rows(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(kind, group): the total, then each site followed by its stations."""
    rows: list[tuple[str, dict[str, Any]]] = [("total", report["total"])]
    sites = report.get("sites", [])
    for site in sites:
        rows.append(("site", site))
        rows += [("station", g) for g in report["stations"] if g["site"] == site["site"]]
    if not sites:
        rows += [("station", g) for g in report["stations"]]
    return rows


def trend(cached: dict[str, CachedWeek], weeks: list[str], scope: str) -> list[dict[str, Any]]:
    out = []
    for w in weeks:
        g = group(cached[w].report if w in cached else None, scope)
        out.append({"week": w, "ready": g is not None or (w in cached and cached[w].report is not None),
                    "p50": g["cycle_time_hours"]["p50"] if g else None, "p90": g["cycle_time_hours"]["p90"] if g else None,
                    "disposed": g["disposed"] if g else None, "accuracy": g["accuracy"]["rate"] if g else None,
                    "capital": g["capital_released"] if g else None})
    return out


def by_path(g: dict[str, Any]) -> list[tuple[str, float]]:
    paths: dict[str, float] = {}
    for row in g["recovery"]["by_category_path"]:
        paths[row["path"]] = paths.get(row["path"], 0.0) + _f(row["recovery_value"])
    return sorted(paths.items(), key=lambda kv: -kv[1])


def _charts(g: dict[str, Any], rows: list[dict[str, Any]], aging: list[str]) -> dict[str, Any]:
    weeks = [r["week"] for r in rows]
    return {
        "cycle": charts.line_chart(weeks, [("P50", [r["p50"] for r in rows]), ("P90", [r["p90"] for r in rows])],
                                   title="Cycle time, receipt to disposition (hours), 12 weeks",
                                   fmt=lambda v: f"{v:.0f} h"),
        "capital": charts.column_chart(weeks, [None if r["capital"] is None else _f(r["capital"]) for r in rows],
                                       title="Working capital released per week", fmt=lambda v: f"{v:,.0f}"),
        "paths": charts.bar_chart(by_path(g), title="Recovery value by path", fmt=lambda v: f"{v:,.2f}"),
        "aging": charts.bar_chart([(label, float(g["aging"].get(label, 0))) for label in aging],
                                  title="Open units by age", fmt=lambda v: f"{v:.0f}"),
        "leakage": charts.bar_chart([(f"{r['type']} ({r['source']})", _f(r["value"])) for r in g["leakage"]["by_type"]],
                                    title="Margin leakage by type", fmt=lambda v: f"{v:,.2f}"),
    }


def _load(request: Request, week: str) -> tuple[dict[str, CachedWeek], list[str], list[str]]:
    weeks = trend_weeks(week)
    cached, refreshing = weeks_for_page(request.app.state.db, week, weeks, request.app.state.console,
                                        request.app.state.config_dir)
    return cached, weeks, refreshing


@router.get("/")
async def home(user: User) -> Response:
    return secured(RedirectResponse("/kpis", status_code=303))


@router.get("/kpis")
async def kpis(request: Request, user: User, week: str | None = None, scope: str = "") -> Response:
    week = pick_week(week)
    cached, weeks, refreshing = await run_in_threadpool(_load, request, week)
    this = cached[week]
    report = this.report
    assert report is not None
    g = group(report, scope)
    if g is None:  # a site or station this week does not have: the total, said so
        g, missing, scope = report["total"], scope, ""
    else:
        missing = ""
    rows = trend(cached, weeks, scope)
    pending = sum(1 for r in rows if not r["ready"])
    start, end = parse_week(week)
    return page(request, "kpis.html", week=week, scope=scope, scopes=scopes(report), missing_scope=missing,
                g=g, report=report, summary=summary_rows(report), trend=rows, cached=this, pending=pending,
                refreshing=refreshing, charts=_charts(g, rows, report["aging_buckets"]),
                prev_week=shift(week, -1), next_week=shift(week, 1), start=start, end=end - timedelta(seconds=1),
                tables=TABLES)


@router.post("/kpis/recompute")
async def recompute(request: Request, user: User) -> Response:
    form = await checked_form(request, user)
    week, scope = pick_week(str(form.get("week") or "")), str(form.get("scope") or "")
    await run_in_threadpool(compute, request.app.state.db, week, request.app.state.config_dir)
    query = f"week={week}" + (f"&scope={scope}" if scope else "")
    return secured(RedirectResponse(f"/kpis?{query}", status_code=303))


@router.get("/kpis/{table}.csv")
async def kpis_csv(request: Request, user: User, table: str, week: str | None = None, scope: str = "") -> Response:
    if table not in TABLES:
        raise HTTPException(404, f"no KPI table {table[:40]!r}: one of {', '.join(TABLES)}")
    week = pick_week(week)
    cached, weeks, _ = await run_in_threadpool(_load, request, week)
    report = cached[week].report
    assert report is not None
    g = group(report, scope) or report["total"]
    buf = io.StringIO()
    write = csv_out.writer(buf).writerow
    for row in _csv_rows(table, report, g, trend(cached, weeks, scope)):
        write(["" if v is None else v for v in row])
    name = f"kpis-{week}-{table}" + (f"-{re.sub(r'[^A-Za-z0-9_-]+', '_', scope)}" if scope and table != "summary" else "")
    return secured(Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'}))


def _csv_rows(table: str, report: dict[str, Any], g: dict[str, Any], rows: list[dict[str, Any]]) -> list[list[Any]]:
    aging = report["aging_buckets"]
    if table == "summary":
        out: list[list[Any]] = [["level", "site", "station_id", "received", "disposed", "cycle_p50_hours",
                                 "cycle_p90_hours", "right_first_time", "accuracy", "recovery_value", "recovery_rate",
                                 "capital_released", "leakage_total", *[f"open_{a}" for a in aging]]]
        for kind, s in summary_rows(report):
            out.append([kind, s["site"], "" if kind != "station" else s["station_id"], s["received"], s["disposed"],
                        s["cycle_time_hours"]["p50"], s["cycle_time_hours"]["p90"], s["accuracy"]["right_first_time"],
                        s["accuracy"]["rate"], s["recovery"]["value"], s["recovery"]["rate"], s["capital_released"],
                        s["leakage"]["total"], *[s["aging"].get(a, 0) for a in aging]])
        return out
    if table == "trend":
        return [["week", "cycle_p50_hours", "cycle_p90_hours", "disposed", "accuracy", "capital_released"],
                *[[r["week"], r["p50"], r["p90"], r["disposed"], r["accuracy"], r["capital"]] for r in rows]]
    if table == "recovery":
        return [["category", "path", "units", "recovery_value", "unit_price", "rate"],
                *[[r["category"], r["path"], r["units"], r["recovery_value"], r["unit_price"], r["rate"]]
                  for r in g["recovery"]["by_category_path"]]]
    if table == "aging":
        return [["age", "open_units"], *[[a, g["aging"].get(a, 0)] for a in aging]]
    if table == "triggers":  # age trigger firings by id (a report cached before them has none)
        return [["trigger_id", "firings"], *[[k, n] for k, n in (g.get("triggers") or {}).items()]]
    return [["type", "source", "count", "value"],
            *[[r["type"], r["source"], r["count"], r["value"]] for r in g["leakage"]["by_type"]]]

