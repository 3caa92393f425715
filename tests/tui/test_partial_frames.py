"""Frames that repaint part of the screen leave the terminal showing what a full repaint shows.

The big text repaints only the cells that change (widgets/bigtext.py), partial frames start at
the change (tui/frames.py), the full scan log is moved up by the terminal (scroll margins +
scroll-up), and the screens kept for every unit are not restyled nor updated where nothing
changed (tui/reuse.py, widgets/update.py): the bytes a terminal receives per scan (bench_scan.py
--pty) and the UI's cost per unit (bench_flow.py). The frames the app sends are applied to a
small terminal model — cursor moves, scrolling, characters; colours dropped — and after every
step the model must read exactly what the compositor would draw from scratch, so a repaint that
misses a cell fails here.
"""

from __future__ import annotations

import re

from textual.app import App, ComposeResult
from textual.widgets import Static
from store_helpers import add_rma
from tui_helpers import scan

from dockstation.tui import frames
from dockstation.tui.widgets import BigText
from dockstation.tui.widgets.bigtext import font_for

_SEQ = re.compile(r"\x1b\[(\d+);(\d+)H|\x1b\[(?:(\d+);(\d+))?r|\x1b\[(\d+)S|\x1b\[[0-?]*[ -/]*[@-~]|\x1b[^\[]"
                  r"|(\r\n)|([^\x1b\r\n])")


class Terminal:
    """Just enough of a terminal for the bench's frames: CUP moves, CR LF, printable characters,
    scroll margins (DECSTBM) and scroll up (SU) — colours are dropped."""

    def __init__(self, width: int, height: int) -> None:
        self.rows = [[" "] * width for _ in range(height)]
        self.y = self.x = 0
        self.frames = 0
        self.margins = (0, height - 1)

    def feed(self, data: str) -> None:
        self.frames += 1
        for m in _SEQ.finditer(data):
            cup, top, bottom, up, crlf, char = m.group(1), m.group(3), m.group(4), m.group(5), m.group(6), m.group(7)
            if cup:
                self.y, self.x = int(cup) - 1, int(m.group(2)) - 1
            elif m.group(0).endswith("r") and m.group(0).startswith("\x1b["):
                self.margins = (int(top) - 1, int(bottom) - 1) if top else (0, len(self.rows) - 1)
                self.y = self.x = 0
            elif up:
                first, last = self.margins
                band = self.rows[first:last + 1]
                n = int(up)
                self.rows[first:last + 1] = band[n:] + [[" "] * len(self.rows[0]) for _ in range(min(n, len(band)))]
            elif crlf:
                self.y, self.x = self.y + 1, 0
            elif char:
                if 0 <= self.y < len(self.rows) and 0 <= self.x < len(self.rows[0]):
                    self.rows[self.y][self.x] = char
                self.x += 1

    def text(self) -> list[str]:
        return ["".join(row).rstrip() for row in self.rows]


def record(app: App, term: Terminal) -> None:
    """Every frame the app would write (headless: rendered here instead of by the driver)."""
    original = app._display

    def display(screen, renderable):  # type: ignore[no-untyped-def]
        original(screen, renderable)  # first: what the app writes before the frame (scan log)
        if renderable is not None and hasattr(renderable, "render_segments"):
            term.feed(renderable.render_segments(app.console))

    app._display = display


def drawn_now(app: App) -> list[str]:
    """What a full repaint of the screen shows now."""
    term = Terminal(*app.size)
    term.feed(app.screen._compositor.render_full_update().render_segments(app.console))
    return term.text()


class BigApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Static("top")
        yield BigText("", id="big")
        yield Static("bottom")


async def test_the_big_text_repaints_only_changed_cells_and_the_terminal_shows_the_whole_text():
    frames.install()  # as the bench app does: a frame starts where its change starts
    app = BigApp()
    async with app.run_test(size=(80, 12)) as pilot:
        term = Terminal(80, 12)
        term.feed(app.screen._compositor.render_full_update().render_segments(app.console))
        record(app, term)
        big = app.query_one(BigText)
        texts = ["✔ B07-00000004", "✔ B07-00000005", "✔ B07-00000015", "✖ UNKNOWN RMA", "! TOO LATE",
                 "✔ B07-00000016", "x" * 70, "✔ B07-1", "", "● SCAN BADGE"]
        for text in texts:
            before = term.frames
            big.update(text)
            await pilot.pause()
            assert term.frames > before or text == "✔ B07-00000004"  # a frame was sent
            assert term.text() == drawn_now(app), text
        # One glyph changed: the frame carries that glyph's cells, not the big text's three rows.
        big.update("✔ B07-00000017")
        await pilot.pause(0.1)  # its frame sent
        sent: list[str] = []
        app._display = lambda screen, r: (sent.append(r.render_segments(app.console))) if r is not None else None
        big.update("✔ B07-00000018")
        await pilot.pause(0.1)
        assert font_for("✔ B07-00000018", big.content_size.width, big.content_size.height) is not None
        printed = [c for frame in sent for c in re.sub(r"\x1b\[[0-?]*[ -/]*[@-~]", "", frame) if c not in "\r\n"]
        assert 0 < len(printed) <= 3 * 4  # one glyph of 3 columns (and its gap) on each of 3 rows


