"""The door of HQ: a pure ASGI layer every HTTP request passes first (sync/hq/app.py adds it).

In this order, before the application (or anyone) reads one byte of a request body:
1. a request id: the load balancer's `X-Request-ID` if it is a plain short token, else a new one;
   sent back in `X-Request-ID` and written in the request's log line;
2. a `Content-Length` over the limit (or not a number) is refused (413/400);
3. a route under /api/v1 needs a bearer token HQ knows: looked up in the database from the headers
   alone, so a bad token gets its 401 while the body is still unsent (a client may wait for it),
   and nobody without a token can make HQ buffer anything. The caller (station or reader) is
   left in the request's state for the routes (sync/hq/deps.py);
4. the body, as the application reads it, is counted: a chunked body (no length to check first)
   is refused with 413 as soon as it passes the limit.
Then one JSON log line per request (sync/hq/logs.py): route template, caller, status, duration.
A console request (a page at /, by session cookie) is logged with its reader's name, never the
cookie; the console's routes check their session themselves, outside /api/v1.

Starlette has a body-limit middleware of its own (1.x), but it answers in plain text and only
once the body is read; this layer must refuse before that and in HQ's JSON, so the few lines
are here.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

import anyio
from fastapi import HTTPException
from sqlalchemy.exc import SQLAlchemyError
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sync.hq.db import HQDatabase, token_owner
from sync.hq.deps import BEARER, CALLER_KEY, Caller, bearer_token
from sync.hq.logs import REQUEST_LOGGER

# Where the console leaves who signed in and why a form was refused (sync/hq/console/auth.py).
CONSOLE_USER_KEY, CONSOLE_SIGNED_IN_KEY, CONSOLE_AUTH_KEY = "hq_console_user", "hq_console_signed_in", "hq_auth"
from sync.protocol import API

log = logging.getLogger("dockstation.hq")
request_log = logging.getLogger(REQUEST_LOGGER)
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Paths without a route template of their own; any other unmatched path is logged as no route
# at all (it is what a caller typed, and may hold anything, a token included).
_PUBLIC = frozenset({"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


class Refused(Exception):
    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None, auth: str = "") -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers, self.auth = status, detail, headers, auth


class HqGuard:
    def __init__(self, app: ASGIApp, *, db: HQDatabase, max_body: int) -> None:
        self.app, self.db, self.max_body = app, db, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        headers = Headers(scope=scope)
        offered = headers.get("x-request-id", "")
        request_id = offered if _REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
        seen: dict[str, Any] = {"status": None, "auth": ""}

        async def send_marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
                seen["busy"] = any(k.lower() == b"retry-after" for k, _ in message.get("headers", []))
                message = {**message, "headers": [*message.get("headers", []),
                                                   (b"x-request-id", request_id.encode())]}
            await send(message)

        try:
            try:
                self._check_length(headers)
                if scope["path"].startswith(f"{API}/"):
                    await self._authenticate(scope, headers)
            except Refused as refused:
                seen["auth"] = refused.auth
                response = JSONResponse({"detail": refused.detail}, status_code=refused.status, headers=refused.headers)
                await response(scope, receive, send_marked)
                return
            await self.app(scope, self._counted(receive), send_marked)
        except Exception:
            seen["status"] = seen["status"] or 500
            log.exception("unhandled error in request %s", request_id, extra={"hq": {"request_id": request_id}})
            raise
        finally:
            self._log(scope, request_id, seen, began)

    def _check_length(self, headers: Headers) -> None:
        length = headers.get("content-length")
        if length is None:
            return
        if not length.isdigit():
            raise Refused(400, "Content-Length is not a number")
        if int(length) > self.max_body:
            raise Refused(413, f"request body larger than {self.max_body} bytes")

    async def _authenticate(self, scope: Scope, headers: Headers) -> None:
        try:
            token = bearer_token(headers.get("authorization"))
        except HTTPException as exc:
            raise Refused(401, str(exc.detail), BEARER, auth="no token") from None
        try:
            owner = await anyio.to_thread.run_sync(self._owner, token)
        except SQLAlchemyError as exc:
            log.error("token lookup failed, database unreachable: %s", type(exc).__name__)
            raise Refused(503, "HQ's database does not answer: try again later") from None
        if owner is None:
            raise Refused(401, "unknown token: HQ has no station or reader with it", BEARER, auth="unknown token")
        if owner.revoked:
            raise Refused(401, f"the token of {owner.kind} {owner.name} was revoked at HQ", BEARER,
                          auth=f"revoked {owner.kind} {owner.name}")
        scope.setdefault("state", {})[CALLER_KEY] = Caller(owner.kind, owner.name)

    def _owner(self, token: str) -> Any:
        with self.db.read() as conn:
            return token_owner(conn, token)

    def _counted(self, receive: Receive) -> Receive:
        size = 0

        async def counted() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > self.max_body:
                    raise BodyTooLarge(self.max_body)
            return message

        return counted

    def _log(self, scope: Scope, request_id: str, seen: dict[str, Any], began: float) -> None:
        route = getattr(scope.get("route"), "path", None) or (scope["path"] if scope["path"] in _PUBLIC else None)
        if route is None and scope["path"].startswith("/static/"):
            route = "/static/{path}"  # the console's stylesheet
        state = scope.get("state", {})
        caller = state.get(CALLER_KEY)
        # A console request: the reader signed in by session cookie (sync/hq/console/auth.py), by
        # name; or the one that just signed in; and why a sign-in or a form was refused.
        console = getattr(state.get(CONSOLE_USER_KEY), "name", None) or state.get(CONSOLE_SIGNED_IN_KEY)
        if caller is None and console:
            caller = Caller("reader", str(console))
        seen["auth"] = seen["auth"] or state.get(CONSOLE_AUTH_KEY, "")
        status = seen["status"]
        fields: dict[str, Any] = {
            "request_id": request_id, "method": scope["method"], "route": route,
            "station": caller.name if caller is not None and not caller.is_reader else None,
            "status": status, "duration_ms": round((time.perf_counter() - began) * 1000, 2),
            "client": (scope.get("client") or ("", 0))[0],
        }
        if caller is not None and caller.is_reader:
            fields["reader"] = caller.name
        if seen["auth"]:
            fields["auth"] = seen["auth"]
        # A 503 with Retry-After is back-pressure (sync/hq/backpressure.py): HQ working as meant.
        level = (logging.WARNING if seen.get("busy") else logging.ERROR) if status is None or status >= 500 \
            else logging.INFO
        request_log.log(level, "%s %s %s", scope["method"], route or "(no route)", status, extra={"hq": fields})
