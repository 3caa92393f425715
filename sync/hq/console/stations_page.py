"""The Stations page: every bench's last push, acked seq, clock and token state, open conflicts;
revoking or rotating a station's token (admin readers, after a confirmation page); the readers;
the console's recent acts (audit).

A rotated token is shown once, on the page that answers the confirmed POST (never in a URL, never
cached: Cache-Control no-store), like `dockstation hq add-station --rotate` prints it once.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from starlette.responses import RedirectResponse, Response

from sync.client import SKEW_WARN_S
from sync.hq.console.auth import AUDIT, ConsoleUser, audit, checked_form, console_user, require_admin
from sync.hq.console.web import page, secured
from sync.hq.db import HQDatabase, add_station, list_readers, list_stations

router = APIRouter(include_in_schema=False)
User = Annotated[ConsoleUser, Depends(console_user)]
STATION_ID = re.compile(r"[A-Z0-9]{1,8}")
ACTS = {"revoke": "Revoke the token of", "rotate": "Give a new token to"}


def _overview(db: HQDatabase) -> dict[str, Any]:
    with db.read() as conn:
        acts = conn.execute(select(AUDIT).order_by(AUDIT.c.id.desc()).limit(25)).all()
    return {"stations": list_stations(db), "readers": list_readers(db), "acts": [dict(a._mapping) for a in acts]}


def _station(station_id: str) -> str:
    if not STATION_ID.fullmatch(station_id):
        raise HTTPException(404, "no such station")
    return station_id


@router.get("/stations")
async def stations(request: Request, user: User, done: str = "", station: str = "") -> Response:
    data = await run_in_threadpool(_overview, request.app.state.db)
    message = ""
    if done == "revoked" and STATION_ID.fullmatch(station):
        message = f"Station {station}'s token is revoked: its pushes are refused from now on (401). Its events stay."
    return page(request, "stations.html", message=message, skew_warn=SKEW_WARN_S, **data)


@router.get("/stations/{station_id}/{act}")
async def confirm(request: Request, user: User, station_id: str, act: str) -> Response:
    if act not in ACTS:
        raise HTTPException(404, "no such page")
    require_admin(user, "Revoking or rotating a station's token")
    station_id = _station(station_id)
    found = [s for s in await run_in_threadpool(list_stations, request.app.state.db) if s["station_id"] == station_id]
    if not found:
        raise HTTPException(404, f"no station {station_id} at HQ")
    return page(request, "station_confirm.html", act=act, station=found[0])


@router.post("/stations/{station_id}/{act}")
async def act_on(request: Request, user: User, station_id: str, act: str) -> Response:
    if act not in ACTS:
        raise HTTPException(404, "no such page")
    await checked_form(request, user)
    require_admin(user, "Revoking or rotating a station's token")
    station_id = _station(station_id)
    db: HQDatabase = request.app.state.db

    def run() -> str | None:
        from sync.hq.db import StationExists, revoke_station

        if act == "revoke":
            if not revoke_station(db, station_id):
                return None
            token = ""
        else:
            if not any(s["station_id"] == station_id for s in list_stations(db)):
                return None
            try:
                token = add_station(db, station_id, rotate=True)
            except StationExists:  # (rotate never raises it; kept for the type checker)
                return None
        with db.write() as conn:
            audit(conn, user.name, f"station_{act}d", station_id)
        return token

    token = await run_in_threadpool(run)
    if token is None:
        raise HTTPException(404, f"no station {station_id} at HQ")
    if act == "revoke":
        return secured(RedirectResponse(f"/stations?done=revoked&station={station_id}", status_code=303))
    return page(request, "token_shown.html", station_id=station_id, token=token)
