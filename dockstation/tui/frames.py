"""The frames the bench writes: partial frames from where the change starts; the full scan log
moved up by the terminal.

When part of a line changes, Textual's compositor knows the changed span (x1..x2) but its
`ChopsUpdate.render_segments` writes each widget's piece of the line from the widget's left edge
up to x2: a new last digit of the LPN in big letters rewrote three rows of ~60 cells each, where
three cells per row changed (bench_scan.py --pty: the bytes a terminal receives per scan).

`render_segments` here writes from the start of the segment that holds x1 instead (a segment is
never split, so a wide character is never cut in half) to x2 — the same cells, the same styles,
fewer bytes. Widgets that draw in pieces (BigText: a segment per glyph) gain the most.

What goes into a partial frame is rendered more narrowly too (`render_partial_update`): Textual
renders every widget that overlaps the rectangle around ALL the changes — after a scan, from
the state line to the log's new row, i.e. the header, the entry field, the footer, the screen and
its containers, whole — and then keeps only the changed lines. Here a widget is rendered only if
it overlaps a changed region, and only its changed lines (per run of lines) where a changed
cell is not drawn already by a widget in front of it (the screen and its containers behind the
changed widgets are not rendered at all): the same strips for the lines written, about half the
widget renders per scan.

Installed once by the bench app (`install()`); if Textual's `ChopsUpdate` no longer has the
shape this was written for (textual 8.2), nothing is changed and frames are Textual's own.

The scan log, once full, moves every row up one line per scan: Textual can only paint them all
again, one line higher (most of a scan's bytes). A terminal can move a band of full-width rows
itself (scroll margins, scroll up). `before_frame` (every frame of the receiving screen, from
`BenchApp._display`) has BenchDriver write that just before the frame that paints the log's new
bottom row, when it is safe: a real terminal, the log on the screen shown, full width, where the
frame before drew it, and no notification over it (widgets/scan_log.py decides per row added;
headless and otherwise the rows are repainted as before).
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from typing import Any

from rich.cells import cell_len
from rich.console import Console
from rich.control import Control

log = logging.getLogger("dockstation.tui")
_installed = False


def render_segments(self: Any, console: Console) -> str:
    """ChopsUpdate.render_segments, each piece of a line from the segment that holds x1."""
    out: list[str] = []
    append = out.append
    move_to = Control.move_to
    chops, chop_ends = self.chops, self.chop_ends
    last_y = self.spans[-1][0]
    for y, x1, x2 in self.spans:
        for end, (x, strip) in zip(chop_ends[y], chops[y].items()):
            if strip is None or x > x2 or end <= x1:
                continue
            if x < x1:  # skip the whole segments before the change
                skip = 0
                for segment in strip:
                    width = cell_len(segment.text)
                    if x + skip + width > x1:
                        break
                    skip += width
                if skip:
                    strip, x = strip.crop(skip, strip.cell_length), x + skip
            if end > x2:
                strip = strip.crop(0, x2 - x)
            if strip.cell_length:
                append(move_to(x, y).segment.text)
                append(strip.render(console))
        if y != last_y:
            append("\n")
    return "".join(out)


def _runs(rows: list[int]) -> list[tuple[int, int]]:
    """Sorted line numbers as runs of consecutive lines: [(first, last), …]."""
    out: list[tuple[int, int]] = []
    for y in rows:
        if out and y == out[-1][1] + 1:
            out[-1] = (out[-1][0], y)
        else:
            out.append((y, y))
    return out


def render_partial_update(self: Any) -> Any:
    """Compositor.render_partial_update, rendering only the changed lines of the widgets that
    overlap a changed region (Textual: every widget in the rectangle around all the changes)."""
    from textual._compositor import ChopsUpdate
    from textual.geometry import Region

    update_regions = self._dirty_regions.copy()
    self._dirty_regions.clear()
    if not update_regions:
        return None
    height = self.size.height
    spans = list(self._regions_to_spans(update_regions))
    row_spans: dict[int, list[tuple[int, int]]] = {}
    for y, x1, x2 in spans:
        if 0 <= y < height:
            row_spans.setdefault(y, []).append((x1, x2))
    rows = sorted(row_spans)
    cuts = self.cuts
    chops: list[dict[int, Any]] = [dict.fromkeys(cut_set[:-1]) for cut_set in cuts]

    def needed(y: int, first_cut: int, last_cut: int) -> bool:
        """Whether a piece of this row between the two cuts is still to be drawn: in a changed
        span and not drawn by a widget in front (a container behind its children: not needed)."""
        line, row_cuts, changed = chops[y], cuts[y], row_spans[y]
        for index in range(bisect_left(row_cuts, first_cut), len(row_cuts) - 1):
            cut = row_cuts[index]
            if cut >= last_cut:
                break
            if line[cut] is None:
                end = row_cuts[index + 1]
                for x1, x2 in changed:
                    if cut < x2 and end > x1:
                        return True
        return False

    for widget, (region, clip) in self.visible_widgets.items():  # front to back
        visible = region.intersection(clip)
        top, bottom = visible.y, visible.bottom
        first = bisect_left(rows, top)
        if not visible.area or first == len(rows) or rows[first] >= bottom:
            continue  # none of its lines changed
        first_cut, last_cut = visible.column_span
        mine = [y for y in rows[first:bisect_left(rows, bottom)] if needed(y, first_cut, last_cut)]
        for y0, y1 in _runs(mine):
            strips = widget.render_lines(Region(visible.x - region.x, y0 - region.y, visible.width, y1 - y0 + 1))
            for y, strip in zip(range(y0, y1 + 1), strips):
                chops_line = chops[y]
                final_cuts = [cut for cut in cuts[y] if last_cut >= cut >= first_cut]
                for cut, piece in zip(final_cuts, strip.divide([cut - visible.x for cut in final_cuts[1:]])):
                    if chops_line.get(cut) is None:  # front to back: the first piece of a cut wins
                        chops_line[cut] = piece
    return ChopsUpdate(chops, spans, [cut_set[1:] for cut_set in cuts])


def install() -> None:
    """Use `render_segments` above for Textual's partial frames (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    try:
        from textual._compositor import ChopsUpdate, Compositor
    except ImportError:  # pragma: no cover — another Textual: its own frames
        log.info("textual has no ChopsUpdate: partial frames are Textual's own")
        return
    if not {"chops", "chop_ends", "spans"} <= set(ChopsUpdate([], [(0, 0, 0)], []).__dict__):
        log.info("textual's ChopsUpdate changed: partial frames are Textual's own")  # pragma: no cover
        return
    ChopsUpdate.render_segments = render_segments  # type: ignore[method-assign]
    if all(hasattr(Compositor, name) for name in ("render_partial_update", "_regions_to_spans", "cuts",
                                                  "visible_widgets")):
        Compositor.render_partial_update = render_partial_update  # type: ignore[method-assign]


def may_scroll(app: Any, widget: Any) -> bool:
    """Whether the terminal can move rows of `widget` now: a real terminal through BenchDriver,
    `widget` on the screen shown and full width (whole rows move), no notification over it."""
    if app.is_headless or app.is_inline or not hasattr(app._driver, "scroll_up") or len(app._notifications):
        return False
    return bool(widget.screen is app.screen and widget.region.x == 0 and widget.region.width == app.size.width)


def before_frame(app: Any, screen: Any, renderable: Any) -> None:
    """A frame of `screen` is about to be written: first the scan log's move, if it has one due."""
    scan_log = getattr(app.receive_screen, "_log", None)
    if screen is not app.receive_screen or scan_log is None or renderable is None or app._batch_count \
            or not hasattr(app._driver, "scroll_up"):
        return
    spans = getattr(renderable, "spans", None)  # a partial frame's rows; a full frame has none
    lines = scan_log.before_frame(None if spans is None else {y for y, _, _ in spans})
    if lines and app.may_scroll_terminal(scan_log):
        rows = scan_log.content_region
        app._driver.scroll_up(rows.y + 1, rows.bottom - 1, lines)
    elif lines:  # not now after all (a notification came over it): the rows again, next frame
        scan_log.refresh()
