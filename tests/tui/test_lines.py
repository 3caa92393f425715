"""The receiving screen's kept lines (widgets/lines.py, and the scan log's rows) draw what
Textual's own pipeline draws, and a scan's widget updates need no layout of the screen.

The state line, the big text, the lane and the details build their rows once per change, the
scan log each row once, and hand them to the compositor; Textual's styles cache is the
reference: after each kind of result at 80x24 (the signed-out prompt, a receipt, each kind of
exception, a multi-line parcel, a refused command, a cancelled pick) every row of each widget — characters, colours, bold, the offsets text selection uses —
must equal what `Widget.render_lines` (Textual's path, what a `Static` and the old `BigText`
drew) makes of the same content.
"""

from __future__ import annotations

from store_helpers import add_rma
from textual.screen import Screen
from textual.widget import Widget
from tui_helpers import scan, see

from dockstation.tui.widgets.lines import KeptLines

WIDGETS = ("#state", "#big", "#lane", "#details", "#log")


def _cells(strip) -> list[tuple[str, object]]:  # type: ignore[no-untyped-def]
    """One (character, style) per cell: how a strip is cut into segments does not matter."""
    return [(ch, segment.style) for segment in strip for ch in segment.text]


def textual_lines(widget: Widget) -> list[list[tuple[str, object]]]:
    """The widget's rows as Textual's own pipeline renders them now (nothing cached)."""
    widget._render_content()
    widget._styles_cache.clear()
    return [_cells(s) for s in Widget.render_lines(widget, widget.outer_size.region)]


def kept_lines(widget: Widget) -> list[list[tuple[str, object]]]:
    if isinstance(widget, KeptLines):
        assert widget.kept_rows() is not None, f"{widget.id} fell back to Textual's pipeline"
    return [_cells(s) for s in widget.render_lines(widget.outer_size.region)]


def assert_same_as_textual(app) -> None:  # type: ignore[no-untyped-def]
    screen = app.receive_screen
    for selector in WIDGETS:
        widget = screen.query_one(selector)
        if not widget.display:
            continue
        kept, textual = kept_lines(widget), textual_lines(widget)
        first = next(((y, x, a, b) for y, (ka, ta) in enumerate(zip(kept, textual))
                      for x, (a, b) in enumerate(zip(ka, ta)) if a != b), None)  # the first cell that differs
        assert first is None and kept == textual, (selector, first, ["".join(c for c, _ in r) for r in kept])


async def test_kept_lines_equal_textuals_rendering_for_each_kind_of_result(make_app, manifest):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await see(pilot, app, "Scan your badge")
        assert_same_as_textual(app)
        steps = [
            (("OP-1001",), "Signed in"),
            (("RMA-2026-000001",), "Received B07-00000001"),  # a receipt: green, the LPN and lane
            (("RMA-9999-000404",), "exception #1"),  # an exception: red, the next move
            (("RMA-2026-000003",), "exception #2"),  # cancelled
            (("RMA-2026-000002",), "which item?"),  # a multi-line RMA: blue, the picker
            (("CMD:NOPE",), "means nothing"),
            (("CMD:CANCEL",), "cancelled, nothing received"),  # no details at all
            (("RMA-9999-" + "7" * 120,), "exception #3"),  # a long code, cut to one line
        ]
        for codes, needle in steps:
            await scan(pilot, app, *codes)
            await see(pilot, app, needle)
            assert_same_as_textual(app)
        # the theme changes every colour: rebuilt, still Textual's
        app.theme = "textual-light" if app.theme != "textual-light" else "textual-dark"
        await pilot.pause(0.1)
        assert_same_as_textual(app)


async def test_the_same_text_again_repaints_nothing(make_app, manifest):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-1001", "RMA-9999-000404")
        await see(pilot, app, "exception #1")
        await pilot.pause(0.1)
        details = app.receive_screen._details
        details._exchange_repaint_regions()
        details.update(details.content.copy())
        assert not details._repaint_required and not details._exchange_repaint_regions()


