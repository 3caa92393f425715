"""The scan → committed → shown path: the inline store call and its busy fallback, the scan log.

No timing is asserted here (bench/bench_scan.py measures); these check what must hold whichever
path a scan takes: nothing shown before the commit, a locked database never freezes the screen,
and the store's own busy timeout is what other threads keep getting.
"""

from __future__ import annotations

import asyncio

from rich.text import Text
from sqlmodel import select
from textual.app import App, ComposeResult

from dockstation.models import Unit
from dockstation.store import BUSY_TIMEOUT_MS
from dockstation.tui.widgets import ScanLog

from tui_helpers import burst, db, scan, screen_text, see, state_line, wait_for


def busy_timeout_in_a_thread(app) -> int:
    with app.store.write() as session:
        return int(session.connection().exec_driver_sql("PRAGMA busy_timeout").scalar_one())


async def test_a_scan_on_a_free_database_runs_inline_and_threads_keep_the_normal_timeout(make_app, manifest):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-1001", "RMA-2026-000001", "RMA-2026-000003")
        await see(pilot, app, "B07-00000001 → standard")
        assert app.inline_store.inline_calls == 2 and app.inline_store.thread_calls == 0
        # The pooled connections the inline calls used wait the store's 5 s again elsewhere.
        for _ in range(3):
            assert await asyncio.to_thread(busy_timeout_in_a_thread, app) == BUSY_TIMEOUT_MS


async def test_a_scan_while_another_writer_holds_the_lock_waits_in_a_thread_not_on_the_screen(
        make_app, manifest, home):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-1001")
        other = db(home)
        other.isolation_level = None
        other.execute("BEGIN IMMEDIATE")  # e.g. a manifest import in another process
        try:
            burst(app, "RMA-2026-000001\r")
            await wait_for(pilot, lambda: app.inline_store.thread_calls == 1, "the busy fallback")
            # The event loop is free while the thread waits for the lock: the screen still works.
            app.set_slot("printer", "still live", "ok")
            await see(pilot, app, "still live")
            assert app.scans_done == 1 and "Received" not in state_line(app)
        finally:
            other.execute("COMMIT")
            other.close()
        await wait_for(pilot, lambda: app.scans_done == 2, "the scan, once the lock is free")
        await see(pilot, app, "Received B07-00000001")
    with manifest.read() as s:
        assert [u.lpn for u in s.exec(select(Unit))] == ["B07-00000001"]  # once, not twice


class LogApp(App[None]):
    def compose(self) -> ComposeResult:
        yield ScanLog(id="log", max_rows=5)


async def test_the_scan_log_keeps_its_last_rows_and_shows_the_newest_at_the_bottom():
    app = LogApp()
    async with app.run_test(size=(80, 5)) as pilot:
        log = app.query_one(ScanLog)
        for n in range(1, 8):
            log.add_row(Text(f"09:00:0{n}"), Text("✔", style="green"), Text(f"[b]RMA-{n}[/b]"),
                        Text(f"B07-0000000{n} → standard " + "x" * 60))
        await pilot.pause()
        assert log.row_count == 5 and str(log.rows[0][2]) == "[b]RMA-3[/b]"
        lines = screen_text(app).splitlines()
        assert lines[0].split() == ["time", "code", "result"]
        assert [ln.split()[2] for ln in lines[1:]] == ["[b]RMA-4[/b]", "[b]RMA-5[/b]", "[b]RMA-6[/b]",
                                                        "[b]RMA-7[/b]"]  # literal, never markup
        assert all(len(ln) <= 80 for ln in lines) and lines[-1].rstrip().endswith("…")
