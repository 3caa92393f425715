"""A scan repaints what changed, not unchanged lines (bench_scan.py --pty counts the bytes).

The frames Textual sends to the terminal are recorded (the compositor's updates: which screen
lines each one carries). The scan log's header line never changes, and while the log fills,
only the new row's line of the log does.
"""

from __future__ import annotations

from textual._compositor import ChopsUpdate
from tui_helpers import scan, see

from dockstation.tui.widgets import ScanLog


def _lines_sent(app, record):  # type: ignore[no-untyped-def]
    original = app._display

    def display(screen, renderable):  # type: ignore[no-untyped-def]
        if isinstance(renderable, ChopsUpdate):
            record.update(y for y, _, _ in renderable.spans)
        elif renderable is not None:
            record.add("full")
        return original(screen, renderable)

    app._display = display


async def test_a_scan_does_not_repaint_the_log_header_nor_its_empty_lines(make_app, manifest):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-1001", "RMA-9999-000404")  # an exception: its layout
        await see(pilot, app, "RMA-9999-000404")
        await pilot.pause(0.1)
        log = app.screen.query_one(ScanLog)
        top = log.content_region.y
        sent: set = set()
        _lines_sent(app, sent)
        await scan(pilot, app, "RMA-9999-000405")  # another: the same layout, new texts
        await see(pilot, app, "RMA-9999-000405")
        await pilot.pause(0.1)
        assert "full" not in sent
        log_lines = {y - top for y in sent if isinstance(y, int) and top <= y < top + log.content_size.height}
        assert log_lines == {3}  # the third row; not 0 (the header) nor the empty lines below


async def test_once_the_log_is_full_its_rows_move_up_and_its_header_stays(make_app, manifest):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-1001", *(f"RMA-9999-{n:06d}" for n in range(20)))
        await see(pilot, app, "RMA-9999-000019")
        await pilot.pause(0.1)
        log = app.screen.query_one(ScanLog)
        top, height = log.content_region.y, log.content_size.height
        assert log.row_count > height  # full: a new row moves the others up
        sent: set = set()
        _lines_sent(app, sent)
        await scan(pilot, app, "RMA-9999-000020")
        await see(pilot, app, "RMA-9999-000020")
        await pilot.pause(0.1)
        log_lines = {y - top for y in sent if isinstance(y, int) and top <= y < top + height}
        assert log_lines == set(range(1, height))
