"""InlineStore's plain writes (a parcel scan) on the event loop's own connection (rows.OwnConnection):
no pool checkout per scan, the inline busy timeout kept on it alone, made again when it cannot be
trusted (a failed rollback) or when the pool's connections are made again, closed with the store.
The busy fallback through it: tests/tui/test_scan_path.py; its pragmas after a pool's disposal:
tests/tui/test_store_failures.py."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import event

from dockstation import events
from dockstation.receiving import handle_scan, sign_in
from dockstation.scan import ScanEvent, classify
from dockstation.store import BUSY_TIMEOUT_MS
from dockstation.tui.inline_store import INLINE_BUSY_MS, InlineStore
from dockstation.types import utcnow


def scan_of(bench, code: str):
    return ScanEvent(code, "test", None, utcnow()), classify(code, bench.codes.patterns)


def pragma(conn: sqlite3.Connection, name: str) -> int:
    return int(conn.execute(f"PRAGMA {name}").fetchone()[0])


async def test_inline_parcel_scans_use_one_connection_of_their_own_and_the_pool_keeps_5_s(manifest, bench):
    store = manifest
    op = sign_in(store, bench, scan_of(bench, "OP-1001")[0], "1001").operator
    inline = InlineStore(store)
    checkouts: list[int] = []
    event.listen(store.engine.pool, "checkout", lambda *_: checkouts.append(1))
    outs = [await inline.call(handle_scan, store, bench, op, *scan_of(bench, code))
            for code in ("RMA-2026-000001", "RMA-2026-000003", "RMA-2026-000001")]
    assert [o.status for o in outs] == ["received", "exception", "exception"]  # a unit, cancelled, duplicate
    # three transactions, one checkout: the own connection's, made once out of the pool
    assert inline.inline_calls == 3 and len(checkouts) == 1
    own = inline._own
    assert pragma(own.get(), "busy_timeout") == INLINE_BUSY_MS
    assert pragma(own.get(), "foreign_keys") == 1 and pragma(own.get(), "synchronous") == 2  # FULL
    with store.write() as s:  # the pool's connections, in this thread as in any other: the store's 5 s
        assert s.connection().exec_driver_sql("PRAGMA busy_timeout").scalar_one() == BUSY_TIMEOUT_MS
    with store.plain_write() as tx:  # not inline: through the pool
        assert pragma(tx.dbapi, "busy_timeout") == BUSY_TIMEOUT_MS
    assert len(checkouts) == 3


async def test_a_connection_whose_rollback_failed_is_made_again_and_nothing_was_written(store):
    inline = InlineStore(store)

    def doomed() -> None:
        with store.plain_write() as tx:
            events.bump(tx, "doomed")
            tx.dbapi.close()  # the rollback that follows fails: the connection is in no known state
            raise RuntimeError("power cut")

    def kept() -> sqlite3.Connection:
        with store.plain_write() as tx:
            events.bump(tx, "kept")
            return tx.dbapi

    first = await inline.call(kept)
    with pytest.raises(RuntimeError):
        await inline.call(doomed)
    again = await inline.call(kept)
    assert again is not first and inline.inline_calls == 2
    with store.read() as s:
        assert s.connection().exec_driver_sql("SELECT name, value FROM counter").all() == [("kept", 2)]


async def test_the_own_connection_follows_the_pool_and_closes_with_the_store(store):
    inline = InlineStore(store)

    def conn() -> sqlite3.Connection:
        with store.plain_write() as tx:
            return tx.dbapi

    first = await inline.call(conn)
    assert await inline.call(conn) is first
    # What the pool's connections get (a `connect` listener), a new own connection gets too.
    event.listen(store.engine, "connect", lambda c, _rec: c.execute("PRAGMA cache_size=-1234"))
    store.engine.dispose()
    second = await inline.call(conn)
    assert second is not first and pragma(second, "cache_size") == -1234
    assert pragma(second, "busy_timeout") == INLINE_BUSY_MS
    with pytest.raises(sqlite3.ProgrammingError):
        first.execute("SELECT 1")  # closed when it was replaced
    store.close()
    with pytest.raises(sqlite3.ProgrammingError):
        second.execute("SELECT 1")
