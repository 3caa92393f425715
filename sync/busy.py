"""Waiting out a busy HQ: a 503 or 429 with `Retry-After` (docs/sync.md, "Back-pressure").

HQ answers so when its workers have more batches than they can store in time: it is up, and
says when to come back. The station's client (sync/client.py) waits that long, plus up to half
again so benches told the same do not come back together, and sends the same request again:
at most BUSY_TRIES times in all, and not when HQ asks for more than BUSY_WAIT_MAX_S; then the
sync ends as for any 5xx (partial, tried again later).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from email.utils import parsedate_to_datetime

import httpx
import tenacity

from dockstation.types import utcnow

BUSY_TRIES = 8
BUSY_WAIT_MAX_S = 60.0


def retry_after(resp: httpx.Response) -> float | None:
    """Seconds HQ asks to wait (`Retry-After`: delay-seconds or an HTTP date), or None."""
    value = resp.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        if value.replace(".", "", 1).isdigit():
            return max(0.0, float(value))
        return max(0.0, (parsedate_to_datetime(value) - utcnow()).total_seconds())
    except (TypeError, ValueError, OverflowError):
        return None


def retrying(busy: type[Exception], sleep: Callable[[float], None]) -> tenacity.Retrying:
    """tenacity's loop for one request: again on `busy` (which carries `retry_after`), as above."""

    def wait(state: tenacity.RetryCallState) -> float:
        return float(state.outcome.exception().retry_after) * random.uniform(1.0, 1.5)  # type: ignore[union-attr]

    def too_long(state: tenacity.RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome is not None else None
        return isinstance(exc, busy) and float(exc.retry_after) > BUSY_WAIT_MAX_S  # type: ignore[attr-defined]

    return tenacity.Retrying(retry=tenacity.retry_if_exception_type(busy), wait=wait, sleep=sleep, reraise=True,
                             stop=tenacity.stop_after_attempt(BUSY_TRIES) | too_long)