def _count_layouts(app, counts: list[str]) -> None:  # type: ignore[no-untyped-def]
    screen = app.receive_screen
    original = Screen._refresh_layout

    def refresh_layout(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self is screen:
            counts.append("layout")
        return original(self, *args, **kwargs)

    screen._refresh_layout = refresh_layout.__get__(screen)


async def test_a_receipt_after_an_exception_and_back_lays_nothing_out(make_app, manifest):
    # a description long enough that the receipt's details take three rows, the exception's two
    add_rma(manifest, "RMA-2026-000010", [dict(sku="TV-55", description="Television 55 inch, wall bracket, "
                                               "remote and stand in the original box", category="home")])
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-1001", "RMA-9999-000404")
        await see(pilot, app, "exception #1")
        await pilot.pause(0.1)
        layouts: list[str] = []
        _count_layouts(app, layouts)
        for code, needle in (("RMA-2026-000001", "Received B07-00000001"), ("RMA-9999-000405", "exception #2"),
                             ("RMA-2026-000010", "Received B07-00000002"), ("RMA-2026-000003", "exception #3")):
            await scan(pilot, app, code)
            await see(pilot, app, needle)
            await pilot.pause(0.05)
        assert layouts == []


async def test_a_log_row_built_directly_is_the_row_rich_made(make_app, manifest):
    from rich.text import Text

    from dockstation.tui.widgets import ScanLog, cell

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-1001")
        log = app.receive_screen.query_one(ScanLog)
        style = log.rich_style
        rows = [
            (Text("09:30:00"), Text("✔", style="green"), cell("RMA-2026-000001", limit=20),
             cell("B07-00000001 → standard", "green", limit=40)),
            (Text("09:30:01"), Text("✖", style="bold red"), cell("RMA-9999-" + "7" * 40, limit=20),
             cell("unknown RMA: recorded as exception #1 for the lead, set aside " * 2, "bold red", limit=40)),
            (Text("09:30:02"), Text("●"), cell("", limit=20), cell("which item? pick a line", "", limit=40)),
            (Text("09:30:03"), Text("!", style="yellow"), cell("x" * 20, limit=20), cell("y" * 40, "yellow")),
        ]
        for cells in rows:
            for width in (80, 60, 100):
                assert log._row_strip(cells, width, style) == log._strip(log._line(cells, style), width, style)


def test_every_font_draws_with_one_cell_characters():
    # BigText counts a drawn row's cells as its characters (its changed cells, its row width)
    from dockstation.tui.widgets.bigfont import FONTS
    from dockstation.tui.widgets.bigtext import one_cell

    assert all(one_cell(font) for font in FONTS)
    assert not one_cell(FONTS[0].__class__("wide", 1, {"A": ("Ａ",)}, ("?",)))


async def test_kept_rows_go_through_the_apps_line_filters_as_textuals_do(make_app, manifest):
    # NO_COLOR (Monochrome) and TEXTUAL_FILTERS=dim add line filters: every kept row goes through
    # them as Textual's styles cache sends its lines through them
    from textual.filter import DimFilter, Monochrome

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-1001", "RMA-2026-000001")
        await see(pilot, app, "Received B07-00000001")
        for line_filter in (Monochrome(), DimFilter()):
            app._filters.append(line_filter)
            assert_same_as_textual(app)
            await scan(pilot, app, "RMA-9999-000404")
            await see(pilot, app, "exception")
            assert_same_as_textual(app)


def test_styled_runs_are_what_rich_renders_of_the_text():
    from rich.console import Console
    from rich.style import Style as RichStyle
    from rich.text import Text

    from dockstation.tui.widgets.lines import _styled_runs

    console = Console()
    overlapping = Text("abcdef")
    overlapping.stylize("bold", 0, 4)
    overlapping.stylize("italic", 2, 6)
    empty_span = Text("abcd")
    empty_span.stylize("bold", 2, 2)
    texts = [
        Text(""), Text("plain"), Text("styled whole", style="bold"),
        Text(" ✔ ", style="bold").append_text(Text("Received B07-00000001 · RMA-2026-000001 line 1")),
        Text("first line", style="bold").append("\n").append_text(Text("second · line")),
        Text("a", style="italic").append("b", style="bold").append("c").append("d", style=RichStyle(underline=True)),
        Text("base ", style="dim").append("span", style="bold"),
        overlapping, empty_span,
    ]
    for text in texts:
        rich = [(segment.text, segment.style) for segment in text.render(console, end="\n")]
        assert _styled_runs(text, console) == rich, text


async def test_quick_content_offset_is_textuals(make_app, manifest):
    # QuickOffset leaves the scrollbars out: they are on the right and bottom only (Textual's
    # scrollbar_gutter), they never move the top left corner
    from textual.containers import VerticalScroll
    from textual.widget import Widget
    from textual.widgets import Static

    from dockstation.tui.widgets.lines import QuickOffset

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-1001", "RMA-2026-000001")
        await see(pilot, app, "Received B07-00000001")
        probe = VerticalScroll(Static("row\n" * 40))
        probe.styles.height = 4
        await app.receive_screen.mount(probe)
        await pilot.pause()
        gutter = probe.scrollbar_gutter
        assert gutter.right and not gutter.top and not gutter.left
        details = app.receive_screen._details
        details.styles.border = ("heavy", "red")  # a border moves it
        await pilot.pause()
        widgets = [w for w in app.receive_screen.walk_children() if isinstance(w, QuickOffset)]
        assert len(widgets) >= 5
        for widget in widgets:
            assert widget.content_offset == Widget.content_offset.fget(widget), widget.id
        assert details.content_offset == (2, 1)


def test_a_log_cell_is_fitted_as_rich_truncates_it():
    from rich.text import Text

    from dockstation.tui.widgets.scan_log import _fit, _fit_plain

    for plain in ("", "a", "RMA-2026-000001", "x" * 20, "x" * 21, "é" * 30, "漢字" * 15, "漢字漢字漢字漢字漢字x",
                  "B07-00000001 → A"):
        for width in (1, 2, 8, 20, 40):
            assert _fit_plain(plain, width) == _fit(Text(plain), width).plain, (plain, width)
