"""The footer of the bench's screens: the keys of the screen shown, drawn as ONE line of text.

Textual's Footer is a container of one widget per key (a `FooterKey`, width auto): each layout
of the screen measured every key by rendering it, and every bindings signal (a focus change, a
step's `refresh_bindings()`) rebuilt them all. At a bench that was the largest part of what the
UI costs per unit (bench/bench_flow.py: half the time of a screen's layout, a third of its
repaint). This one is a single widget of height 1 that draws the same line — compact style:
`key description`, a space between keys; a binding group's keys side by side, then the
group's name — from the same bindings, and draws it again only when what it shows changes.
A click on a key presses it, as on Textual's footer.
"""

from __future__ import annotations

from itertools import groupby
from typing import Any

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.app import ScreenStackError
from textual.screen import Screen
from textual.widget import Widget

Shown = tuple[tuple[Binding, bool], ...]  # the bindings drawn, with enabled


def _visible(screen: Screen[Any]) -> bool:
    """On the terminal: the top screen, or one seen through it (under a modal's translucent
    background). Textual's `is_current` also counts the screen right under an opaque one."""
    try:
        top = screen.app.screen
    except ScreenStackError:  # no screen at all (the app is ending)
        return False
    return top is screen or (top.styles.background.a < 1 and screen.is_current)


class BenchFooter(Widget, can_focus=False):
    ALLOW_SELECT = False
    COMPONENT_CLASSES = {"bench-footer--key", "bench-footer--description"}
    # The look of Textual's compact Footer (its theme variables), so nothing changes on screen.
    DEFAULT_CSS = """
    BenchFooter {
        dock: bottom;
        height: 1;
        width: 1fr;
        color: $footer-foreground;
        background: $footer-background;
        text-wrap: nowrap;
        text-overflow: clip;
        .bench-footer--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        .bench-footer--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
    }
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.pop("compact", None)  # always the compact look (every screen's keys in 80 columns)
        super().__init__(**kwargs)
        self._shown: Shown | None = None
        self._check_due = False  # a look at the bindings is scheduled (bindings_changed)
        self._text = Text()
        self._spans: list[tuple[int, int, Binding, bool]] = []  # cells of each key, for a click

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def bindings_changed(self, screen: Screen[Any]) -> None:
        # A step, a focus change, a screen shown: often several signals in one go (bench_flow.py:
        # ~7 per unit), each worth a look at the screen's active bindings — looked at once, after.
        # A screen that is not shown (the receiving screen under an inspection, the inspect
        # screen being left) is not looked at: showing it again repaints it whole, and `render`
        # looks at its bindings then.
        if not screen.app.app_focus or self._check_due or not _visible(screen):
            return
        if self.is_attached and screen is self.screen:
            self._check_due = True
            self.call_later(self._check_bindings)

    def _check_bindings(self) -> None:
        self._check_due = False
        if self.is_attached and _visible(self.screen) and self._shown_now() != self._shown:
            self.refresh()  # one line redrawn; the layout is unchanged (height 1, full width)

    def _shown_now(self) -> Shown:
        return tuple((b, enabled) for (_, b, enabled, _tip) in self.screen.active_bindings.values() if b.show)

    def render(self) -> Text:
        shown = self._shown_now()
        if shown != self._shown:
            self._shown = shown
            self._text, self._spans = self._draw(shown)
        return self._text

    def _draw(self, shown: Shown) -> tuple[Text, list[tuple[int, int, Binding, bool]]]:
        """What Textual's compact Footer lays out, as one line (its `compose`, key for key)."""
        key_style = self.get_component_rich_style("bench-footer--key")
        description_style = self.get_component_rich_style("bench-footer--description")
        dim = Style(dim=True)
        by_action: dict[str, list[tuple[Binding, bool]]] = {}
        for binding, enabled in shown:
            by_action.setdefault(binding.action, []).append((binding, enabled))
        text, spans = Text(no_wrap=True, overflow="crop"), []

        def key(binding: Binding, enabled: bool, description: str) -> None:
            start = len(text)
            text.append(self.app.get_key_display(binding), key_style + dim if not enabled else key_style)
            if description:
                text.append(" " + description, description_style + dim if not enabled else description_style)
            spans.append((start, len(text), binding, enabled))

        for group, members in groupby(by_action.values(), lambda bindings: bindings[0][0].group):
            items = list(members)
            if group is not None and len(items) > 1:
                text.append(" " if group.compact else "")  # the group's padding (compact)
                for (binding, enabled), *_ in items:
                    text.append("" if group.compact else " ")
                    key(binding, enabled, "")
                    text.append("" if group.compact else " ")
                text.append(" " if group.compact else "")
                text.append(group.description, description_style)
            else:
                for (binding, enabled), *_ in items:
                    key(binding, enabled, binding.description)
                    text.append(" ")
        text.rstrip()  # the last key's margin is the footer's own background, as on Textual's
        return text, spans

    def on_click(self, event: events.Click) -> None:
        for start, end, binding, enabled in self._spans:
            if start <= event.x < end:
                if enabled:
                    self.app.simulate_key(binding.key)
                else:
                    self.app.bell()
                return
