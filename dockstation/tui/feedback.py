"""How the bench tells an operator what happened: sounds (tui/sound.py) and results from any screen.

A mixin of `BenchApp` (which provides config, sound, receive_screen, notify, _post):
- `show_outcome` (a receiving use case's result), `show_result` (any screen: ok / error / warn /
  info with its sound), `show_failure` (a scan or job that raised: a store failure says what
  happened and what to do, anything else is an internal error);
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

from dockstation.scan import ScanEvent
from dockstation.store_failures import explain as explain_failure
from dockstation.text import clean
from dockstation.tui.messages import SoundFailed
from dockstation.tui.sound import Pattern, Sounder, choose

if TYPE_CHECKING:
    from dockstation.receiving.core import Outcome
    from dockstation.tui.app import BenchApp

log = logging.getLogger("dockstation.tui")
PATTERNS: dict[str, Pattern] = {"ok": "ok", "error": "error", "warn": "attention"}
SEVERITY = {"error": "error", "warn": "warning"}  # a notification's, by state (else information)


class FeedbackMixin:
    def show_outcome(self: BenchApp, scan: ScanEvent, outcome: Outcome) -> None:
        """A receiving use case's result (already committed): on screen, in the log, audible."""
        self._outcome = outcome
        if outcome.status == "exception" and outcome.exception_id is not None:
            self.last_exception = (outcome.exception_id, scan.code)  # F7 searches for it
        elif outcome.status in ("received", "signed_in"):
            self.last_exception = None
        if outcome.unit is not None:
            self.current_lpn = outcome.unit.lpn
        if outcome.status == "received" and outcome.unit is not None and self.may_grade():
            self.in_hand = outcome.unit.lpn  # its first inspection input opens it (grading.py)
        elif outcome.status in ("received", "exception", "choose_line"):
            self.in_hand = None  # another parcel: the last unit was put down
        self.receive_screen.show_outcome(scan, outcome)
        self.receive_screen.hand_changed()
        if self.in_hand is not None and outcome.status == "received":
            self.receive_screen.show_hand_hint()
        if self.screen is not self.receive_screen:
            self.notify(clean(outcome.message), severity="information" if outcome.ok else "error", markup=False)

    def show_result(self: BenchApp, state: str, title: str, message: str) -> None:
        """Any screen: `state` is ok / error / warn / info; plays the matching sound."""
        if pattern := PATTERNS.get(state):
            self.sound.play(pattern)
        if self.screen is self.receive_screen:
            self.receive_screen.show_message(state, title, message)
        else:
            severity = SEVERITY.get(state, "information")
            self.notify(clean(message), severity=severity, markup=False)  # type: ignore[arg-type]

    def show_failure(self: BenchApp, exc: Exception, what: str) -> None:
        """A scan or job that raised: a store failure says what happened and what to do (DISK
        FULL — nothing was recorded; …), anything else is an internal error; both with the error
        sound, both in the log."""
        failure = explain_failure(exc)
        if failure is not None:
            log.error("%s not recorded: %s (%s)", what, failure.title, type(exc).__name__)
            self.show_result("error", failure.title, failure.message)
        else:
            log.error("%s failed", what, exc_info=exc)
            self.show_result("error", "ERROR", f"Internal error: {exc!r}")

    def beep(self: BenchApp, ok: bool) -> None:
        self.sound.play("ok" if ok else "error")


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
                severity = SEVERITY.get(state, "information")
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
