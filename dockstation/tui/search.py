"""The search screen (F7 or `CMD:SEARCH`): find the return of a parcel whose label cannot be read.

Type (or scan) what can be read — an order id, the customer's name or e-mail, a SKU, the item's
GTIN, a tracking number or part of the RMA — and Enter: the matching open RMAs are listed, best
first, at most a screenful (dockstation/search.py). A number key or Enter on a row receives
against that RMA (a parcel of several items goes on on the receiving screen, its lines to pick);
the exception the parcel raised, if any, is resolved and linked to the unit. Nothing matches:
`h` receives the item blind, held until a manifest names it (receiving/holds.py).

Everything shown is text from the manifest or a scanner: `Text`, never markup. 80x24, keys only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from dockstation.scan import Classified, CodeKind, ScanEvent
from dockstation.text import clean
from dockstation.tui.widgets import BenchFooter, StatusHeader, safe

if TYPE_CHECKING:
    from dockstation.search import Match
    from dockstation.tui.app import BenchApp

ROWS = 9  # a screenful at 80x24, each row one number key


def match_row(n: int, m: Match) -> Text:
    out = Text(no_wrap=True, overflow="ellipsis")
    out.append(f"[{n}] " if n <= ROWS else "    ", style="bold")
    out.append(clean(m.rma_id, limit=22), style="bold")
    out.append(f"  {m.items - m.open_items}/{m.items}  ")
    out.append(clean(m.customer_name or "", limit=22))
    out.append("  ")
    out.append(clean(", ".join(dict.fromkeys(l.sku for l in m.lines)), limit=20), style="dim")
    out.append(f"  ({m.matched_on[0]})", style="dim")
    return out


class SearchScreen(Screen[None]):
    HELP_TITLE = "Search"
    DEFAULT_CSS = """
    SearchScreen #search-title { height: 1; background: $primary; color: $text; text-style: bold; padding: 0 1; }
    SearchScreen #search-input { height: 3; }
    SearchScreen #search-results { height: 1fr; border: none; }
    SearchScreen #search-detail { height: auto; max-height: 4; padding: 0 1; }
    """
    BINDINGS = [
        *(Binding(str(n), f"choose({n})", f"Row {n}", show=False, id=f"search.row{n}") for n in range(1, ROWS + 1)),
        Binding("f8", "hold", "Hold (blind)", id="search.hold"),
        Binding("escape", "back", "Back", id="search.back"),
    ]

    def __init__(self, text: str = "", exception_id: int | None = None, code: str = "") -> None:
        super().__init__(id="search")
        self.initial, self.exception_id, self.code = text, exception_id, code
        self.matches: list[Match] = []
        self.searches = 0  # completed searches (tests wait on it)

    @property
    def bench_app(self) -> BenchApp:
        return cast("BenchApp", self.app)

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        yield Static(Text(" ● Find the return: order, name, e-mail, SKU, GTIN, tracking · Enter"), id="search-title")
        yield Input(value=self.initial, id="search-input", max_length=120,
                    placeholder="What can be read on the parcel or the packing slip, then Enter")
        yield OptionList(id="search-results", markup=False)
        yield Static("", id="search-detail", markup=False)
        yield BenchFooter()

    def on_mount(self) -> None:
        self.query_one("#search-input", Input).focus()
        if self.initial:
            self.run_search(self.initial)
        else:
            self._detail(Text("1–9 picks a row · F8 receives it blind (held) · Esc back"))

    def _detail(self, text: Text) -> None:
        self.query_one("#search-detail", Static).update(text)

    # -- searching ------------------------------------------------------------------------
    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.run_search(event.value)

    def run_search(self, text: str) -> None:
        text = " ".join(text.split())
        if not text:
            return

        async def job() -> None:
            from dockstation.search import search

            found = await self.bench_app.in_thread(search, self.bench_app.store, text, limit=ROWS)
            self.show(text, found)

        self.bench_app.enqueue_job(job)

    def show(self, text: str, found: list[Match]) -> None:
        self.matches = found
        results = self.query_one("#search-results", OptionList)
        results.set_options([Option(match_row(n, m), id=f"m{n}") for n, m in enumerate(found, start=1)])
        if found:
            results.highlighted = 0
            results.focus()
            self._detail(safe(f"{len(found)} return(s) for {clean(text, limit=40)} · 1–{len(found)} or Enter "
                              "receives against it · F8 blind · Esc back"))
            self.bench_app.sound.play("ok")
        else:
            self._detail(Text("✖ No open return matches ", style="bold").append_text(safe(clean(text, limit=40)))
                         .append(" — try another word, or F8: receive it blind (held)"))
            self.bench_app.sound.play("attention")
        self.searches += 1

    # -- choosing -------------------------------------------------------------------------
    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_choose(event.option_index + 1)

    def action_choose(self, n: int) -> None:
        if not 1 <= n <= len(self.matches):
            self.bench_app.beep(False)
            return
        match = self.matches[n - 1]
        self.bench_app.enqueue_job(lambda: self._receive(match))

    async def _receive(self, match: Match) -> None:
        app = self.bench_app
        if app.operator is None:
            app.show_result("error", "SCAN BADGE", "Sign in first")
            return
        code = self.code or match.rma_id
        scan = ScanEvent(code, "search", None, app.clock())
        from dockstation.receiving.core import Outcome, handle_scan
        from dockstation.receiving.holds import link_exception
        from dockstation.scan import Classified as C

        c = C(CodeKind.RMA, match.rma_id, value=match.rma_id)
        outcome: Outcome = await app.in_thread(handle_scan, app.store, app.bench, app.operator, scan, c)
        if outcome.status == "received" and outcome.unit is not None and self.exception_id is not None:
            await app.in_thread(link_exception, app.store, app.bench, app.operator, self.exception_id,
                                outcome.unit.lpn, match.rma_id)
        await app.go_to_receive()
        app.show_outcome(scan, outcome)

    def action_hold(self) -> None:
        text = self.query_one("#search-input", Input).value

        async def job() -> None:
            app = self.bench_app
            if app.operator is None:
                app.show_result("error", "SCAN BADGE", "Sign in first")
                return
            from dockstation.receiving.holds import receive_held
            from dockstation.tui.grading import required_policy

            policy = required_policy(app)
            code = self.code or ""
            view = await app.in_thread(receive_held, app.store, app.bench, app.operator, code=code,
                                       hold=policy.hold, note=text, exception_id=self.exception_id,
                                       order_id=text if text and " " not in text and "@" not in text else None)
            app.current_lpn = view.lpn
            receive = await app.go_to_receive()
            receive.show_held(view, policy.hold.days)

        self.bench_app.enqueue_job(job)

    def action_back(self) -> None:
        self.app.pop_screen()

    def help_commands(self) -> list[tuple[str, str]]:
        return [("any code", "Search for it (a GTIN, a tracking number, an order id)"), ("CMD:CANCEL", "Back")]

    async def handle_scan(self, scan: ScanEvent, c: Classified) -> bool:
        """A scan here is what to search for; CMD:CANCEL goes back."""
        if c.kind is CodeKind.COMMAND:
            if c.value == "CANCEL":
                self.action_back()
                return True
            self.bench_app.beep(False)  # means nothing here: nothing done
            self._detail(safe(f"✖ {clean(c.raw, limit=30)} means nothing on the search screen"))
            return True
        if c.kind in (CodeKind.BADGE, CodeKind.LPN):
            return False
        value = c.gtin or c.value or c.raw
        self.query_one("#search-input", Input).value = clean(value, limit=120)
        self.run_search(value)
        return True

