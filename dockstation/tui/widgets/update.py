"""Updating a Static only when what it shows changes, and without a layout when its size is fixed.

Every `Static.update` re-visualises its content, repaints the widget and — with Textual's default
`layout=True` — lays out the whole screen again on the next frame, even when the text is the same
or the widget's size cannot change. The bench's screens are drawn again for every unit and every
step (bench/bench_flow.py: a unit updates ~30 of them), most of them to what they already show.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


def same(a: object, b: object) -> bool:
    """Equal as shown: `Text.__eq__` compares the characters and spans only, not the base style."""
    if isinstance(a, Text) and isinstance(b, Text):
        return (a.plain == b.plain and a.spans == b.spans and a.style == b.style and a.justify == b.justify
                and a.no_wrap == b.no_wrap and a.overflow == b.overflow and a.end == b.end)
    return type(a) is type(b) and isinstance(a, str) and a == b


def show(widget: Static, content: Text | str, *, fixed: bool = False) -> None:
    """`widget.update(content)` unless it shows that already. `fixed`: the widget's height and
    width are set in CSS (not auto), so new content never needs a layout — a repaint is enough."""
    if same(widget.content, content):
        return
    widget.update(content, layout=not fixed)
