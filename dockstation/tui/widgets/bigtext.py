"""Big letters for what must be readable from two metres: the LPN, the lane, the error, the path.

The widget draws its text in the largest font of `bigfont.FONTS` that fits its content area, so
it grows with the room a screen gives it (the stylesheet makes big text taller on terminals of
120x40 and up: `BREAKPOINTS` in tui/app.py, app.tcss) and never changes its own size: updating
the text is a repaint, never a layout (the receive screen's scan → rendered latency depends on
it, bench/README.md). Text narrower than the area is centred vertically; text too wide for every
font falls back to one bold line, never to a cut-off code. Callers put the state symbol first
(`✔ B07-00012345`, `✖ UNKNOWN RMA`): bigfont draws ✔ ✖ ! ● so the state is a shape as well as
a colour. Content is always plain text (`clean`), never markup.
"""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from dockstation.text import clean
from dockstation.tui.widgets.bigfont import BOX3, FONTS, Font, draw, width

def big_width(text: str, font: Font = BOX3) -> int:
    return width(text, font) if text else 0


def big_rows(text: str, font: Font = BOX3) -> list[str]:
    """The rows of `text` drawn in `font` (upper-cased; unknown characters as ?)."""
    return draw(text, font)


def font_for(text: str, columns: int, rows: int) -> Font | None:
    """The largest font in which `text` fits `columns` x `rows`, or None."""
    return next((f for f in FONTS if f.rows <= rows and width(text, f) <= columns), None)


class BigText(Widget):
    """As big as its area allows (3, 5 or 7 rows), else one bold line. Plain text only."""

    DEFAULT_CSS = """
    BigText { height: 3; width: 1fr; }
    """

    text: reactive[str] = reactive("", layout=False)

    def __init__(self, text: str = "", *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.set_reactive(BigText.text, clean(text, limit=80))

    def update(self, text: str) -> None:
        self.text = clean(text, limit=80)

    @property
    def font(self) -> Font | None:
        """The font the text is drawn in now (None: one bold line)."""
        size = self.content_size
        return font_for(self.text, size.width or 80, size.height or BOX3.rows)

    def render(self) -> Text:
        value = self.text
        rows = self.content_size.height or BOX3.rows
        font = self.font
        if font is None:  # too wide for big letters: one bold line in the middle, whole
            return Text("\n" * ((rows - 1) // 2) + value, style="bold", no_wrap=True, overflow="ellipsis")
        top = "\n" * ((rows - font.rows) // 2)
        return Text(top + "\n".join(draw(value, font)), no_wrap=True, overflow="crop")
