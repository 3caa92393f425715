"""The scan log under the entry field: a header line, then the last results, newest at the bottom.

Why not a `DataTable`: on every scan the table added a row, removed the oldest, changed its
virtual size (a layout) and scrolled to the end after the next refresh (a second frame), and
re-rendered every visible cell through Rich's padding and cropping (~9 ms of a ~10 ms frame at
80x24, bench/README.md). This widget has a fixed height, never scrolls and never changes size:
a new row is a repaint of its own lines only, and each row is rendered once into a `Strip` and
then reused until it leaves the log.

On a real terminal, once the log is full, its rows are moved up by the terminal itself (scroll
margins and a scroll-up, written just before the frame) and only the new bottom row is painted:
a scan's frame was mostly the log's rows drawn again one line higher. Headless (tests, the
in-process benchmarks) and whenever anything could be over the log, every row is repainted.

Rows are `rich.text.Text` cells (the caller passes `clean`ed, markup-free text); columns have
fixed widths (time 8, symbol 1, code 20, result 40: 80 columns) and long text ends in "…".
"""

from __future__ import annotations

from collections import deque
from typing import NamedTuple

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.color import Color
from textual.geometry import Region, Size
from textual.strip import Strip

from dockstation.tui.widgets.lines import QuickOffset, fast_shape, handed_out, style_keys

COLUMNS: tuple[tuple[str, int], ...] = (("time", 8), ("", 1), ("code", 20), ("result", 40))
GAP = "  "


class LogRow(NamedTuple):
    seq: int
    cells: tuple[Text, Text, Text, Text]


def _fit(cell: Text, width: int) -> Text:
    out = cell.copy()
    out.truncate(width, overflow="ellipsis", pad=True)
    return out


def _fit_plain(plain: str, width: int) -> str:
    """`_fit(Text(plain), width).plain` without the Text: cut to `width` cells ending in "…", or
    padded to it with spaces (what Text.truncate(width, overflow="ellipsis", pad=True) does)."""
    length = cell_len(plain)
    if length > width:
        return set_cell_size(plain, width - 1) + "…"
    return plain + " " * (width - length) if length < width else plain


