"""Helpers (imported by the TUI tests as `tui_helpers`) for driving the bench TUI with Textual's Pilot.

`burst` posts keys back to back without awaiting — what a keyboard-wedge scanner does (Pilot's
`press` waits for idle after every key, so it cannot make a burst; FIELD-NOTES). `wait_for`
polls a condition with a generous deadline: a deadline against hanging, never a timing
assertion.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from textual import events
from textual.keys import _character_to_key

from dockstation.store import DB_NAME
from dockstation.tui.app import BenchApp

CONTROL_KEYS = {"\r": "enter", "\n": "ctrl+j", "\t": "tab", "\x1d": "ctrl+right_square_bracket",
                "\x1b": "escape", "\x00": "ctrl+@", "\x07": "ctrl+g"}
DEADLINE_S = 10.0


def key_event(ch: str) -> events.Key:
    if ch in CONTROL_KEYS:
        return events.Key(CONTROL_KEYS[ch], ch)
    if ord(ch) < 32:
        return events.Key(f"ctrl+{chr(ord(ch) + 96)}", ch)
    return events.Key(_character_to_key(ch), ch)


def burst(app: BenchApp, text: str) -> None:
    """All keys of `text` into the app's input queue at once, like a scanner."""
    driver = app._driver
    assert driver is not None
    for ch in text:
        driver.send_message(key_event(ch))


async def wait_for(pilot, condition: Callable[[], object], what: str = "condition",
                   deadline_s: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


async def scan(pilot, app: BenchApp, *codes: str, deadline_s: float = DEADLINE_S) -> None:
    """Scan codes in one burst and wait until the dispatcher has handled all of them."""
    target = app.scans_done + len(codes)
    burst(app, "".join(c + "\r" for c in codes))
    await wait_for(pilot, lambda: app.scans_done >= target, f"{len(codes)} scans", deadline_s)
    await pilot.pause()


def screen_text(app: BenchApp) -> str:
    """The characters on the (virtual) terminal right now."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def state_line(app: BenchApp) -> str:
    return str(app.receive_screen.query_one("#state").visual)


def db(home: Path) -> sqlite3.Connection:
    """An independent connection: sees only what was committed."""
    return sqlite3.connect(home / DB_NAME)




async def see(pilot, app: BenchApp, *needles: str) -> str:
    """Wait until every needle is on the terminal (a refresh can lag the state by a frame)."""
    await wait_for(pilot, lambda: all(n in screen_text(app) for n in needles), f"{needles!r} on screen")
    return screen_text(app)
