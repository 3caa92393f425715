"""Signing in to the console: reader tokens only, a session per browser, form tokens (CSRF).

- Sign-in takes a reader token (a station's is refused: benches push, people read). HQ opens a
  session row (`hq_console_session`) and sets a cookie holding the session's random secret (the
  row keeps only its SHA-256): HttpOnly, SameSite=Strict, Path=/, Max-Age the session's lifetime,
  and Secure with the `__Host-` prefix when the request came over TLS (the scheme uvicorn reports,
  which believes X-Forwarded-Proto only from the proxies `hq serve --trust-proxy` names).
- Every request looks the session up in the database, joined to its reader: a session ends when
  it expires (absolute lifetime, idle time), at sign-out, or when the reader's token is revoked or
  rotated (the row keeps the token hash it signed in with). Any HQ worker answers any request.
- Every form that changes something carries the session's form token, and a request whose
  Origin is another site is refused; the sign-in form carries its own (a cookie of its own,
  double-submitted), so nobody can sign a browser in to someone else's session.
- The API under /api/v1 never reads the cookie: it takes bearer tokens only (sync/hq/guard.py).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import and_, delete, select
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from dockstation.types import utcnow
from sync.hq.console.models import HqAudit, HqConsoleSession
from sync.hq.console.web import ConsoleSettings, page, secured
from sync.hq.db import HQDatabase, HqReader, hash_token, token_owner
from sync.hq.guard import CONSOLE_AUTH_KEY, CONSOLE_SIGNED_IN_KEY, CONSOLE_USER_KEY

# In the request's state for the guard's log line: the signed-in reader (its name is logged), the
# reader that just signed in, and why a sign-in or form was refused (never the token).
USER_KEY, SIGNED_IN_KEY, AUTH_KEY = CONSOLE_USER_KEY, CONSOLE_SIGNED_IN_KEY, CONSOLE_AUTH_KEY
SIGNIN_COOKIE = "hq_signin"
SESSIONS = HqConsoleSession.__table__
READERS = HqReader.__table__
AUDIT = HqAudit.__table__
SEEN_EVERY = timedelta(minutes=1)  # seen_at is written at most this often per session

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class ConsoleUser:
    name: str
    scopes: frozenset[str]
    csrf: str
    session_id: str

    @property
    def admin(self) -> bool:
        return "admin" in self.scopes


class SignInRequired(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class Forbidden(Exception):
    """A form without its token, from another site, or an act the reader's scopes do not allow."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def secure(request: Request) -> bool:
    return request.url.scheme == "https"


def cookie_name(request: Request) -> str:
    # __Host-: the browser keeps it only if Secure, Path=/ and no Domain: no subdomain can plant one.
    return "__Host-hq_session" if secure(request) else "hq_session"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()


def settings_of(request: Request) -> ConsoleSettings:
    return request.app.state.console  # type: ignore[no-any-return]


def db_of(request: Request) -> HQDatabase:
    return request.app.state.db  # type: ignore[no-any-return]


def audit(conn: Any, actor: str, action: str, target: str = "", **detail: Any) -> None:
    conn.execute(AUDIT.insert().values(at=utcnow(), actor=actor, action=action, target=target, detail=detail))


# -- who is asking ------------------------------------------------------------------------------
async def console_user(request: Request) -> ConsoleUser:
    """FastAPI dependency of every console page: the signed-in reader, or a redirect to sign in."""
    secret = request.cookies.get(cookie_name(request), "")
    user = await run_in_threadpool(_lookup, db_of(request), settings_of(request), secret) if secret else None
    if user is None:
        query = f"?{request.url.query}" if request.url.query else ""
        raise SignInRequired(request.url.path + query)
    request.scope.setdefault("state", {})[USER_KEY] = user
    return user


def _lookup(db: HQDatabase, settings: ConsoleSettings, secret: str) -> ConsoleUser | None:
    now = utcnow()
    sid = _digest(secret)
    live = and_(READERS.c.name == SESSIONS.c.reader, READERS.c.token_hash == SESSIONS.c.token_hash,
                READERS.c.revoked.is_(False))
    with db.read() as conn:
        row = conn.execute(select(SESSIONS.c.reader, SESSIONS.c.csrf, SESSIONS.c.expires_at, SESSIONS.c.seen_at,
                                  READERS.c.scopes).join(READERS, live).where(SESSIONS.c.id == sid)).first()
    if row is None or row.expires_at <= now or row.seen_at + timedelta(minutes=settings.idle_minutes) <= now:
        return None
    if now - row.seen_at >= SEEN_EVERY:
        with db.write() as conn:
            conn.execute(SESSIONS.update().where(SESSIONS.c.id == sid).values(seen_at=now))
    return ConsoleUser(row.reader, frozenset((row.scopes or "").split()), row.csrf, sid)


