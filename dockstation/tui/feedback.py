"""How the bench tells an operator what happened: sounds (tui/sound.py) and results from any screen.

A mixin of `BenchApp` (which provides config, sound, receive_screen, show_result, notify, _post):
- `report(state, title, message, code=…)`: a committed result from any screen — its sound, a row
  in the receive screen's scan log, and the message (big on the receive screen when it is on
  screen, else a notification). Every result of the grader's flow goes through it: graded,
  disposed, awaiting approval, approved, refused, left undone;
- the sound mode is chosen once mounted (headless or not is known then); a failing audio player
  reports back through `SoundFailed`, and the bell sounds instead.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from dockstation.text import clean
from dockstation.tui.messages import SoundFailed
from dockstation.tui.sound import Pattern, Sounder, choose

if TYPE_CHECKING:
    from dockstation.tui.app import BenchApp

log = logging.getLogger("dockstation.tui")
PATTERNS: dict[str, Pattern] = {"ok": "ok", "error": "error", "warn": "attention"}


class FeedbackMixin:
    def report(self: BenchApp, state: str, title: str, message: str, *, code: str = "",
               toast: bool = True, log: str | None = None) -> None:
        """A result from any screen, after its commit: its sound, a row in the scan log (`code`:
        the LPN or the code scanned; `log`: the row's short text, else `message`), and the message
        — big on the receive screen when that is on screen, else a notification (`toast=False`:
        the screen shows it itself)."""
        if self.screen is self.receive_screen and title:
            self.show_result(state, title, message)
        else:
            if pattern := PATTERNS.get(state):
                self.sound.play(pattern)
            if toast:
                severity = {"error": "error", "warn": "warning"}.get(state, "information")
                self.notify(clean(message), title=clean(title), severity=severity, markup=False)  # type: ignore[arg-type]
        if self.receive_screen.is_mounted:
            self.receive_screen.add_log(code, state, log or message)

    # -- sounds (tui/sound.py) ---------------------------------------------------------------
    def _choose_sound(self: BenchApp) -> None:
        st = self.config.station
        choice = choose(st.sound, st.sound_player, headless=self.is_headless)
        if choice.why:
            log.warning("sound: %s", choice.why)
            self.notify(clean(choice.why), severity="warning", markup=False, timeout=8)
        if choice.mode == "audio" and self.sound.enabled:
            self.sound = Sounder(lambda: self.bell(), self.set_timer, choice=choice,
                                 on_fail=lambda pattern, why: self._post(SoundFailed(pattern, why)))

    def on_sound_failed(self: BenchApp, message: SoundFailed) -> None:
        first = self.sound.failures == 0
        gave_up = self.sound.audio_failed(message.pattern, message.why)  # type: ignore[arg-type]
        if first or gave_up:
            then = "the terminal bell sounds from now on" if gave_up else "the terminal bell sounded instead"
            self.notify(clean(f"Sound: {message.why} — {then}"), severity="warning", markup=False, timeout=8)
