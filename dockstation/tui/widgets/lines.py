"""Widgets whose lines are built once per change and kept as Strips: the receiving screen's state
line, details, big text and lane.

Why: each scan changes these four widgets, and Textual renders a changed widget through its
general pipeline on every frame it is dirty — the content made a Visual again, each line through
the styles cache (padding, tint, opacity, borders, link styles, selection): ~0.3–0.5 ms per
widget per frame at 80x24, most of a scan's frame (bench/README.md). Here a widget's rows are
built when its content, size or style changes, with the styles the pipeline would give each
cell (`Look`: the widget's style under its text, the background's in padding and past the text),
and `render_lines` (what the compositor calls) hands out the kept rows. A text whose lines fit
and whose styles are attributes only (bold: the receiving screen's) is cut into rows directly;
one that wraps goes through Textual's `Visual.render_strips` as a `Static`'s does. A new content
repaints only the rows that differ (`changed_rows`). The scan log (scan_log.py) hands out its
row strips the same way.

Only for the plain shapes these widgets have: no border, outline, tint, opacity, hatch, vertical
padding, line padding, alignment or text selection (`fast_shape`). Anything else and the widget
is rendered by Textual's own pipeline (`render()` is always defined: Textual's path is the
fallback, and the tests' reference: tests/tui/test_lines.py compares the two cell by cell after
each kind of result, and after a theme change).
"""

from __future__ import annotations

from operator import attrgetter
from typing import NamedTuple

from rich.cells import cell_len
from rich.console import Console
from rich.segment import Segment
from rich.style import Style as RichStyle
from rich.text import Text
from textual.color import Color
from textual.geometry import Offset, Region
from textual.strip import Strip
from textual.style import Style
from textual.filter import ANSIToTruecolor, DimFilter, LineFilter, Monochrome, NoColor
from textual.visual import RenderOptions, Visual, visualize
from textual.widget import Widget

# Textual's line filters that map each segment's style alone (their `apply`): applied to a row's
# styles as it is built (KeptLines.painted) rather than to the row afterwards, a Strip each time.
PER_STYLE = (ANSIToTruecolor, DimFilter, Monochrome, NoColor)


def fast_shape(widget: Widget) -> bool:
    """Whether `widget`'s lines are its content rows padded left and right, nothing else."""
    styles = widget.styles
    border = styles.border
    outline = styles.outline
    padding = styles.padding
    return (not any(edge for edge, _ in border) and not any(edge for edge, _ in outline)
            and not padding.top and not padding.bottom and not styles.tint.a
            and styles.opacity == 1 and styles.text_opacity == 1 and widget.opacity == 1
            and (not styles.has_rule("hatch") or styles.hatch == "none")
            and styles.content_align == ("left", "top") and styles.text_align in ("start", "left")
            and not styles.get_rule("line_pad", 0) and widget.text_selection is None)


class Look(NamedTuple):
    """What a widget's rows are built with, as the styles cache would style them."""
    style: Style  # the widget's own (colour, background, bold…): under its text
    inner: RichStyle  # the background alone: padding and the rest of a line
    background: Color  # for the app's line filters
    width: int  # the content area's
    height: int
    left: int  # padding
    right: int
    filters: tuple[LineFilter, ...]  # the app's line filters, applied to the rows as they are built
    per_style: bool  # each filter maps each segment's style alone: applied per style (`painted`)


def style_keys(widget: Widget) -> tuple[int, ...] | None:
    """Changes when a style of the widget or of an ancestor changes (Textual's own cache key for a
    widget's visual style; None if this Textual has none)."""
    try:
        return tuple(node.styles._cache_key for node in widget.ancestors_with_self)
    except AttributeError:  # pragma: no cover — another Textual
        return None


class QuickOffset(Widget):
    """A widget whose `content_offset` (what every `refresh(region)` translates its regions by)
    is its padding and border alone: Textual adds the scrollbars' gutter, which is on the right
    and bottom only (`Widget.scrollbar_gutter`) and so never moves the top left corner, but is
    worked out from the overflow styles and scrollbar sizes on each call — the costly part of a
    refresh of a region (tests/tui/test_lines.py compares the two)."""

    @property
    def content_offset(self) -> Offset:
        x, y = self.styles.gutter.top_left
        return Offset(x, y)


