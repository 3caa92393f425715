"""Keys captured for the keyboard-wedge detector before Textual hands them to a widget (app.py).

A mixin of `BenchApp`: every key is read in `on_event` *before* Textual forwards it to the
focused widget (a focused `Input` mis-orders bursts, Textual issue #6605) and fed to the pure
`WedgeDetector`; the keys of a scan are swallowed and the code goes to the one dispatcher, a
person's keys are passed on unchanged. A timer flushes what the detector holds once its gap is
over (through the message queue, so keys read but not yet handled go first).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from textual import events

from dockstation.scan import ScanEvent
from dockstation.scanners.wedge import Release, ScanCode
from dockstation.tui.messages import KeyBurst, WedgeTick

if TYPE_CHECKING:
    from dockstation.tui.app import BenchApp

try:  # Textual's own clock for Message.time (monotonic; perf_counter on Windows)
    from textual._time import get_time
except ImportError:  # pragma: no cover
    from time import monotonic as get_time

_AIM_ID = re.compile(r"\][A-Za-z][0-9]")


class KeyCaptureMixin:
    """Mixed into BenchApp before Textual's App: `super().on_event` is the App's."""

    async def on_event(self: BenchApp, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded and self.wedge_enabled:
            await self._apply(self.wedge.feed(event.key, event.character, event.time))
            self._arm_flush()
            return
        if isinstance(event, KeyBurst):  # keys of one terminal read (tui/driver.py): as if apart
            if not self.wedge_enabled:
                for key in event.keys:
                    await super().on_event(key)  # type: ignore[misc]
            else:
                feed = self.wedge.feed
                for key in event.keys:
                    if actions := feed(key.key, key.character, key.time):  # mostly none: held
                        await self._apply(actions)
            self._arm_flush()  # once, for what the burst left held (a whole scan leaves nothing)
            return
        await super().on_event(event)  # type: ignore[misc]

    async def _apply(self: BenchApp, actions: list[ScanCode | Release]) -> None:
        for action in actions:
            if isinstance(action, ScanCode):
                code, symbology = action.code, None
                if _AIM_ID.match(code):  # a scanner set to send AIM identifiers (]C1, ]d2 …)
                    symbology, code = code[:3], code[3:]
                self.enqueue_scan(ScanEvent(code, "wedge", symbology, self.clock()))
            else:
                for key in action.keys:  # a person typing: on to the focused widget as usual
                    event = events.Key(key.key, key.character)
                    event.time = key.at  # when it was read: the quit question judges by it
                    await super().on_event(event)  # type: ignore[misc]

    def _arm_flush(self: BenchApp) -> None:
        deadline = self.wedge.deadline
        if deadline is None or self._flush_timer is not None:
            return
        self._flush_timer = self.set_timer(max(0.0, deadline - get_time()) + 0.005, self._flush_due)

    def _flush_due(self: BenchApp) -> None:
        # Through the message queue, so keys already read but not yet handled go first.
        self._flush_timer = None
        self.post_message(WedgeTick())

    async def on_wedge_tick(self: BenchApp, _: WedgeTick) -> None:
        await self._apply(self.wedge.flush(get_time()))
        self._arm_flush()

