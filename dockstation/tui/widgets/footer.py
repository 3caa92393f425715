"""The footer of the bench's screens: Textual's Footer, recomposed only when what it shows changes.

Textual's Footer rebuilds all its keys (a widget each, styled) on every bindings signal — a focus
change, a screen's `refresh_bindings()` after each step — most of which leave the keys as they
were. At a bench that rebuild was the largest cost of a step of the inspection (bench_flow.py):
this one compares what it would show (key, description, enabled) and rebuilds only on a change.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Footer


class BenchFooter(Footer):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("compact", True)  # every screen's keys in 80 columns, F1 Help included
        super().__init__(**kwargs)
        self._shown: tuple[Any, ...] | None = None

    def _signature(self) -> tuple[Any, ...]:
        return tuple((key, b.description, b.action, b.group, enabled, b.key_display)
                     for key, (_, b, enabled, _tip) in self.screen.active_bindings.items() if b.show)

    def bindings_changed(self, screen: Screen[Any]) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen:
            self.call_after_refresh(self._recompose_if_changed)

    async def _recompose_if_changed(self) -> None:
        if not self.is_attached:
            return
        shown = self._signature()
        if shown != self._shown:
            self._shown = shown
            await self.recompose()
