"""FastAPI dependencies shared by every HQ router (sync routes here, the KPI routes in hq_kpis).

Who may call what (docs/sync.md, "Tokens"):

| token | may |
| --- | --- |
| station (`hq add-station ID`) | push its own events about its own units, pull manifest and config, read its own units |
| reader (`hq add-reader NAME`) | read head-office data across stations: weekly KPIs, any unit |

- `get_db`: the HQDatabase of the app (`Depends(get_db)`).
- `require_caller` (`Caller`): whoever the bearer token belongs to, station or reader. The token
  is checked by sync/hq/guard.py from the headers, before any body is read (401 without a token,
  with one HQ does not know, or with a revoked one), looked up in the database on every request,
  so a revoked or rotated token stops working at once on every worker; the guard leaves the
  caller in the request's state, read here.
- `require_station` (`Station`): the station of a station token (403 for a reader token). The
  station is always taken from the token, never from a request body.
- `require_reader` (`Reader`): a reader token (403 for a station token, saying what it needs).
- `require_protocol` / `check_protocol_header`: the `X-Dockstation-Protocol` header, required on
  the station routes, checked when present elsewhere. Exactly a version HQ speaks (`1`), as the
  OpenAPI document says (sync/hq/openapi.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sync.hq.db import HQDatabase
from sync.protocol import SUPPORTED, ProtocolError, check_protocol

BEARER = {"WWW-Authenticate": "Bearer"}
CALLER_KEY = "hq_caller"  # where sync/hq/guard.py leaves the caller in the request's state
ADD_READER = "dockstation hq add-reader NAME"


@dataclass(frozen=True)
class Caller:
    kind: str  # "station" | "reader"
    name: str  # station id or reader name

    @property
    def is_reader(self) -> bool:
        return self.kind == "reader"

    def describe(self) -> str:
        return f"reader {self.name}" if self.is_reader else f"station {self.name}"


# The dependencies that do no I/O are `async def`: FastAPI runs a plain `def` one in its thread
# pool, a hop between threads per dependency per request (measured on the push path: ~0.4 ms of
# the ~4 ms of HQ CPU a request costs besides its events, most of it handing the GIL over).
async def get_db(request: Request) -> HQDatabase:
    return request.app.state.db  # type: ignore[no-any-return]


def bearer_token(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(401, "a token is required: Authorization: Bearer <token>", headers=BEARER)
    return token.strip()


# Only so the OpenAPI document says "bearer token" (securitySchemes); the check is the guard's.
_bearer_doc = HTTPBearer(auto_error=False, description="a station token (`dockstation hq add-station ID`) or an HQ "
                                                       "reader token (`dockstation hq add-reader NAME`)")


async def require_caller(request: Request,
                         _doc: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer_doc)] = None) -> Caller:
    caller = request.scope.get("state", {}).get(CALLER_KEY)
    if not isinstance(caller, Caller):  # a route outside the guarded prefix asked for a token
        raise HTTPException(401, "a token is required: Authorization: Bearer <token>", headers=BEARER)
    return caller


async def require_station(caller: Annotated[Caller, Depends(require_caller)]) -> str:
    if caller.is_reader:
        raise HTTPException(403, f"this route is for benches: it needs a station token, and {caller.describe()}'s "
                                 "token only reads head-office data")
    return caller.name


async def require_reader(caller: Annotated[Caller, Depends(require_caller)]) -> Caller:
    if not caller.is_reader:
        raise HTTPException(403, f"this route reads every station's data: it needs an HQ reader token ({ADD_READER}); "
                                 f"the token of {caller.describe()} may push its events and pull manifest and config")
    return caller


_VERSIONS = {str(v): v for v in SUPPORTED}


def _protocol(value: str | None) -> int:
    if value in _VERSIONS:
        return _VERSIONS[value]
    try:  # the reason: missing, unreadable, or a version HQ does not speak
        check_protocol(value)
        raise ProtocolError(f"protocol version must be written as one of {sorted(_VERSIONS)}, not {value!r}")
    except ProtocolError as exc:
        raise HTTPException(400, str(exc)) from None


async def require_protocol(x_dockstation_protocol: Annotated[str | None, Header()] = None) -> int:
    return _protocol(x_dockstation_protocol)


async def check_protocol_header(x_dockstation_protocol: Annotated[str | None, Header()] = None) -> int | None:
    return None if x_dockstation_protocol is None else _protocol(x_dockstation_protocol)


AnyCaller = Annotated[Caller, Depends(require_caller)]
Station = Annotated[str, Depends(require_station)]
Reader = Annotated[Caller, Depends(require_reader)]
Db = Annotated[HQDatabase, Depends(get_db)]