class KeptLines(QuickOffset):
    """A widget whose rows (padding included) are built by `content_rows` and kept until its
    content, size or style changes. Subclasses call `content_changed()` when their content does."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._rows: list[Strip] | None = None
        self._look: Look | None = None
        self._look_key: tuple[object, ...] | None = None
        self._painted: dict[RichStyle, RichStyle] = {}  # a style → through the look's filters

    def content_rows(self, width: int, height: int, style: Style) -> list[Strip] | None:
        """The content area's rows (unpadded, any length ≤ height), or None: Textual renders."""
        raise NotImplementedError

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._look_key = None  # a new colour or theme: looked up and built again

    def look(self) -> Look | None:
        """How the rows are styled now (None: not a shape `fast_shape` takes)."""
        keys = style_keys(self)
        filters = tuple(self.get_line_filters())  # ANSI colours on or off: other rows
        key = (self.outer_size, keys, filters)
        if keys is not None and key == self._look_key and self.text_selection is None:
            return self._look
        self._rows, self._look, self._look_key, self._painted = None, None, None, {}
        size = self.outer_size  # padding included: the region the compositor crops
        if keys is None or not size or not fast_shape(self):
            return None
        base_background, background = self.background_colors
        _, right, _, left = self.styles.padding
        width, height = self.content_size
        self._look = Look(self.visual_style, Style(background=base_background + background).rich_style,
                          background, width, height, left, right, filters,
                          all(type(line_filter) in PER_STYLE for line_filter in filters))
        self._look_key = key
        return self._look

    def kept_rows(self) -> list[Strip] | None:
        """The widget's rows as the styles cache would make them (None: Textual renders)."""
        look = self.look()
        if look is None:
            return None
        if self._rows is None:
            self._rows = self.build_rows(look)
        return self._rows

    def painted(self, style: RichStyle) -> RichStyle:
        """`style` as the look's line filters make it (rows built of these need no filter pass:
        `look.per_style`; each style worked out once per look)."""
        out = self._painted.get(style)
        if out is None:
            look = self._look
            out = style
            for line_filter in look.filters if look is not None else ():
                out = line_filter.apply([Segment(" ", out)], look.background)[0].style
            self._painted[style] = out
        return out

    def build_rows(self, look: Look) -> list[Strip] | None:
        """The full rows, padding included: `content_rows` cut or filled to the content width with
        the background style, then padded with it; rows past the text blank in the widget's style;
        then through the app's line filters, as the styles cache applies them."""
        width, height, inner = look.width, look.height, look.inner
        rows = self.content_rows(width, height, look.style) if width and height else []
        if rows is None:
            return None
        kept = [_padded(row, width, look.left, look.right, inner) for row in rows[:height]]
        blank = _padded(Strip.blank(width, look.style.rich_style), width, look.left, look.right, inner)
        kept.extend([blank] * (self.outer_size.height - len(kept)))
        for line_filter in look.filters:
            kept = [row.apply_filter(line_filter, look.background) for row in kept]
        return kept

    def content_changed(self) -> None:
        """Repaint the rows that differ from those on screen (all of them if unsure)."""
        old, self._rows = self._rows, None
        new = self.kept_rows() if old is not None else None
        if new is None or old is None or len(new) != len(old):
            self.refresh()
            return
        changed = changed_rows(old, new)
        if changed:  # regions are in content coordinates: the whole row, padding included
            width, left = self.outer_size.width, self.styles.padding.left
            self.refresh(*(Region(-left, y, width, 1) for y in changed))

    def render_lines(self, crop: Region) -> list[Strip]:
        rows = self.kept_rows()  # through the line filters already (build_rows)
        if rows is None:
            return super().render_lines(crop)
        return cropped(rows[crop.y:crop.bottom], crop, self.outer_size.width)


def handed_out(widget: Widget, lines: list[Strip], background: Color, crop: Region, width: int) -> list[Strip]:
    """Kept full-width rows as the compositor wants them: through the app's line filters (as the
    styles cache applies them), cut to the crop's columns."""
    for line_filter in widget.get_line_filters():
        lines = [line.apply_filter(line_filter, background) for line in lines]
    return cropped(lines, crop, width)


def cropped(lines: list[Strip], crop: Region, width: int) -> list[Strip]:
    """Full-width rows cut to the crop's columns."""
    if crop.column_span != (0, width):
        x1, x2 = crop.column_span
        lines = [line.crop(x1, x2) for line in lines]
    return lines


def changed_rows(old: list[Strip], new: list[Strip]) -> list[int]:
    return [y for y, (a, b) in enumerate(zip(old, new)) if a != b]


def _styled_runs(text: Text, console: Console) -> list[tuple[str, RichStyle | None]]:
    """What `text.render(console, end="\n")` yields, as (text, style) pairs: when its spans do not
    overlap (the receiving screen's), worked out directly — a run between spans in the text's
    style, a span's in the text's style combined with its own, as Rich combines them — without
    Rich's general stack of styles; else from Rich."""
    plain, spans = text.plain, text.spans
    if not spans:
        return [(plain, None), ("\n", None)]
    runs: list[tuple[str, RichStyle | None]] = []
    get_style = console.get_style
    base = get_style(text.style, default=RichStyle.null())
    position = 0
    for span in sorted(spans, key=attrgetter("start")):
        start, end = span.start, span.end
        if start < position or end <= start or end > len(plain):  # overlapping, empty or past the end
            return [(segment.text, segment.style) for segment in text.render(console, end="\n")]
        if start > position:
            runs.append((plain[position:start], base))
        runs.append((plain[start:end], RichStyle.combine((base, get_style(span.style, default=RichStyle.null())))))
        position = end
    if position < len(plain):
        runs.append((plain[position:], base))
    runs.append(("\n", None))
    return runs


