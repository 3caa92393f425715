"""A scan's short store transaction on the event loop when the database is free, else in a thread.

Why: a receipt is one read and one `BEGIN IMMEDIATE … COMMIT` (~2 ms in the app). Through
`asyncio.to_thread` it also paid a thread hop and, now and then, a wait of tens of milliseconds
for the GIL while the event loop was busy painting (bench/README.md, bench_scan.py). Run inline,
it is just that, and the screen is updated right after the commit, as before.

What must not happen is a UI frozen by a slow store: the store's connections wait up to
`BUSY_TIMEOUT_MS` (5 s) for a lock another writer holds (the sync worker, the print queue, a
lead's screen, `dockstation manifest import` in another process). So the inline attempt runs
with a busy timeout of `INLINE_BUSY_MS` (0: fail at once): if the database is locked right now,
the attempt fails with SQLITE_BUSY before anything was written, and the same call is made again
in a thread with the normal timeout. Where the attempt's connection comes from:
- a plain write (`Store.plain_write`: the parcel scan) runs on the store's connection of the
  event loop's own (`Store.own_connection`, rows.OwnConnection), kept out of the pool with the
  inline timeout for good: no checkout, no return, no timeout changed and changed back per scan;
- a Session or a read goes through the store's pools, whose connections the print worker's
  thread checks out too: the busy timeout is set when a connection is checked out (a `checkout`
  listener), per connection and only when it has to change, so other threads' transactions keep
  the store's own 5 s.

Only for use cases that write at most ONE transaction, as their last store step (`handle_scan`,
`receive_line`): a busy failure then means nothing was committed, and running the call again is
safe. The rule "a scan is shown as done only after its transaction committed" holds either way:
the caller shows the outcome only when the call has returned.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy.exc import OperationalError

from dockstation.foreground import FOREGROUND
from dockstation.store import BUSY_TIMEOUT_MS

log = logging.getLogger("dockstation.tui")
T = TypeVar("T")
INLINE_BUSY_MS = 0
_BUSY_CODES = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}


def is_busy(exc: BaseException) -> bool:
    """SQLITE_BUSY / SQLITE_LOCKED (incl. extended codes), raw or wrapped by SQLAlchemy."""
    orig = exc.orig if isinstance(exc, OperationalError) else exc
    if not isinstance(orig, sqlite3.OperationalError):
        return False
    code = getattr(orig, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _BUSY_CODES
    return "locked" in str(orig) or "busy" in str(orig)


class InlineStore:
    """Runs a one-transaction store call inline (no waiting on locks) or, if busy, in a thread."""

    def __init__(self, store: Any) -> None:
        self._local = threading.local()
        self.inline_calls = 0
        self.thread_calls = 0  # busy fallbacks, for the benchmark and the tests
        engines = [getattr(store, "engine", None), getattr(store, "read_engine", None)]
        # A store without SQLAlchemy engines (a test double) always goes to the thread.
        self.enabled = all(isinstance(e, Engine) for e in engines)
        if self.enabled:
            self._store = store
            self._own = store.own_connection(INLINE_BUSY_MS)
            for engine in engines:
                # On checkout: before the store's `begin` listener emits BEGIN (IMMEDIATE).
                event.listen(engine.pool, "checkout", self._on_checkout)

    def _on_checkout(self, dbapi_conn: sqlite3.Connection, record: Any, _proxy: Any) -> None:
        want = INLINE_BUSY_MS if getattr(self._local, "inline", False) else BUSY_TIMEOUT_MS
        if record.info.get("busy_timeout_ms", BUSY_TIMEOUT_MS) != want:  # kept with the connection
            dbapi_conn.execute(f"PRAGMA busy_timeout={want}")
            record.info["busy_timeout_ms"] = want

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        FOREGROUND.busy()  # the print worker starts no job until this scan is committed and shown
        if self.enabled:
            self._local.inline = True
            self._store.plain_conn.own = self._own
            try:
                result = fn(*args, **kwargs)
            except Exception as exc:
                if not is_busy(exc):
                    raise
                log.info("store busy (%s): the scan goes on in a thread", exc)
            else:
                self.inline_calls += 1
                return result
            finally:
                self._local.inline = False
                self._store.plain_conn.own = None
        self.thread_calls += 1
        return await asyncio.to_thread(fn, *args, **kwargs)
