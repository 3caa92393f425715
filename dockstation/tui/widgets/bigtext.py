"""Big letters for what must be readable from two metres: the LPN, the lane, the error.

A terminal cannot enlarge its font, so the text is drawn three rows tall with box-drawing
characters (heavy strokes; letters that could pass for digits, O/0 and S/5, are drawn with
light round strokes instead). Text that does not fit the widget's width falls back to one
bold line, never to a cut-off code.
"""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from dockstation.text import clean

# Each glyph: three rows of exactly three cells.
FONT: dict[str, tuple[str, str, str]] = {
    "0": ("┏━┓", "┃ ┃", "┗━┛"), "1": ("╺┓ ", " ┃ ", "╺┻╸"), "2": ("╺━┓", "┏━┛", "┗━╸"),
    "3": ("╺━┓", " ━┫", "╺━┛"), "4": ("╻ ╻", "┗━┫", "  ╹"), "5": ("┏━╸", "┗━┓", "╺━┛"),
    "6": ("┏━╸", "┣━┓", "┗━┛"), "7": ("╺━┓", "  ┃", "  ╹"), "8": ("┏━┓", "┣━┫", "┗━┛"),
    "9": ("┏━┓", "┗━┫", "╺━┛"),
    "A": ("┏━┓", "┣━┫", "╹ ╹"), "B": ("┳━┓", "┣━┫", "┻━┛"), "C": ("┏━╸", "┃  ", "┗━╸"),
    "D": ("┳━┓", "┃ ┃", "┻━┛"), "E": ("┏━╸", "┣╸ ", "┗━╸"), "F": ("┏━╸", "┣╸ ", "╹  "),
    "G": ("┏━╸", "┃╺┓", "┗━┛"), "H": ("╻ ╻", "┣━┫", "╹ ╹"), "I": ("╺┳╸", " ┃ ", "╺┻╸"),
    "J": ("  ╻", "  ┃", "┗━┛"), "K": ("╻┏╸", "┣┫ ", "╹┗╸"), "L": ("╻  ", "┃  ", "┗━╸"),
    "M": ("┏┳┓", "┃┃┃", "╹╹╹"), "N": ("┏┓╻", "┃┃┃", "╹┗┛"), "O": ("╭─╮", "│ │", "╰─╯"),
    "P": ("┏━┓", "┣━┛", "╹  "), "Q": ("┏━┓", "┃ ┃", "┗━╋"), "R": ("┏━┓", "┣┳┛", "╹┗╸"),
    "S": ("╭─╴", "╰─╮", "╶─╯"), "T": ("╺┳╸", " ┃ ", " ╹ "), "U": ("╻ ╻", "┃ ┃", "┗━┛"),
    "V": ("╻ ╻", "╲ ╱", " ╹ "), "W": ("╻╻╻", "┃┃┃", "┗┻┛"), "X": ("╲ ╱", " ╳ ", "╱ ╲"),
    "Y": ("╻ ╻", "┗┳┛", " ╹ "), "Z": ("╺━┓", " ╱ ", "┗━╸"),
    "-": ("   ", "╺━╸", "   "), " ": ("   ", "   ", "   "), ".": ("   ", "   ", " ╹ "),
    "/": ("  ╱", " ╱ ", "╱  "), ":": ("   ", " ╏ ", "   "), "_": ("   ", "   ", "━━━"),
}
UNKNOWN = ("╺━┓", " ┏┛", " ╹ ")
GLYPH_WIDTH = 3
SPACING = 1


def big_width(text: str) -> int:
    return len(text) * (GLYPH_WIDTH + SPACING) - SPACING if text else 0


def big_rows(text: str) -> list[str]:
    """The three rows of `text` drawn in the big font (upper-cased; unknown characters as ?)."""
    glyphs = [FONT.get(ch, UNKNOWN) for ch in text.upper()]
    gap = " " * SPACING
    return [gap.join(g[row] for g in glyphs) for row in range(3)]


class BigText(Widget):
    """Three rows tall when it fits, else one bold line. Content is always plain text."""

    DEFAULT_CSS = """
    BigText { height: 3; width: 1fr; }
    """

    text: reactive[str] = reactive("", layout=False)

    def __init__(self, text: str = "", *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.set_reactive(BigText.text, clean(text, limit=80))

    def update(self, text: str) -> None:
        self.text = clean(text, limit=80)

    def render(self) -> Text:
        value = self.text
        width = self.content_size.width or 80
        if big_width(value) <= width:
            return Text("\n".join(big_rows(value)), no_wrap=True, overflow="crop")
        # Too wide for big letters: one bold line in the middle row, whole.
        return Text("\n" + value, style="bold", no_wrap=True, overflow="ellipsis")
