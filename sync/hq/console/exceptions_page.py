"""The Exceptions page: scans that could not be received, across stations, filtered by kind,
station, age and state (open / resolved), newest first; CSV of what the filter finds.

An exception is an `exception_recorded` event; it is resolved by the same station's
`exception_resolved` with the same payload `id` (a lead matched, quarantined or voided it).
Everything in a row came from a scanner or a manifest: shown as text, written to CSV safely.
"""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import text
from starlette.responses import Response

from dockstation import csv_out
from dockstation.kpis.sql_report import _Dialect, _dt
from dockstation.types import iso, utcnow
from sync.hq.console.auth import ConsoleUser, console_user
from sync.hq.console.web import page, secured
from sync.hq.db import HQDatabase, list_stations

router = APIRouter(include_in_schema=False)
User = Annotated[ConsoleUser, Depends(console_user)]
LIMIT = 500
CSV_LIMIT = 100_000
# age filter: (label, youngest, oldest) in days
AGES = {"": ("any age", None, None), "1d": ("under a day", None, 1), "1-7d": ("1 to 7 days", 1, 7),
        "7-30d": ("7 to 30 days", 7, 30), "30d": ("over 30 days", 30, None)}
STATES = {"open": "open", "resolved": "resolved", "all": "open and resolved"}


def _sql(d: _Dialect, where: list[str], state: str, limit: int) -> str:
    kind, xid = d.j("x", "kind"), d.j("x", "id")
    resolved = f"""
SELECT r.station_id AS station_id, {d.j('r', 'id')} AS xid, MAX(r.seq) AS seq
FROM hq_event r WHERE r.kind = 'exception_resolved' GROUP BY r.station_id, {d.j('r', 'id')}"""
    state_cut = {"open": "AND z.seq IS NULL", "resolved": "AND z.seq IS NOT NULL"}.get(state, "")
    return f"""
SELECT x.station_id, x.seq, x.at, x.operator, x.rma_id, x.payload, {kind} AS xkind, z.seq AS resolved_seq
FROM hq_event x
LEFT JOIN ({resolved}) z ON z.station_id = x.station_id AND z.xid = {xid}
WHERE x.kind = 'exception_recorded' {' '.join('AND ' + w for w in where)} {state_cut}
ORDER BY x.at DESC, x.station_id, x.seq DESC
LIMIT {int(limit)}
"""


def find(db: HQDatabase, *, kind: str = "", station: str = "", age: str = "", state: str = "open",
         limit: int = LIMIT, now: datetime | None = None) -> list[dict[str, Any]]:
    now = now or utcnow()
    d = _Dialect(db.dialect)
    where, params = [], {}
    young, old = AGES.get(age, AGES[""])[1:]
    if young is not None:  # at least `young` days old: received before now - young
        where.append("x.at < :young")
        params["young"] = d.ts(now - timedelta(days=young))
    if old is not None:
        where.append("x.at >= :old")
        params["old"] = d.ts(now - timedelta(days=old))
    if station:
        where.append("x.station_id = :station")
        params["station"] = station
    if kind:
        where.append(f"{d.j('x', 'kind')} = :kind")
        params["kind"] = kind
    with db.read() as conn:
        rows = conn.execute(text(_sql(d, where, state if state in STATES else "open", limit)), params).all()
        resolutions = _resolutions(conn, [(r.station_id, r.resolved_seq) for r in rows if r.resolved_seq is not None])
    out = []
    for r in rows:
        p = r.payload if isinstance(r.payload, dict) else json.loads(r.payload or "{}")
        res = resolutions.get((r.station_id, r.resolved_seq))
        at = _dt(r.at)  # (text on SQLite through a plain query)
        out.append({"station_id": r.station_id, "seq": r.seq, "at": at, "age_days": (now - at).days,
                    "operator": r.operator, "rma_id": r.rma_id, "kind": p.get("kind") or "?", "code": p.get("code"),
                    "detail": p.get("detail"), "value": p.get("value"), "source": p.get("source"), "id": p.get("id"),
                    "resolution": res})
    return out


def _resolutions(conn: Any, keys: list[tuple[str, int]]) -> dict[tuple[str, int], dict[str, Any]]:
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for station, seq in keys:  # at most LIMIT rows, each a primary-key read
        row = conn.execute(text("SELECT at, operator, payload FROM hq_event WHERE station_id = :s AND seq = :q"),
                           {"s": station, "q": seq}).first()
        if row is not None:
            p = row.payload if isinstance(row.payload, dict) else json.loads(row.payload or "{}")
            out[(station, seq)] = {"at": _dt(row.at), "by": row.operator, "action": p.get("action"),
                                   "lpn": p.get("lpn"), "reason": p.get("reason")}
    return out


def kinds(db: HQDatabase) -> list[str]:
    d = _Dialect(db.dialect)
    with db.read() as conn:
        got = conn.execute(text(f"SELECT DISTINCT {d.j('x', 'kind')} FROM hq_event x "
                                f"WHERE x.kind = 'exception_recorded'")).scalars().all()
    return sorted(str(k) for k in got if k)


def _filters(kind: str, station: str, age: str, state: str) -> dict[str, str]:
    return {"kind": kind[:64], "station": station[:16], "age": age if age in AGES else "",
            "state": state if state in STATES else "open"}


@router.get("/exceptions")
async def exceptions(request: Request, user: User, kind: str = "", station: str = "", age: str = "",
                     state: str = "open") -> Response:
    f = _filters(kind, station, age, state)
    db = request.app.state.db

    def load() -> dict[str, Any]:
        return {"rows": find(db, **f, limit=LIMIT + 1), "kinds": kinds(db),
                "stations": [s["station_id"] for s in list_stations(db)]}

    data = await run_in_threadpool(load)
    more = len(data["rows"]) > LIMIT
    return page(request, "exceptions.html", f=f, ages=AGES, states=STATES, rows=data["rows"][:LIMIT], more=more,
                limit=LIMIT, kinds=data["kinds"], stations=data["stations"])


@router.get("/exceptions.csv")
async def exceptions_csv(request: Request, user: User, kind: str = "", station: str = "", age: str = "",
                         state: str = "open") -> Response:
    f = _filters(kind, station, age, state)
    rows = await run_in_threadpool(lambda: find(request.app.state.db, **f, limit=CSV_LIMIT))
    buf = io.StringIO()
    w = csv_out.writer(buf)
    w.writerow(["at", "station_id", "seq", "kind", "code", "detail", "value", "source", "operator", "rma_id",
                "age_days", "state", "resolved_at", "resolved_by", "action", "lpn"])
    for r in rows:
        res = r["resolution"] or {}
        w.writerow([iso(r["at"]), r["station_id"], r["seq"], r["kind"], r["code"], r["detail"], r["value"],
                    r["source"], r["operator"], r["rma_id"], r["age_days"], "resolved" if res else "open",
                    iso(res.get("at")) or "", res.get("by"), res.get("action"), res.get("lpn")])
    return secured(Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": 'attachment; filename="exceptions.csv"'}))
