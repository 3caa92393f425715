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
from rich.color import ColorSystem
from rich.console import Console
from textual.strip import Strip

log = logging.getLogger("dockstation.tui")
_installed = False


def render_segments(self: Any, console: Console) -> str:
    """ChopsUpdate.render_segments, each piece of a line from the segment that holds x1: the
    segments from there to x2 (the last one cut at x2) rendered as Strip.render renders them,
    without making cropped strips of them."""
    out: list[str] = []
    append = out.append
    render_style = Strip.render_style
    color_system = console._color_system or ColorSystem.TRUECOLOR
    chops, chop_ends = self.chops, self.chop_ends
    last_y = self.spans[-1][0]
    for y, x1, x2 in self.spans:
        for end, (x, strip) in zip(chop_ends[y], chops[y].items()):
            if strip is None or x > x2 or end <= x1:
                continue
            if x >= x1 and end <= x2:  # the whole piece
                if strip.cell_length:
                    append(f"\x1b[{y + 1};{x + 1}H")  # Control.move_to(x, y)
                    append(strip.render(console))
                continue
            start, pos, pieces = -1, x, []
            for segment in strip:
                width = cell_len(segment.text)
                if start < 0:
                    if pos + width <= x1:  # a whole segment before the change: skipped
                        pos += width
                        continue
                    start = pos
                if pos + width > x2:  # the segment that holds x2: cut there
                    if pos < x2:
                        pieces.append(segment.split_cells(x2 - pos)[0])
                    pos = x2
                    break
                pieces.append(segment)
                pos += width
            if start >= 0 and pos > start:
                append(f"\x1b[{y + 1};{start + 1}H")
                append("".join([text if style is None else render_style(style, text, color_system)
                                for text, style, _ in pieces]))
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


def _layers(compositor: Any) -> tuple[list[tuple[Any, int, int, int, int, int, int]], list[list[int]]]:
    """The compositor's visible widgets front to back, each as (widget, top, bottom, first cut,
    last cut, its crop's x, its region's y) — the part of it on screen — and each line's chop
    ends; worked out again only when the compositor's map or cuts change (a layout, a resize)."""
    visible_widgets, cuts = compositor.visible_widgets, compositor.cuts
    kept = getattr(compositor, "_ds_layers", None)
    if kept is not None and kept[0] is visible_widgets and kept[1] is cuts:
        return kept[2], kept[3]
    layers = []
    for widget, (region, clip) in visible_widgets.items():
        visible = region.intersection(clip)
        if visible.area:
            layers.append((widget, visible.y, visible.bottom, visible.x, visible.right, visible.x - region.x,
                           region.y))
    chop_ends = [cut_set[1:] for cut_set in cuts]
    compositor._ds_layers = (visible_widgets, cuts, layers, chop_ends)
    return layers, chop_ends


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
    layers, chop_ends = _layers(self)
    cuts = self.cuts
    # Only the changed lines' chops are ever read (ChopsUpdate goes through the spans' lines)
    unchanged: dict[int, Any] = {}
    chops: list[dict[int, Any]] = [unchanged] * len(cuts)
    for y in rows:
        chops[y] = dict.fromkeys(cuts[y][:-1])

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

    last_row = rows[-1]
    for widget, top, bottom, first_cut, last_cut, crop_x, region_y in layers:  # front to back
        if top > last_row:
            continue
        first = bisect_left(rows, top)
        if first == len(rows) or rows[first] >= bottom:
            continue  # none of its lines changed
        mine = [y for y in rows[first:bisect_left(rows, bottom)] if needed(y, first_cut, last_cut)]
        width = last_cut - first_cut
        for y0, y1 in _runs(mine):
            strips = widget.render_lines(Region(crop_x, y0 - region_y, width, y1 - y0 + 1))
            for y, strip in zip(range(y0, y1 + 1), strips):
                chops_line = chops[y]
                final_cuts = [cut for cut in cuts[y] if last_cut >= cut >= first_cut]
                if len(final_cuts) == 2 and strip.cell_length == width:  # one piece: the strip
                    if chops_line.get(first_cut) is None:
                        chops_line[first_cut] = strip
                    continue
                for cut, piece in zip(final_cuts, strip.divide([cut - first_cut for cut in final_cuts[1:]])):
                    if chops_line.get(cut) is None:  # front to back: the first piece of a cut wins
                        chops_line[cut] = piece
    return ChopsUpdate(chops, spans, chop_ends)


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
    if widget.screen is not app.screen:
        return False
    region = widget.region  # looked up once: the screen's map
    return region.x == 0 and region.width == app.size.width


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
