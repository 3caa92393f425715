"""A full disk or a read-only store: the bench says what happened and what to do (issue 14, item 8).

SQLite's own limits make the failures, through the real store and the real scan path: with
`max_page_count` at the file's current size the database cannot grow, and once the pages it has
are full SQLite answers SQLITE_FULL exactly as on a full disk; `query_only` answers
SQLITE_READONLY as on a read-only mount. (A real read-only home and a real full disk:
tests/e2e/test_store_failures_e2e.py.)
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import event
from tui_helpers import db, scan, state_line, wait_for

from dockstation.models import Rma, RmaLine
from dockstation.store_failures import explain
from dockstation.types import utcnow

BIG_RMA = "RMA-2026-000900"


def limit_store(app, pragma: str) -> None:
    """Every connection of the app's store from now on runs `pragma` (the pool is emptied)."""
    for engine in (app.store.engine, app.store.read_engine):
        event.listen(engine, "connect", lambda conn, _rec: conn.execute(pragma))
        engine.dispose()


def page_count(app) -> int:
    with app.store.read() as session:
        return session.connection().exec_driver_sql("PRAGMA page_count").scalar_one()


def big_text(app) -> str:
    """The big text without the state symbol drawn in front of it (✔ ✖ ! ●)."""
    return str(app.receive_screen.query_one("#big").text).split(" ", 1)[-1]


def add_big_rma(store) -> None:
    """One RMA line of 5,000 units: the same label scanned again and again receives one more."""
    now = utcnow()
    with store.write() as s:
        s.add(Rma(rma_id=BIG_RMA, order_id="O-900", created_at=now - timedelta(days=1),
                  expires_at=now + timedelta(days=30), status="open", updated_at=now))
        s.add(RmaLine(rma_id=BIG_RMA, line_no=1, sku="BULK-1", description="Bulk item", category="home",
                      qty=5000, unit_price=Decimal("1.00")))


def counts(home) -> tuple[int, int, int]:
    conn = db(home)
    try:
        return tuple(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[return-value]
                     for t in ("unit", "event", "scan_exception"))
    finally:
        conn.close()


async def test_when_the_disk_fills_up_a_scan_says_disk_full_and_records_nothing(make_app, manifest, home):
    add_big_rma(manifest)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-1001")
        limit_store(app, f"PRAGMA max_page_count={page_count(app)}")  # the disk has no room left
        received = 0
        for _ in range(400):  # receive until the pages the database has are full
            before = counts(home)
            await scan(pilot, app, BIG_RMA)
            if big_text(app) == "DISK FULL":
                break
            received += 1
        else:
            raise AssertionError("the database never filled up")
        assert received > 0  # it worked until the disk was full
        assert "nothing was recorded; free space or call IT" in state_line(app)
        assert "Internal error" not in state_line(app) and "OperationalError" not in state_line(app)
        assert app.sound.history[-1] == "error"
        assert counts(home) == before  # nothing of that scan: no unit, no event, no exception row

        limit_store(app, "PRAGMA max_page_count=1073741823")  # IT freed space
        await scan(pilot, app, BIG_RMA)
        await wait_for(pilot, lambda: counts(home)[0] == received + 1, "the next unit")
        assert big_text(app).startswith("B07-")


async def test_a_read_only_store_says_read_only_with_the_error_sound(make_app, manifest, home):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-1001")
        before = counts(home)
        limit_store(app, "PRAGMA query_only=ON")
        await scan(pilot, app, "RMA-2026-000001")
        assert big_text(app) == "READ-ONLY"
        assert "nothing was recorded" in state_line(app) and "call IT" in state_line(app)
        assert app.sound.history[-1] == "error"
        assert counts(home) == before


def test_explain_knows_sqlite_and_file_system_errors():
    import errno
    import sqlite3

    from sqlalchemy.exc import OperationalError

    conn = sqlite3.connect(":memory:")
    conn.execute("PRAGMA query_only=ON")
    try:
        conn.execute("CREATE TABLE t (x)")
    except sqlite3.OperationalError as exc:
        wrapped = OperationalError("CREATE TABLE t (x)", {}, exc)
        assert explain(wrapped).title == "READ-ONLY" and explain(exc).kind == "read_only"
    assert explain(OSError(errno.ENOSPC, "No space left on device")).title == "DISK FULL"
    assert explain(sqlite3.OperationalError("database or disk is full")).title == "DISK FULL"
    assert explain(ValueError("a bug")) is None
