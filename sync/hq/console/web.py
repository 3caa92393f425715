"""What every console page shares: settings, the template environment, responses with their
security headers, and the filters templates format figures with.

Templates autoescape everything (every `.html`): text from the database (station ids, operator
badges, categories, exception details, a scanned code) is shown as text, never as markup. The only
markup not from a template is the charts' SVG, built with escaping in charts.py.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from dockstation.types import as_utc
from sync.hq.guard import CONSOLE_USER_KEY

HERE = Path(__file__).resolve().parent
ENV_SESSION_HOURS = "DOCKSTATION_HQ_SESSION_HOURS"
ENV_IDLE_MINUTES = "DOCKSTATION_HQ_IDLE_MINUTES"

# No script, style or image from anywhere but HQ itself; nothing may frame the console; forms
# post only back to HQ. The pages need no JavaScript at all.
CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    # same-origin, not no-referrer: with no-referrer a browser sends `Origin: null` on a form post,
    # and the console refuses forms whose Origin is not its own (auth.py).
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    # Pages hold company data, some a token shown once: never in a shared or the browser's cache.
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class ConsoleSettings:
    session_hours: float = 12.0  # a session ends this long after sign-in, whatever happens
    idle_minutes: float = 120.0  # ... or after this long without a request
    kpi_fresh_minutes: float = 10.0  # a recent week's cached figures are recomputed after this
    kpi_settled_hours: float = 6.0  # ... and a week that ended more than two weeks ago after this

    @classmethod
    def from_env(cls) -> ConsoleSettings:
        return cls(session_hours=float(os.environ.get(ENV_SESSION_HOURS, cls.session_hours)),
                   idle_minutes=float(os.environ.get(ENV_IDLE_MINUTES, cls.idle_minutes)))


def _money(value: Any) -> str:
    if value is None or value == "":
        return "–"
    try:
        return f"{Decimal(str(value)):,.2f}"
    except (InvalidOperation, ValueError):
        return str(value)


def _pct(value: Any) -> str:
    return "–" if value is None else f"{float(value) * 100:.1f}%"


def _hours(value: Any) -> str:
    if value is None:
        return "–"
    value = float(value)
    return f"{value:.1f} h" if value < 72 else f"{value / 24:.1f} d"


def _when(value: Any) -> str:
    """UTC, to the minute: head office spans time zones, the bench clocks are UTC too."""
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    return as_utc(value).strftime("%Y-%m-%d %H:%M UTC")


def _ago(value: Any, now: datetime | None = None) -> str:
    if value is None:
        return "never"
    from dockstation.types import utcnow

    seconds = ((now or utcnow()) - as_utc(value)).total_seconds()
    if seconds < 0:
        return "just now"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{math.floor(seconds / size)} {unit} ago"
    return f"{int(seconds)} s ago"


def _skew(value: Any) -> str:
    if value is None:
        return "–"
    value = float(value)
    if abs(value) < 1:
        return "in step"
    word = "ahead" if value > 0 else "behind"
    size = abs(value)
    text = f"{size:.0f} s" if size < 120 else f"{size / 60:.0f} min" if size < 7200 else f"{size / 3600:.1f} h"
    return f"{text} {word}"


def make_env() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(money=_money, pct=_pct, hours=_hours, when=_when, ago=_ago, skew=_skew)
    env.globals["query"] = lambda **kw: urlencode({k: v for k, v in kw.items() if v not in (None, "")})
    return env


ENV = make_env()


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A console page: the template with the signed-in reader (if any) and its form token."""
    user = request.scope.get("state", {}).get(CONSOLE_USER_KEY)
    html = ENV.get_template(template).render(user=user, path=request.url.path, **context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def secured(response: Response) -> Response:
    for key, value in SECURITY_HEADERS.items():
        response.headers.setdefault(key, value)
    return response