def _padded(row: Strip, width: int, left: int, right: int, inner: RichStyle) -> Strip:
    """What the styles cache makes of a content row: cut or filled to the content width with the
    background style, then the padding in it."""
    row = row.adjust_cell_length(width, inner)
    if left or right:
        segments = list(row)
        if left:
            segments.insert(0, Segment(" " * left, inner))
        if right:
            segments.append(Segment(" " * right, inner))
        return Strip(segments, width + left + right)
    return row


class TextLines(KeptLines):
    """Plain text (a Rich `Text`, never markup: callers `clean` it) wrapped to the widget's width,
    as a `Static` shows it: the state line and the details. The same text again repaints nothing;
    a new one repaints the rows that differ — with a fixed height (CSS); an `auto` height is laid
    out again on each change, as a `Static`'s."""

    DEFAULT_CSS = """
    TextLines { height: auto; }
    """

    def __init__(self, text: Text | None = None, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._text = text if text is not None else Text("")
        self._visual: Visual | None = None
        self._for_look: Look | None = None  # the look `_combined` and `_at` were made for
        self._combined: dict[RichStyle | None, Style] = {}
        self._at: dict[tuple[RichStyle | None, int, int], RichStyle] = {}  # … with an offset

    @property
    def content(self) -> Text:
        return self._text

    @property
    def visual(self) -> Visual:
        """The text as Textual renders it (what `Static.visual` is)."""
        if self._visual is None:
            self._visual = visualize(self, self._text, markup=False)
        return self._visual

    def render(self) -> Visual:
        return self.visual

    def update(self, text: Text) -> None:
        old = self._text
        if text.plain == old.plain and text.spans == old.spans and text.style == old.style:
            return
        self._text, self._visual = text, None
        height = self.styles.height
        if height is None or height.is_auto:  # its height is its text's: laid out again
            self._rows = None
            self.refresh(layout=True)
            return
        self.content_changed()

    def build_rows(self, look: Look) -> list[Strip] | None:
        return self._plain_rows(look) or super().build_rows(look)

    def content_rows(self, width: int, height: int, style: Style) -> list[Strip] | None:
        # What Visual.to_strips does for a Static's text (fast_shape: no more than that)
        return self.visual.render_strips(width, height, style, RenderOptions(self._get_style, self.styles))

    def _plain_rows(self, look: Look) -> list[Strip] | None:
        """The full rows straight from the text when no line needs wrapping and its styles are
        attributes only (bold…, as the receiving screen's are): the segments and styles Textual's
        Content and styles cache make of it (the offsets text selection uses included), ~5x
        cheaper. None: anything else (Textual's Content renders it)."""
        text = self._text
        plain = text.plain
        width, height, left, right, inner = look.width, look.height, look.left, look.right, look.inner
        if "\t" in plain or not width or not height or not look.per_style:
            return None
        console = self.app.console
        style = look.style
        if self._for_look is not look:  # the widget's style under each span's: combined once each
            self._for_look, self._combined, self._at = look, {}, {}
        styles, at = self._combined, self._at
        inner = self.painted(inner)  # every style through the line filters (KeptLines.painted)
        pad_left = [Segment(" " * left, inner)] if left else []
        pad_right = [Segment(" " * right, inner)] if right else []
        whole = console.get_style(text.style) if text.style and not text.spans else None
        rows: list[Strip] = []
        segments, x, cells, y = list(pad_left), 0, 0, 0
        # The text rendered once (Rich leaves the text's own style out when it has no spans),
        # its segments cut into lines at each newline.
        for run, run_style in _styled_runs(text, console):
            span_style = whole or run_style
            for n, piece in enumerate(run.split("\n")):
                if n:  # a line ends
                    if cells > width:
                        return None  # it wraps: Textual's Content wraps it
                    if cells < width:
                        segments.append(Segment(" " * (width - cells), inner))
                    rows.append(Strip(segments + pad_right, width + left + right))
                    if len(rows) == height:
                        break
                    segments, x, cells, y = list(pad_left), 0, 0, y + 1
                if not piece:
                    continue
                rich_style = at.get((span_style, x, y))
                if rich_style is None:
                    combined = styles.get(span_style)
                    if combined is None:
                        if span_style is not None and (span_style.color is not None or span_style.bgcolor is not None
                                                       or span_style.link or span_style._meta):
                            return None
                        combined = styles[span_style] = style + (
                            Style.from_rich_style(span_style) if span_style is not None else Style.null())
                    if len(at) > 256:
                        at.clear()
                    rich_style = at[span_style, x, y] = self.painted(combined.rich_style_with_offset(x, y))
                segments.append(Segment(piece, rich_style))
                x += len(piece)
                cells += cell_len(piece)
            if len(rows) == height:
                break
        blank = Strip([*pad_left, Segment(" " * width, self.painted(style.rich_style)), *pad_right],
                      width + left + right)
        rows.extend([blank] * (self.outer_size.height - len(rows)))  # past the text
        return rows
