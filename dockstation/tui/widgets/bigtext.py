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

from itertools import zip_longest

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.style import Style

from dockstation.text import clean
from dockstation.tui.widgets.bigfont import BOX3, FONTS, Font, draw, width
from dockstation.tui.widgets.lines import KeptLines, Look


def one_cell(font: Font) -> bool:
    """Whether every character `font` draws with is one cell wide (box drawing, blocks, half
    blocks): a drawn row's columns are then its characters, which `BigText` counts on
    (tests/tui/test_lines.py checks each font)."""
    return all(cell_len(row) == len(row) for glyph in (*font.glyphs.values(), font.unknown) for row in glyph)


def big_width(text: str, font: Font = BOX3) -> int:
    return width(text, font) if text else 0


def big_rows(text: str, font: Font = BOX3) -> list[str]:
    """The rows of `text` drawn in `font` (upper-cased; unknown characters as ?)."""
    return draw(text, font)


def font_for(text: str, columns: int, rows: int) -> Font | None:
    """The largest font in which `text` fits `columns` x `rows`, or None."""
    return next((f for f in FONTS if f.rows <= rows and width(text, f) <= columns), None)


class BigText(KeptLines):
    """As big as its area allows (3, 5 or 7 rows), else one bold line. Plain text only."""

    DEFAULT_CSS = """
    BigText { height: 3; width: 1fr; }
    """

    def __init__(self, text: str = "", *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._cuts: dict[int, int] = {}  # row → the column its last change started at
        self._drawn: dict[tuple[str, int, int], list[str] | None] = {}
        self._text = clean(text, limit=80)

    @property
    def text(self) -> str:
        """The text shown (set with `update`)."""
        return self._text

    def update(self, text: str) -> None:
        """Show `text`. A new text repaints only the cells that change: B07-00000004 → …05 is one
        glyph, not the whole 3 x 78 cells — the bytes of a frame on a real terminal (bench_scan.py
        --pty). A new font or width, a colour or a size change repaint the widget as usual. (Not a
        reactive attribute: a scan updates two big texts, and Textual's reactive machinery was a
        fifth of each update.)"""
        new = clean(text, limit=80)
        old = self._text
        if new == old:
            return
        self._text = new
        regions = self._changed(old, new) if self.is_mounted else None
        # Each row is drawn as one segment, cut where its change starts: a partial frame starts
        # at a segment (tui/frames.py), and every segment costs its own colour codes.
        self._cuts = {r.y: r.x for r in regions or ()}
        self._rows = None  # built again, with these cuts, when next rendered
        if regions is None:
            self.refresh()
        elif regions:
            self.refresh(*regions)

    def _lines(self, value: str, columns: int, rows: int) -> list[str] | None:
        """What `render` draws for `value` in a content area of `columns` x `rows`, row by row
        (None: the one-line fallback). The last two texts' are kept: a new text is drawn once, to
        compare and then to render."""
        key = (value, columns or 80, rows or BOX3.rows)
        drawn = self._drawn.get(key, False)
        if drawn is False:
            font = font_for(*key)
            drawn = None if font is None else [""] * ((key[2] - font.rows) // 2) + draw(value, font)
            self._drawn = {k: v for k, v in self._drawn.items() if k[0] == self.text}  # the one shown
            self._drawn[key] = drawn
        return drawn

    def _changed(self, old: str, new: str) -> list[Region] | None:
        """The cells of each row that differ between the two texts as drawn; None: all of it."""
        styles = self.styles
        size = self.content_size
        if not size or styles.text_align not in ("start", "left") \
                or styles.content_align_horizontal != "left":  # drawn from the left edge only
            return None
        before, after = self._lines(old, *size), self._lines(new, *size)
        if before is None or after is None:
            return None
        regions = []  # cells the same in both are right on screen already, whatever the fonts
        for y, (a, b) in enumerate(zip_longest(before, after, fillvalue="")):
            if a == b:
                continue
            end = max(len(a), len(b))
            a, b = a.ljust(end), b.ljust(end)
            first = _common_prefix(a, b)
            last = end - 1 - _common_prefix(a[::-1], b[::-1])
            regions.append(Region(first, y, last - first + 1, 1))
        return regions

    @property
    def font(self) -> Font | None:
        """The font the text is drawn in now (None: one bold line)."""
        size = self.content_size
        return font_for(self.text, size.width or 80, size.height or BOX3.rows)

    def build_rows(self, look: Look) -> list[Strip] | None:
        """What `render` draws, as Textual renders `Rows` (the styles cache's part as in
        KeptLines.build_rows): each row's pieces in the widget's style, the rest of the line in
        the background's."""
        lines = self._lines(self.text, look.width, look.height)  # the content area's size
        if lines is None or look.left or look.right or not look.per_style:
            return super().build_rows(look)  # the one-line fallback: Textual renders the Text
        # every style through the line filters (KeptLines.painted)
        rich_style, inner, width = self.painted(look.style.rich_style), self.painted(look.inner), look.width
        rows = []
        for pieces in Rows(lines[:look.height], self._cuts).pieces():
            cells = sum(len(piece) for piece in pieces)  # a character is a cell (one_cell)
            if cells > width:
                return super().build_rows(look)
            segments = [Segment(piece, rich_style) for piece in pieces]
            if cells < width:
                segments.append(Segment(" " * (width - cells), inner))
            rows.append(Strip(segments, width))
        blank = Strip([Segment(" " * width, rich_style)], width)
        rows.extend([blank] * (self.outer_size.height - len(rows)))  # past the text
        return rows

    def content_rows(self, columns: int, rows: int, style: Style) -> list[Strip] | None:
        lines = self._lines(self.text, columns, rows)  # drawn for the content area
        if lines is None:
            return None  # the one-line fallback: Textual renders the Text
        rich_style = style.rich_style
        return [Strip([Segment(text, rich_style) for text in pieces]).crop(0, columns)
                for pieces in Rows(lines, self._cuts).pieces()]

    def render(self) -> Text | Rows:
        value = self.text
        size = self.content_size
        lines = self._lines(value, *size)
        if lines is None:  # too wide for big letters: one bold line in the middle, whole
            rows = size.height or BOX3.rows
            return Text("\n" * ((rows - 1) // 2) + value, style="bold", no_wrap=True, overflow="ellipsis")
        return Rows(lines, self._cuts)


def _common_prefix(a: str, b: str) -> int:
    """How many characters two different strings start with in common (slices compared)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


class Rows:
    """The rows as unstyled segments (a Rich renderable: what `Text` of the rows draws), each row
    cut in two at its column in `cuts`."""

    def __init__(self, rows: list[str], cuts: dict[int, int]) -> None:
        self.rows, self.cuts = rows, cuts

    def pieces(self) -> list[list[str]]:
        """Each row's texts: the row, cut at its column; nothing for an empty row."""
        out = []
        for y, row in enumerate(self.rows):
            cut = self.cuts.get(y, 0)
            out.append([row[:cut], row[cut:]] if 0 < cut < len(row) else [row] if row else [])
        return out

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for y, pieces in enumerate(self.pieces()):
            if y:
                yield Segment.line()
            for text in pieces:
                yield Segment(text)
