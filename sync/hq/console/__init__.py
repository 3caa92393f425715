"""HQ's console: server-rendered pages at `/` for HQ reader tokens (docs/hq.md).

| module | pages |
| --- | --- |
| `auth.py` | sign-in, sign-out, sessions, form tokens |
| `kpis_page.py` | `/kpis`: the weekly stack, 12-week trend, charts, CSV of every table |
| `stations_page.py` | `/stations`: last push, acked seq, clock, token state; revoke, rotate |
| `exceptions_page.py` | `/exceptions`: across stations, by kind, station, age |
| `units_page.py` | `/units`: a unit or RMA by LPN, RMA or order id, with its whole history |
| `policy_page.py` | `/policy`: upload a candidate, its simulation on HQ's history, publish it |

The console reads the same database as the API and keeps nothing in the process. Its routes are
not in the OpenAPI document (they answer HTML to a browser); none is under /api/v1, whose guard
takes bearer tokens only, so the session cookie never opens the API.
"""

from __future__ import annotations

import importlib

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import RedirectResponse, Response

from sync.hq.console.auth import Forbidden, SignInRequired
from sync.hq.console.web import HERE, ConsoleSettings, page, secured

PAGES = ("auth", "kpis_page", "stations_page", "exceptions_page", "units_page", "policy_page")


def mount_console(app: FastAPI, settings: ConsoleSettings) -> None:
    app.state.console = settings
    for name in PAGES:
        app.include_router(importlib.import_module(f"{__name__}.{name}").router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        from sync.hq.console.auth import safe_next

        return secured(RedirectResponse(f"/sign-in?next={_quote(safe_next(exc.next_path))}", status_code=303))

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        return page(request, "error.html", status=403, title="Refused", reason=exc.reason,
                    back=request.headers.get("referer", "") if _same_site(request) else "")


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


def _same_site(request: Request) -> bool:
    referer = request.headers.get("referer", "")
    return referer.startswith(f"{request.url.scheme}://{request.headers.get('host', '')}/")
