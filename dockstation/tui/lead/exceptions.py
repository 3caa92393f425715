"""The lead's actions on the exception queue (tab 2): m match to an RMA line, q quarantine, v void
with a reason, by key or by scan. A mixin of `LeadScreen`: the use cases are
`dockstation.kpis.actions`; this is only the dialogue around them."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.screen import Screen
from textual.widgets import DataTable, Input, TabbedContent

from dockstation.kpis import actions
from dockstation.receiving.core import line_for_gtin
from dockstation.scan import Classified, CodeKind, ScanEvent
from dockstation.text import clean
from dockstation.tui.widgets import LinePicker

if TYPE_CHECKING:
    from dockstation.tui.app import BenchApp

PROMPTS = {
    "match_rma": "Scan or type the RMA or tracking number, Enter · Esc cancels",
    "quarantine": "Reason (optional), Enter sends it to quarantine · Esc cancels",
    "void": "Reason to void (required), Enter · Esc cancels",
}


class ExceptionActions(Screen[None]):
    """Match, quarantine and void the selected open exception (state: mode, target, match_rma)."""

    mode: str | None  # match_rma | match_line | quarantine | void
    target: int | None  # the exception being resolved
    match_rma: str | None

    @property
    def bench_app(self) -> BenchApp:
        return cast("BenchApp", self.app)

    @property
    def allowed(self) -> bool:
        op = self.bench_app.operator
        return op is not None and op.role == "lead"

    def _fill(self, tab: str) -> None:  # LeadScreen fills a tab's widgets from the last snapshot
        raise NotImplementedError

    def action_refresh(self) -> None:
        raise NotImplementedError

    def _selected_exception(self) -> int | None:
        table = self.query_one("#exceptions", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return int(key) if key is not None else None

    def _start(self, mode: str) -> None:
        if not self.allowed or self.mode is not None:
            return
        self.query_one("#tabs", TabbedContent).active = "tab-exceptions"
        self._fill("tab-exceptions")  # now, not when TabActivated arrives: the row is needed now
        target = self._selected_exception()
        if target is None:
            self.bench_app.show_result("warn", "NO EXCEPTION", "No open exception selected")
            return
        self.mode, self.target = mode, target
        prompt = self.query_one("#prompt", Input)
        prompt.value = ""
        prompt.placeholder = f"#{target}: {PROMPTS[mode]}"
        prompt.display = True
        prompt.focus()

    def action_match(self) -> None:
        self._start("match_rma")

    def action_quarantine(self) -> None:
        self._start("quarantine")

    def action_void(self) -> None:
        self._start("void")

    def action_cancel(self) -> None:
        if self.mode is not None:
            self._end()
        else:
            self.app.pop_screen()

    def _end(self) -> None:
        self.mode, self.target, self.match_rma = None, None, None
        if not self.allowed:
            return
        self.query_one("#prompt", Input).display = False
        self.query_one("#lines", LinePicker).display = False
        self.query_one("#exceptions", DataTable).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        value, mode = event.value, self.mode
        if mode == "match_rma":
            self.bench_app.enqueue_job(lambda: self._choose_rma(value))
        elif mode in ("quarantine", "void"):
            self.bench_app.enqueue_job(lambda: self._resolve(mode, value))

    async def _choose_rma(self, code: str) -> None:
        found = await self.bench_app.in_thread(actions.rma_lines, self.bench_app.store, code)
        if found is None:
            self.bench_app.show_result("error", "UNKNOWN RMA", f"No RMA or tracking number {clean(code, limit=60)}")
            return
        self.match_rma, lines = found
        self.mode = "match_line"
        self.query_one("#prompt", Input).display = False
        picker = self.query_one("#lines", LinePicker)
        picker.set_lines(lines)
        picker.display = True
        picker.focus()
        self.bench_app.beep(True)

    def on_line_picker_picked(self, message: LinePicker.Picked) -> None:
        message.stop()
        line_no = message.line_no
        self.bench_app.enqueue_job(lambda: self._resolve("match", str(line_no)))

    def on_line_picker_cancelled(self, message: LinePicker.Cancelled) -> None:
        message.stop()
        self._end()

    async def _resolve(self, what: str, arg: str) -> None:
        app, target = self.bench_app, self.target
        if target is None:
            return
        try:
            if what == "match" and self.match_rma is not None:
                res = await app.in_thread(actions.match_exception, app.store, app.bench, app.operator, target,
                                          self.match_rma, int(arg))
            elif what == "quarantine":
                res = await app.in_thread(actions.quarantine_exception, app.store, app.bench, app.operator,
                                          target, arg)
            else:
                res = await app.in_thread(actions.void_exception, app.store, app.bench, app.operator, target, arg)
        except actions.LeadActionError as exc:
            app.show_result("error", "REFUSED", str(exc))
            if what != "void" or "reason" not in str(exc):
                self._end()
            return
        self._end()
        app.show_result("ok", "DONE", res.message)  # after the commit: the row is gone on refresh
        self.action_refresh()

    HELP_TITLE = "Lead view"

    def help_commands(self) -> list[tuple[str, str]]:
        return [("RMA / tracking label", "While matching an exception: the RMA it belongs to"),
                ("product barcode (GTIN)", "While matching: the RMA line of that product")]

    async def handle_scan(self, scan: ScanEvent, classified: Classified) -> bool:
        """While matching: an RMA or tracking scan picks the RMA, a product scan picks its line."""
        if not self.allowed:
            return False
        if classified.kind is CodeKind.COMMAND:
            if classified.value == "CANCEL":
                self.action_cancel()
            else:  # REPRINT and LOGOUT are the app's; every other one means nothing here
                self.bench_app.report("error", "REFUSED", f"{clean(classified.raw, limit=40)} means nothing "
                                      "on the lead screen: nothing done", code=scan.code,
                                      log="refused: nothing done (lead screen)")
            return True
        if self.mode in ("match_rma", "match_line") and classified.kind in (CodeKind.RMA, CodeKind.TRACKING):
            await self._choose_rma(classified.value or classified.raw)
            return True
        if self.mode == "match_line" and classified.gtin:
            picker = self.query_one("#lines", LinePicker)
            line = line_for_gtin(picker.lines, classified.gtin)
            if line is None:
                self.bench_app.show_result("error", "NO LINE", "No open line of this RMA has that product")
            else:
                await self._resolve("match", str(line.line_no))
            return True
        return False
