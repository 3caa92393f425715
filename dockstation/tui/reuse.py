"""Screens the bench keeps and shows again for every unit: no restyle when shown again unchanged.

The grader's unit goes receive → inspect → disposition → receive: three screen switches, with
the same three screen objects every time (BenchApp.disposition_for, grading.open_screen). On a
push or a switch Textual re-applies the whole stylesheet to every node of the screen shown
(`ScreenResume(refresh_styles=True)`), because the theme or the CSS may have changed while it
was not shown — a few milliseconds per switch at 80x24 (bench/bench_flow.py, bench/README.md).

A screen's nodes keep their styles up to date while it is not shown: a class or pseudo-class
change restyles the node at once, wherever its screen is. What it does miss is a change of the
app's stylesheet (a theme, a CSS reload: `App._css_update_count`) and of the terminal's size
(the -wide / -tall breakpoint classes). So this mixin lets Textual restyle on resume only when
one of those changed since the screen was last restyled; otherwise only the repaint remains.
"""

from __future__ import annotations

from typing import Any

from textual import events


class KeepStylesOnResume:
    """Mixed into a Screen that is shown again and again (before `Screen` in its bases)."""

    _styled_for: tuple[Any, ...] | None = None

    def _on_screen_resume(self, event: events.ScreenResume) -> None:
        # Dispatched before Screen's own handler (its class comes first in the MRO): that one
        # restyles the screen if `refresh_styles` is still set when it runs.
        app = self.app  # type: ignore[attr-defined]
        token = (getattr(app, "_css_update_count", None), app.theme, app.size)
        if event.refresh_styles and token == self._styled_for:
            event.refresh_styles = False
        elif event.refresh_styles:
            self._styled_for = token