class ScanLog(QuickOffset):
    """The last `max_rows` results; as many as fit are shown, the newest on the bottom line."""

    COMPONENT_CLASSES = {"scan-log--header", "scan-log--even-row"}
    DEFAULT_CSS = """
    ScanLog {
        height: 1fr;
        background: $surface;
        color: $foreground;
        & > .scan-log--header { text-style: bold; background: $panel; color: $foreground; }
        &:ansi > .scan-log--header { background: ansi_bright_blue; color: ansi_default; }
        & > .scan-log--even-row { background: $surface-lighten-1 50%; }
        &:dark > .scan-log--even-row { background: $surface-darken-1 40%; }
    }
    """

    def __init__(self, *, max_rows: int = 50, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._rows: deque[LogRow] = deque(maxlen=max_rows)
        self._seq = 0
        self._strips: dict[tuple[int, int], Strip] = {}  # (seq, width) → the rendered row
        self._unpainted = 0  # rows added since the bottom line was last drawn
        self._painted_at: Region | None = None  # where the log was when it was last drawn
        self._shift: int | None = 0  # rows to move up before the next frame (None: repainted)
        self._row_styles: dict[int, Style] = {}  # odd / even row → its style
        self._plain_key: tuple[object, ...] | None = None  # (size, styles) `_background` is for
        self._background: Color | None = None  # None: rendered by Textual's styles cache

    # -- content ---------------------------------------------------------------------------
    def add_row(self, at: Text, symbol: Text, code: Text, result: Text) -> None:
        """Append one row (the oldest beyond `max_rows` drops out); one repaint, no layout."""
        self._seq += 1
        self._rows.append(LogRow(self._seq, (at, symbol, code, result)))
        if len(self._strips) > 2 * (self._rows.maxlen or 50):
            live = {0} | {row.seq for row in self._rows}
            self._strips = {k: v for k, v in self._strips.items() if k[0] in live}
        # Repaint only the lines that change (the bytes of a frame, bench_scan.py --pty): the new
        # row's line while the log is filling; once full, the rows (never the header) move up —
        # by the terminal itself when the app can have it do so (`may_scroll_terminal` now, then
        # `before_frame` when the frame is written: BenchApp._display, BenchDriver.scroll_up) and
        # only the new rows at the bottom are painted; else every row is repainted.
        width, height = self.content_size
        self._unpainted += 1
        if height <= 1:
            self.refresh()
        elif len(self._rows) < height:
            self.refresh(Region(0, len(self._rows), width, 1))
        elif self._shift is not None and self._painted_at is not None and self._may_scroll():
            self._shift += 1
            fresh = min(self._unpainted, height - 1)
            self.refresh(Region(0, height - fresh, width, fresh))
            self._move_cached_lines(height)
        else:
            self._shift = None  # repainted: nothing to move until the next frame
            self.refresh(Region(0, 1, width, height - 1))

    def _move_cached_lines(self, height: int) -> None:
        """The rows above the new one are moved by the terminal, not painted; the lines Textual
        cached for them (styled, for a later full repaint) move up with them, so that a move
        costs no render of lines no frame carries. Lines still to be drawn stay to be drawn.
        Needs the log's lines to be its content lines (no padding or border); else they are all
        drawn again."""
        cache = getattr(self._styles_cache, "_cache", None)
        dirty = getattr(self._styles_cache, "_dirty_lines", None)
        if not isinstance(cache, dict) or not isinstance(dirty, set) or self.content_offset != (0, 0):
            self._styles_cache.set_dirty(Region(0, 1, self.content_size.width, height - 1))
            return
        for y in range(1, height - 1):
            if y + 1 in dirty or y + 1 not in cache:
                cache.pop(y, None)
                dirty.add(y)
            else:
                cache[y] = cache[y + 1]

    def _may_scroll(self) -> bool:
        may = getattr(self.app, "may_scroll_terminal", None)
        return callable(may) and bool(may(self))

    def before_frame(self, partial_rows: set[int] | None) -> int:
        """A frame of this log's screen is about to be written (`BenchApp._display`): how many
        lines the terminal should move the rows up first. `partial_rows`: the screen rows the
        frame paints (None: all of it). Only when the frame paints the bottom row and the log is
        where it was last drawn; a full frame or a moved log repaints the rows anyway."""
        at = self.content_region
        if partial_rows is not None and at.bottom - 1 not in partial_rows:
            return 0  # not in this frame: the bottom rows are still to come
        shift, was = self._shift, self._painted_at
        self._shift, self._painted_at, self._unpainted = 0, at, 0
        return shift if shift and partial_rows is not None and at == was else 0

    @property
    def rows(self) -> list[tuple[Text, Text, Text, Text]]:
        """The rows kept, oldest first (more than may fit on screen)."""
        return [row.cells for row in self._rows]

    @property
    def row_count(self) -> int:
        return len(self._rows)

    def clear(self) -> None:
        self._rows.clear()
        self._strips.clear()
        self.refresh()

    # -- rendering (Textual's line API) ----------------------------------------------------
    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()  # theme or CSS changed: colours of cached rows are stale
        self._row_styles.clear()
        self._plain_key = None

    def _line(self, cells: tuple[Text, ...], style: Style) -> Text:
        line = Text(" ", style=style, no_wrap=True, end="")
        for n, (cell, (_, width)) in enumerate(zip(cells, COLUMNS)):
            if n:
                line.append(GAP)
            line.append_text(_fit(cell, width))
        return line

    def _strip(self, line: Text, width: int, style: Style) -> Strip:
        # Text.render leaves a span-less text unstyled: the row's style goes under every segment.
        return Strip(list(line.render(self.app.console))).apply_style(style).adjust_cell_length(width, style)

    def _row_strip(self, cells: tuple[Text, ...], width: int, style: Style) -> Strip:
        """`_strip(_line(cells))` built directly, the same segments (a row a scan: ~5x cheaper):
        the unstyled pieces run together in the row's style, each styled cell on its own."""
        if any(cell.spans or not isinstance(cell.style, str) for cell in cells):
            return self._strip(self._line(cells, style), width, style)
        get_style = self.app.console.get_style
        segments: list[Segment] = []
        plain = " "
        for n, (cell, (_, cell_width)) in enumerate(zip(cells, COLUMNS)):
            if n:
                plain += GAP
            text = _fit_plain(cell.plain, cell_width)
            if cell.style:
                if plain:
                    segments.append(Segment(plain, style))
                    plain = ""
                segments.append(Segment(text, style + get_style(cell.style)))
            else:
                plain += text
        if plain:
            segments.append(Segment(plain, style))
        return Strip(segments).adjust_cell_length(width, style)

    def render_lines(self, crop: Region) -> list[Strip]:
        # Each row is a full-width Strip already (`_strip`): what the styles cache would make of
        # it when the log has no padding, border or effects (lines.fast_shape) — handed out as is.
        size = self.size  # looked up once a frame (the screen's map), not once a line
        key = (size, style_keys(self))
        if key != self._plain_key:  # looked up again when a style or the size changes
            plain = self.styles.padding == (0, 0, 0, 0) and fast_shape(self)
            self._plain_key, self._background = key, self.background_colors[1] if plain else None
        if self._background is None or self.text_selection is not None:
            return super().render_lines(crop)
        return handed_out(self, [self._render_line(y, size) for y in crop.line_range], self._background, crop,
                          size.width)

    def render_line(self, y: int) -> Strip:
        return self._render_line(y, self.size)

    def _render_line(self, y: int, size: Size) -> Strip:
        # Called for every line of every frame the log is repainted in: cache hits stay cheap.
        width, height = size
        if y == 0:
            header = self._strips.get((0, width))
            if header is None:
                style = self.rich_style + self.get_component_styles("scan-log--header").rich_style
                header = self._strips[0, width] = self._strip(
                    self._line(tuple(Text(name) for name, _ in COLUMNS), style), width, style)
            return header
        rows = self._rows
        first = max(0, len(rows) - max(0, height - 1))  # the newest rows that fit
        index = first + y - 1
        if index >= len(rows):
            return Strip.blank(width, self.rich_style)
        row = rows[index]
        key = (row.seq, width)
        strip = self._strips.get(key)
        if strip is None:
            style = self._row_styles.get(row.seq % 2)
            if style is None:
                style = self.rich_style
                if row.seq % 2:  # zebra stripes follow the row, not its position on screen
                    style = style + self.get_component_styles("scan-log--even-row").rich_style
                self._row_styles[row.seq % 2] = style
            strip = self._strips[key] = self._row_strip(row.cells, width, style)
        return strip