async def test_grader_units_on_the_reused_screens_leave_the_terminal_right(make_app, manifest):
    """Receive, inspect, dispose, receive, twice: the screens are shown again (no restyle,
    reuse.py) and updated only where changed; each step's frames leave the terminal right."""
    add_rma(manifest, "RMA-2026-000010", [dict(sku="TSH-L", gtin="00012345678905", description="T-shirt L",
                                               category="apparel", reason_code="wrong_size")])
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        term = Terminal(80, 24)
        term.feed(app.screen._compositor.render_full_update().render_segments(app.console))
        record(app, term)
        await scan(pilot, app, "OP-2001")
        codes = ("RMA-2026-000001", "CMD:ALLPASS", "356938035643809", "CMD:DONE",
                 "RMA-2026-000010", "CMD:ALLPASS", "0100012345678905", "CMD:DONE",
                 "RMA-2026-000001")  # the last: a duplicate, refused on the receiving screen
        for code in codes:
            await scan(pilot, app, code)
            await pilot.pause(0.05)
            assert term.text() == drawn_now(app), code
        assert app.disposition_screen is not None and app.disposition_screen.outcome is not None
        assert app.screen is app.receive_screen and app.receive_screen.state == "error"


async def test_a_full_scan_log_moved_up_by_the_terminal_shows_the_same_as_a_repaint(make_app, manifest):
    """Once the log is full, the app has the terminal move its rows up (BenchApp.scroll_terminal:
    the driver's DECSTBM + SU before the next frame, emulated here in the same order) and paints
    only the new bottom rows: the terminal must read what a full repaint shows, scan after scan,
    also with two results in one frame and with a notification over the log (no scroll then)."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        term = Terminal(80, 24)
        term.feed(app.screen._compositor.render_full_update().render_segments(app.console))
        record(app, term)
        scrolled: list[int] = []

        def may_scroll_terminal(widget) -> bool:  # BenchApp's, less "a real terminal"
            return widget.screen is app.screen and not len(app._notifications)

        def scroll_up(top: int, bottom: int, lines: int) -> None:  # BenchDriver's, into the model
            term.feed(f"\x1b[{top + 1};{bottom + 1}r\x1b[{lines}S\x1b[r")
            scrolled.append(lines)

        app.may_scroll_terminal = may_scroll_terminal
        app._driver.scroll_up = scroll_up
        await scan(pilot, app, "OP-1001", *(f"RMA-9999-{n:06d}" for n in range(14)))
        await pilot.pause(0.1)
        for n in range(14, 20):
            await scan(pilot, app, f"RMA-9999-{n:06d}")
            await pilot.pause(0.05)
            assert term.text() == drawn_now(app), n
        assert scrolled, "the log never filled"
        before = len(scrolled)
        await scan(pilot, app, "RMA-9999-000020", "RMA-9999-000021")  # two rows, maybe one frame
        await pilot.pause(0.1)
        assert term.text() == drawn_now(app) and sum(scrolled[before:]) == 2
        app.notify("a notice over the log", timeout=30)
        await pilot.pause(0.1)
        await scan(pilot, app, "RMA-9999-000022")
        await pilot.pause(0.1)
        assert term.text() == drawn_now(app) and sum(scrolled[before:]) == 2  # repainted, not scrolled
        assert "RMA-9999-000022" in "\n".join(term.text())


def test_the_driver_puts_the_scroll_before_the_next_frame():
    from dockstation.tui.driver import BenchDriver

    written: list[str] = []
    driver = BenchDriver.__new__(BenchDriver)  # no terminal: only write() and scroll_up()
    driver._writer_thread = type("W", (), {"write": lambda self, data: written.append(data)})()
    driver.scroll_up(18, 22)
    driver.write("\x1b[?2026h")  # a synchronized update begins: the move goes inside it
    driver.write("FRAME")
    driver.write("NEXT")
    assert written == ["\x1b[?2026h", "\x1b[19;23r\x1b[1S\x1b[rFRAME", "NEXT"]


async def test_a_screen_shown_again_after_a_theme_change_has_the_new_theme(make_app, manifest):
    """The inspect screen is kept and not restyled when shown again (tui/reuse.py) — unless the
    theme changed while it was not shown."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-2001", "RMA-2026-000001", "CMD:ALLPASS")
        title = app.screen.query_one("#i-title")
        before = title.styles.background
        await pilot.press("escape")  # leave it open: back to receiving
        await pilot.pause(0.05)
        assert app.screen is app.receive_screen
        app.theme = "textual-light" if app.theme != "textual-light" else "nord"
        await pilot.pause(0.05)
        await scan(pilot, app, "CMD:ALLPASS")  # the unit in hand: its inspection again
        await pilot.pause(0.05)
        assert app.screen is app.inspect_screen
        primary = app.get_css_variables()["primary"]
        assert title.styles.background != before
        assert title.styles.background.hex.lower() == primary.lower()[:7]


async def test_a_partial_frame_renders_only_the_changed_lines_of_the_widgets_under_a_change():
    """Two changes far apart (the top line and the bottom one): Textual rendered every widget in
    the rectangle around both, whole; frames.render_partial_update renders only the lines that
    changed, of the widgets over them — and the terminal still shows the full repaint."""
    frames.install()
    app = TallApp()
    async with app.run_test(size=(40, 12)) as pilot:
        await pilot.pause(0.1)  # the first frames are over
        term = Terminal(40, 12)
        term.feed(app.screen._compositor.render_full_update().render_segments(app.console))
        record(app, term)
        rendered: list[tuple[str, int]] = []
        for widget in app.query(Static):
            original = widget.render_lines

            def spy(crop, widget=widget, original=original):  # type: ignore[no-untyped-def]
                rendered.append((widget.id, crop.height))
                return original(crop)

            widget.render_lines = spy
        app.query_one("#top", Static).update("top changed", layout=False)
        app.query_one("#bottom", Static).update("bottom changed", layout=False)
        await pilot.pause(0.05)
        assert sorted(rendered) == [("bottom", 1), ("top", 1)]  # not the middle, nor its 8 lines
        assert term.text() == drawn_now(app)


class TallApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Static("top", id="top")
        yield Static("\n".join(f"middle {n}" for n in range(8)), id="middle")
        yield Static("bottom", id="bottom")
