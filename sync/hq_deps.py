"""FastAPI dependencies shared by every HQ router (sync routes here, the KPI routes in hq_kpis).

- `get_db`: the HQDatabase of the app (`Depends(get_db)`).
- `require_station`: the station of the bearer token (401 without a valid one). The station is
  always taken from the token, never from a request body.
- `require_protocol` / `check_protocol_header`: the `X-Dockstation-Protocol` header, required on
  the station routes, checked when present elsewhere.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from sync.hq_db import HQDatabase, station_for_token
from sync.protocol import ProtocolError, check_protocol

BEARER = {"WWW-Authenticate": "Bearer"}


def get_db(request: Request) -> HQDatabase:
    return request.app.state.db  # type: ignore[no-any-return]


def bearer_token(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(401, "a station token is required: Authorization: Bearer <token>", headers=BEARER)
    return token.strip()


def require_station(db: Annotated[HQDatabase, Depends(get_db)],
                    authorization: Annotated[str | None, Header()] = None) -> str:
    token = bearer_token(authorization)
    with db.read() as conn:
        station = station_for_token(conn, token)
    if station is None:
        raise HTTPException(401, "unknown or revoked station token", headers=BEARER)
    return station


def require_protocol(x_dockstation_protocol: Annotated[str | None, Header()] = None) -> int:
    try:
        return check_protocol(x_dockstation_protocol)
    except ProtocolError as exc:
        raise HTTPException(400, str(exc)) from None


def check_protocol_header(x_dockstation_protocol: Annotated[str | None, Header()] = None) -> int | None:
    return None if x_dockstation_protocol is None else require_protocol(x_dockstation_protocol)


Station = Annotated[str, Depends(require_station)]
Db = Annotated[HQDatabase, Depends(get_db)]