async def checked_form(request: Request, user: ConsoleUser | None, *, max_part_size: int = 64 * 1024) -> FormData:
    """The posted form, once its origin and form token are checked (Forbidden otherwise)."""
    _same_origin(request)
    form = await request.form(max_files=1, max_fields=16, max_part_size=max_part_size)
    expected = user.csrf if user is not None else request.cookies.get(SIGNIN_COOKIE, "")
    sent = form.get("csrf")
    if not expected or not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), expected.encode()):
        request.scope.setdefault("state", {})[AUTH_KEY] = "form token missing or wrong"
        raise Forbidden("This form has expired or did not come from this console (its form token is missing or "
                        "wrong). Go back, reload the page and send it again.")
    return form


def _same_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin is None:
        return  # an old browser or a script: the form token decides
    if origin != f"{request.url.scheme}://{request.headers.get('host', '')}":
        request.scope.setdefault("state", {})[AUTH_KEY] = "cross-site form"
        raise Forbidden("This form was sent from another site.")


def require_admin(user: ConsoleUser, what: str) -> None:
    if not user.admin:
        raise Forbidden(f"{what} needs a reader with the admin scope (dockstation hq add-reader NAME --rotate "
                        f"--scope admin); {user.name} reads only.")


def safe_next(value: Any) -> str:
    """Where to go after signing in: a path of this console, never another site."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/kpis"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path.startswith(("/api/", "/sign-")):
        return "/kpis"
    return value


# -- the pages ------------------------------------------------------------------------------------
@router.get("/sign-in")
async def sign_in_page(request: Request, next: str = "/kpis", signed_out: bool = False) -> Response:
    return _sign_in_form(request, safe_next(next), message="You are signed out." if signed_out else "")


def _sign_in_form(request: Request, next_path: str, *, error: str = "", message: str = "",
                  status: int = 200) -> Response:
    token = secrets.token_urlsafe(32)
    response = page(request, "sign_in.html", status=status, csrf=token, next=next_path, error=error, message=message)
    response.set_cookie(SIGNIN_COOKIE, token, max_age=3600, path="/sign-in", httponly=True, samesite="strict",
                        secure=secure(request))
    return response


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    form = await checked_form(request, None, max_part_size=4096)
    token, next_path = str(form.get("token") or "").strip(), safe_next(form.get("next"))
    outcome = await run_in_threadpool(_open_session, db_of(request), settings_of(request), token)
    if isinstance(outcome, str):  # refused: why, in words for the person at the screen
        request.scope.setdefault("state", {})[AUTH_KEY] = outcome.split(":")[0]
        return _sign_in_form(request, next_path, error=outcome, status=403)
    secret, name = outcome
    request.scope.setdefault("state", {})[SIGNED_IN_KEY] = name
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(cookie_name(request), secret, max_age=int(settings_of(request).session_hours * 3600), path="/",
                        httponly=True, samesite="strict", secure=secure(request))
    response.delete_cookie(SIGNIN_COOKIE, path="/sign-in")
    return secured(response)


def _open_session(db: HQDatabase, settings: ConsoleSettings, token: str) -> tuple[str, str] | str:
    if not token:
        return "no token: paste your HQ reader token (dockstation hq add-reader NAME prints it)"
    now = utcnow()
    with db.write() as conn:
        owner = token_owner(conn, token)
        if owner is None:
            return "unknown token: HQ has no reader with it"
        if owner.kind != "reader":
            return ("station token refused: the console is for HQ readers, a station's token only pushes its "
                    "events (dockstation hq add-reader NAME gives a reader token)")
        if owner.revoked:
            return f"revoked token: reader {owner.name}'s token was revoked at HQ"
        # Old sessions are swept here, the only write that happens anyway.
        idle_cut = now - timedelta(minutes=settings.idle_minutes)
        conn.execute(delete(SESSIONS).where((SESSIONS.c.expires_at <= now) | (SESSIONS.c.seen_at <= idle_cut)))
        secret = secrets.token_urlsafe(32)
        conn.execute(SESSIONS.insert().values(
            id=_digest(secret), reader=owner.name, token_hash=hash_token(token), csrf=secrets.token_urlsafe(32),
            created_at=now, seen_at=now, expires_at=now + timedelta(hours=settings.session_hours)))
        audit(conn, owner.name, "sign_in")
    return secret, owner.name


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    user = await console_user(request)
    await checked_form(request, user)

    def end() -> None:
        with db_of(request).write() as conn:
            conn.execute(delete(SESSIONS).where(SESSIONS.c.id == user.session_id))
            audit(conn, user.name, "sign_out")

    await run_in_threadpool(end)
    response = RedirectResponse("/sign-in?signed_out=1", status_code=303)
    response.delete_cookie(cookie_name(request), path="/", secure=secure(request), httponly=True, samesite="strict")
    return secured(response)
