"""The keys of one terminal read as one event (tui/driver.py KeyBurst) and a scan's result painted
as its dispatch ends (tui/paint.py): the same results as key by key and Textual's own chain.

The real terminal's path (a pty, the real driver) is in tests/e2e/test_pty_receive.py; here the
app is given what BenchDriver posts after one read, and the frames are watched headless.
"""

from __future__ import annotations

import hashlib
import inspect

from sqlmodel import select
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input

from dockstation.models import Unit
from dockstation.tui import paint
from dockstation.tui.messages import KeyBurst

from tui_helpers import key_event, scan, state_line, wait_for

# Textual's internals paint_now stands in for (textual 8.2.x): if one changes, look again.
UPSTREAM = {
    "Widget._check_refresh": (Widget._check_refresh, "ad1c8196be9747bf"),
    "Screen._on_update": (Screen._on_update, "8d962c0761ddb02e"),
    "Screen._on_timer_update": (Screen._on_timer_update, "421401660de142c5"),
}


def read(app, text: str) -> None:
    """What BenchDriver posts for one read of `text` from the terminal."""
    app.post_message(KeyBurst(tuple(key_event(ch) for ch in text)))


def test_textual_refresh_chain_is_the_one_paint_now_stands_in_for():
    for name, (fn, digest) in UPSTREAM.items():
        got = hashlib.sha256(inspect.getsource(fn).encode()).hexdigest()[:16]
        assert got == digest, f"Textual's {name} changed ({got}): compare it with dockstation/tui/paint.py"


async def test_one_read_of_two_codes_is_two_scans_in_order_and_nothing_is_typed(make_app, manifest):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-1001")
        assert isinstance(app.focused, Input)
        read(app, "RMA-2026-000001\rRMA-2026-000003\r")
        await wait_for(pilot, lambda: app.scans_done >= 3, "two scans")
        assert app.query_one("#entry", Input).value == ""
    with manifest.read() as s:
        assert [u.rma_id for u in s.exec(select(Unit))] == ["RMA-2026-000001"]


async def test_a_read_with_the_wedge_off_is_typed_key_by_key(make_app, manifest):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        app.wedge_enabled = False
        read(app, "OP-1001")
        entry = app.query_one("#entry", Input)
        await wait_for(pilot, lambda: entry.value == "OP-1001", "the typed text")
        assert app.scans_done == 0


async def test_a_receipt_is_painted_as_its_dispatch_ends(make_app, manifest, monkeypatch):
    app = make_app()
    painted: list[tuple[bool, str]] = []
    real = paint.paint_now

    def watched(a):
        done = real(a)
        painted.append((done, state_line(a)))
        return done

    monkeypatch.setattr(paint, "paint_now", watched)
    async with app.run_test(size=(80, 24)) as pilot:
        # The first result after the sign-in prompt lays the screen out again (the lane shown,
        # the details' height): Textual's chain paints that. Then it is repaints only.
        await scan(pilot, app, "OP-1001", "RMA-2026-000003")  # cancelled
        await pilot.pause()
        painted.clear()
        await scan(pilot, app, "RMA-2026-000004")  # out of the window
        await scan(pilot, app, "RMA-2026-000001")  # received
        assert [done for done, _ in painted] == [True, True], "a frame was left to Textual's idle chain"
        assert "Outside the return window" in painted[0][1] and "Received B07-00000001" in painted[1][1]
        await pilot.pause()
        assert "Received B07-00000001" in state_line(app)


async def test_a_pending_layout_is_left_to_textual(make_app, manifest):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        details = app.screen.query_one("#details")
        details.refresh(layout=True)
        assert paint.paint_now(app) is False
        await pilot.pause()
        details.refresh()
        assert paint.paint_now(app) is True
        assert not details._repaint_required
        assert paint.paint_now(app) is False  # nothing left to paint
