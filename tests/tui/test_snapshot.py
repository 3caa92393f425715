"""Snapshots of the receiving screen at 80x24 (pytest-textual-snapshot).

Deterministic: a fixed clock (shown in the log), UTC display, the default lane (not the policy
in force), a fresh store (LPN B07-00000001). Update after a deliberate change with
`pytest tests/tui/test_snapshot.py --snapshot-update` and review the SVGs.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from textual.widgets import Input
from tui_helpers import scan, see, wait_for

from dockstation.tui.widgets import LinePicker

FIXED = datetime(2026, 11, 23, 9, 30, 0, tzinfo=UTC)


def steady_cursor(app) -> None:
    # A blinking cursor is on or off depending on when the shot is taken: keep it on.
    app.query_one("#entry", Input).cursor_blink = False


@pytest.fixture
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_received_unit_at_80x24(snap_compare, make_app, manifest, utc):
    app = make_app(clock=lambda: FIXED)

    async def run_before(pilot) -> None:
        steady_cursor(app)
        await scan(pilot, app, "OP-1001", "RMA-9999-000404", "RMA-2026-000001")
        await see(pilot, app, "Received B07-00000001", "B07-00000001 → standard")  # layout settled

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_line_picker_at_80x24(snap_compare, make_app, manifest, utc):
    app = make_app(clock=lambda: FIXED)

    async def run_before(pilot) -> None:
        steady_cursor(app)
        await scan(pilot, app, "OP-2001", "RMA-2026-000002")
        await see(pilot, app, "[2] line 2", "which item? pick a line")
        await wait_for(pilot, lambda: isinstance(app.focused, LinePicker), "focus on the picker")

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_signed_out_prompt_at_80x24(snap_compare, make_app, manifest, utc):
    app = make_app(clock=lambda: FIXED)

    async def run_before(pilot) -> None:
        steady_cursor(app)
        await see(pilot, app, "Scan your badge")

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_received_unit_at_120x40(snap_compare, make_app, manifest, utc):
    """At 120x40 and up the big text and the lane grow to the 7-row font."""
    app = make_app(clock=lambda: FIXED)

    async def run_before(pilot) -> None:
        steady_cursor(app)
        await scan(pilot, app, "OP-1001", "RMA-9999-000404", "RMA-2026-000001")
        await see(pilot, app, "Received B07-00000001", "B07-00000001 → standard")

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_exception_with_a_long_code_at_80x24(snap_compare, make_app, manifest, utc):
    """The exception's number stays on screen whatever the code's length; the footer keys fit."""
    app = make_app(clock=lambda: FIXED)

    async def run_before(pilot) -> None:
        steady_cursor(app)
        await scan(pilot, app, "OP-1001", "RMA-9999-" + "7" * 120)
        await see(pilot, app, "Recorded as exception #1 for the lead.")

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
