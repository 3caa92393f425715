"""Quitting the bench needs a deliberate act that no scanner burst can produce (issue 14).

A keyboard-wedge scanner can send any byte, DC1 (ctrl+q) included, and a person's ctrl+q looks
exactly like a scanner's lone DC1. So ctrl+q only asks; the bench quits on a Y that is a
person's key by its timing, measured on the time the terminal's input was read (`Key.time`):
- it comes at least `READY_AFTER_S` after the question opened (far longer than any burst's
  gaps, and than the jitter of reading them); until then the question says "wait";
- nothing came within the wedge's `max_gap_ms` before it, and nothing comes within that gap
  after it (checked by waiting that long before quitting): a Y inside a burst (`y\\r`, `\\x11y`)
  always has a neighbour that close.
N or Escape stays, and so does doing nothing (`CLOSE_AFTER_S`). A scan while the question is up
is handled as on any screen: it brings the receiving screen back, so the question is gone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Static

try:  # Textual's own clock for Message.time (see app.py)
    from textual._time import get_time
except ImportError:  # pragma: no cover
    from time import monotonic as get_time

if TYPE_CHECKING:
    from dockstation.tui.app import BenchApp

READY_AFTER_S = 0.8
CLOSE_AFTER_S = 20.0
DEFAULT_GAP_S = 0.06


class QuitScreen(ModalScreen[None]):
    """"Quit the bench?" — Y (a person's, by timing) quits; N, Escape or a scan stays."""

    def __init__(self) -> None:
        super().__init__(id="quit-screen")
        self.opened = get_time()
        self.last_key = self.opened
        self.ready = False
        self._confirm: Timer | None = None

    @property
    def bench_app(self) -> BenchApp:
        return self.app  # type: ignore[return-value]

    def _gap(self) -> float:
        wedge = getattr(self.app, "wedge", None)
        return getattr(wedge, "max_gap", DEFAULT_GAP_S)

    def compose(self) -> ComposeResult:
        with Vertical(id="quit-box"):
            yield Static(Text("⏻  Quit the bench?", style="bold"), id="quit-title")
            yield Static(Text("… one moment"), id="quit-help")

    def on_mount(self) -> None:
        self.set_timer(READY_AFTER_S, self._become_ready)
        self.set_timer(CLOSE_AFTER_S, self._expire)

    def _become_ready(self) -> None:
        self.ready = True
        self.query_one("#quit-help", Static).update(Text("Press Y to quit  ·  N or Esc: stay"))

    def _expire(self) -> None:
        if self.is_current:
            self.stay("Not quitting (no answer)")

    def stay(self, message: str = "Still here") -> None:
        if self._confirm is not None:
            self._confirm.stop()
        self.dismiss()
        self.app.notify(message, markup=False, timeout=3)

    def on_key(self, event: events.Key) -> None:
        event.stop()
        event.prevent_default()
        gap_before = event.time - self.last_key
        self.last_key = max(self.last_key, event.time)
        if self._confirm is not None:  # a key right after the Y: the Y was part of a burst
            self._confirm.stop()
            self._confirm = None
        if event.key in ("n", "N", "escape"):
            self.stay()
        elif event.character in ("y", "Y") and self.ready and event.time - self.opened >= READY_AFTER_S \
                and gap_before >= self._gap():
            self._confirm = self.set_timer(self._gap() + 0.01, self._confirmed)

    async def _confirmed(self) -> None:
        self._confirm = None
        await self.bench_app.quit_now()
