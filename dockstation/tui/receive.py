"""The receiving screen (the bench's default screen): sign in, scan parcels, see each unit.

What the operator sees, top to bottom at 80x24: the status header; one state line (symbol and
colour: ✔ green received, ✖ red exception, ! amber warning, ● blue prompt); the LPN (or the
error, or the prompt) in big letters; the lane in big letters; the unit's details; the line
picker when a multi-line RMA needs to know which item this is; the manual entry field; the log
of the last results. Every string that came from a scanner or the manifest is shown as
`Text(clean(s))`, never as markup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.color import Color
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Input

from dockstation.scan import Classified, CodeKind, ScanEvent
from dockstation.text import clean
from dockstation.tui.grading import HandOnReceive
from dockstation.tui.reuse import KeepStylesOnResume
from dockstation.tui.widgets import BenchFooter, BigText, LinePicker, ScanLog, StatusHeader, TextLines, cell, safe

if TYPE_CHECKING:  # the receiving core and the store load after the first screen (tui/app.py)
    from dockstation.receiving.core import LineChoice, Outcome, UnitView
    from dockstation.tui.app import BenchApp

LOG_ROWS = 50
CODE_CHARS = 68  # a code shown under "Code: " on one line of an 80-column screen (the whole one is logged)
# The clerk's next move after an exception, big in the lane's place: a parcel the bench cannot
# take goes to the lead's shelf; a code that is not a parcel's problem says what to do instead.
NEXT_MOVE = {
    "signed_out": "SIGN IN", "unknown_badge": "SEE LEAD", "not_permitted": "SEE LEAD",
    "invalid_code": "RESCAN", "unknown_code": "RESCAN", "duplicate": "ALREADY IN",
}
SET_ASIDE = "SET ASIDE"  # unknown, cancelled, too late, wrong item: for the lead's shelf
SYMBOL = {"ok": "✔", "error": "✖", "warn": "!", "info": "●"}
# Short headlines, drawn big, for each exception kind; the full message is on the state line.
HEADLINES = {
    "signed_out": "SCAN BADGE", "unknown_badge": "BAD BADGE", "unknown_rma": "UNKNOWN RMA",
    "unknown_tracking": "NO SUCH PARCEL", "cancelled": "CANCELLED", "outside_window": "TOO LATE",
    "duplicate": "DUPLICATE", "invalid_code": "BAD CODE", "unknown_code": "UNKNOWN CODE",
    "wrong_item": "WRONG ITEM", "not_permitted": "NOT ALLOWED",
}


# Each state's colours, theme variables: (state line background, its text, big text, lane text).
# Set as inline styles on those three one-line widgets: a class on their container (as app.tcss
# once did) re-applies the stylesheet to its whole subtree on each change, ~3 ms of a scan.
STATE_COLOURS = {
    "ok": ("success", "text", "success", "accent"),
    "error": ("error", "text", "error", "error"),
    "warn": ("warning", "background", "warning", "accent"),
    "info": ("primary", "text", "primary-lighten-2", ""),
}


def theme_colour(variables: dict[str, str], name: str) -> tuple[Color, bool]:
    """A theme variable as a colour and its "auto" flag (`$text` is `auto 87%`: by contrast)."""
    colour, alpha, auto = Color(255, 255, 255), 1.0, False
    for token in variables[name].split():
        if token == "auto":
            auto = True
        elif token.endswith("%"):
            alpha = float(token[:-1]) / 100
        else:
            colour = Color.parse(token)
    return colour.multiply_alpha(alpha), auto


def sla_text(view: UnitView) -> str:
    if view.sla_due_at is None:
        return ""
    hours = (view.sla_due_at - view.received_at).total_seconds() / 3600
    return f"SLA {hours:g} h"


class ReceiveScreen(KeepStylesOnResume, HandOnReceive, Screen[None]):
    AUTO_FOCUS = "#entry"
    HELP_TITLE = "Receiving"
    # The unit in hand (a grader just received it): its first answer opens its inspection
    # (grading.py). The ids are the inspect screen's, so a station's remap moves both.
    BINDINGS = [
        Binding("a", "hand('all_pass')", "All pass", id="inspect.all_pass"),
        Binding("1", "hand('pass')", "Pass", show=False, id="inspect.pass"),
        Binding("2", "hand('fail')", "Fail", show=False, id="inspect.fail"),
        Binding("3", "hand('na')", "N/A", show=False, id="inspect.na"),
    ]

    def __init__(self) -> None:
        super().__init__(id="receive")
        self.lines: tuple[LineChoice, ...] = ()
        self.pick_rma: str | None = None
        self.pick_scan: ScanEvent | None = None
        self.state = "info"  # what the state line shows: ok / error / warn / info
        self._painted: tuple[str, str] | None = None  # (theme, state) the colours are set for
        self._colours: dict[str, tuple[Color, bool]] = {}
        self._hand_shown = False  # the unit-in-hand keys are in the footer

    @property
    def bench_app(self) -> BenchApp:
        return cast("BenchApp", self.app)

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        with Vertical(id="main"):
            yield TextLines(id="state")
            yield BigText("", id="big")
            yield BigText("", id="lane")
            yield TextLines(id="details")
            yield LinePicker(id="picker")
        entry = Input(id="entry", max_length=256, placeholder="Type a code (damaged barcode) + Enter · F2 here")
        # A steady cursor: a blinking one repaints twice a second, and a scan landing just after
        # such a frame waited up to two 60 fps ticks for its own (bench/README.md).
        entry.cursor_blink = False
        yield entry
        yield ScanLog(id="log", max_rows=LOG_ROWS)
        yield BenchFooter()

    def on_mount(self) -> None:
        # Looked up once: the scan → rendered path touches these on every scan.
        self._state = self.query_one("#state", TextLines)
        self._big = self.query_one("#big", BigText)
        self._lane = self.query_one("#lane", BigText)
        self._details = self.query_one("#details", TextLines)
        self._log = self.query_one("#log", ScanLog)
        self.watch(self.app, "operator", self._operator_changed, init=False)
        self.app.theme_changed_signal.subscribe(self, lambda _: self._paint(self.state))
        self.show_prompt()

    def _operator_changed(self, _: object) -> None:
        self.end_pick()

    # -- what is on screen -----------------------------------------------------------------
    def _paint(self, state: str) -> None:
        """The state's colours on the state line, the big text and the lane (see STATE_COLOURS)."""
        self.state = state
        theme = self.app.theme
        if self._painted == (theme, state):
            return
        if self._painted is None or self._painted[0] != theme:
            variables = self.app.get_css_variables()
            self._colours = {name: theme_colour(variables, name) for row in STATE_COLOURS.values()
                             for name in row if name}
        self._painted = (theme, state)
        colour = self._colours
        background, text, big, lane = STATE_COLOURS.get(state, STATE_COLOURS["info"])
        styles = self._state.styles
        styles.background = colour[background][0]
        styles.color, styles.auto_color = colour[text]
        self._big.styles.color = colour[big][0]
        self._lane.styles.color = colour[lane][0] if lane else None
        self._lane.styles.text_style = "bold" if lane else None

    def _set(self, state: str, line: Text, big: str, lane: str = "", details: Text | None = None) -> None:
        # Each scan changes these widgets: repaints of the rows that change only (widgets/lines.py),
        # a layout only when the lane is shown or hidden (the details have a fixed height).
        self._paint(state)
        state_text = Text(f" {SYMBOL.get(state, '●')} ", style="bold")
        state_text.append_text(line)
        self._state.update(state_text)  # one line, fixed height
        self._big.update(f"{SYMBOL.get(state, '●')} {big}")  # the state as a shape too, big
        self._lane.update(lane)
        if self._lane.display != bool(lane):
            self._lane.display = bool(lane)
        self._details.update(details or Text(""))  # three rows, reserved (app.tcss)

    def show_prompt(self, note: str | None = None, state: str = "info") -> None:
        """What to scan next: the badge when signed out, else a parcel. `note` heads it."""
        app = self.bench_app
        op = app.operator
        if op is None:
            details = Text("Scan your badge (OP-…) to sign in. A damaged code can be typed below (F2).")
            if app.is_demo():
                ops = [o for b in ("1001", "2001", "9001") if (o := app.config.operators.by_badge(b))]
                demo = ", ".join(f"OP-{o.badge} ({o.role})" for o in ops)
                details.append(f"\nDemo: type {demo} and Enter", style="bold")
            line = f"{note} — scan your badge" if note else "Scan your badge"
            self._set(state, safe(line), "SCAN BADGE", details=details)
        else:
            line = f"{note} — scan an RMA or tracking label" if note else "Scan an RMA or tracking label"
            details = safe(f"Signed in: {op.name} ({op.role}). F4 signs out.")
            if app.is_demo():  # the codes to try, written by the demo builder
                tries = [ln.strip() for ln in (app.home / "DEMO").read_text().splitlines()
                         if ln.startswith("  ")][:6]
                details.append("\n")  # outside safe(): it strips control characters, newlines too
                details.append_text(safe("Demo, try: " + " · ".join(t.split()[0] for t in tries)))
            self._set(state, safe(line), "SCAN RMA", details=details)

    def show_message(self, state: str, title: str, message: str, code: str | None = None) -> None:
        details = Text("Code: ").append_text(safe(code)) if code is not None else None
        self._set(state, safe(message), title, details=details)
        if code is not None:
            self.add_log(code, state, message)

    def show_unit(self, scan: ScanEvent, view: UnitView, note: str) -> None:
        self._set("warn", safe(f"{view.lpn}: {note}"), view.lpn, view.lane, self._unit_details(view))
        self.add_log(scan.code, "warn", f"{view.lpn} — {note}")

    def _unit_details(self, view: UnitView) -> Text:
        details = safe(f"{view.rma_id} line {view.line_no} · {view.sku} · {view.description}", "bold")
        extra = [f"lane {view.lane}", sla_text(view)]
        if view.reason_code:
            extra.append(f"reason {view.reason_code}")
        if view.risk_flags:
            extra.append("flags " + ", ".join(view.risk_flags))
        details.append("\n")
        details.append_text(safe(" · ".join(e for e in extra if e)))
        return details

    def show_outcome(self, scan: ScanEvent, outcome: Outcome) -> None:
        """Called by the app with a committed result; plays the matching sound."""
        sound = self.bench_app.sound
        if outcome.status == "received" and outcome.unit is not None:
            view = outcome.unit
            self.end_pick()
            where = f"{view.rma_id} line {view.line_no}" if view.line_no else f"{view.rma_id}: NOT ON THE RMA"
            if outcome.progress is not None:
                where += f" · {outcome.progress[0]} of {outcome.progress[1]} received"
            self._set("ok", safe(f"Received {view.lpn} · {where}"), view.lpn, view.lane, self._unit_details(view))
            self.add_log(scan.code, "ok", f"{view.lpn} → {view.lane}")
            sound.play("ok")
            if outcome.progress is not None and outcome.rma_id:  # a parcel of several items: it stays open
                self.keep_parcel(scan, outcome)
        elif outcome.status == "choose_line":
            self.start_pick(scan, outcome)
            self.add_log(scan.code, "info", "which item? pick a line")
            sound.play("attention")
        elif outcome.status == "exception":
            self.end_pick()
            headline = HEADLINES.get(outcome.exception_kind or "", "EXCEPTION")
            # The exception's number first: a long code wraps below it, never pushes it off screen.
            details = Text(f"Recorded as exception #{outcome.exception_id} for the lead.\nCode: ")
            details.append_text(safe(scan.code, limit=CODE_CHARS))  # cut to one line (80 columns)
            # The clerk's next move in the lane's place: also the same layout as a receipt (no
            # re-layout between the two, the commonest scans; bench/README.md, bench_scan.py).
            move = NEXT_MOVE.get(outcome.exception_kind or "", SET_ASIDE)
            self._set("error", safe(outcome.message), headline, move, details=details)
            self.add_log(scan.code, "error", outcome.message)
            sound.play("error")
        elif outcome.status == "signed_in":
            self.end_pick()
            self.show_prompt(outcome.message, "ok")
            self.add_log(scan.code, "ok", outcome.message)
            sound.play("ok")
        else:  # ignored: a code that means nothing here
            self._set("warn", safe(outcome.message), "SCAN RMA", details=Text("Code: ").append_text(safe(scan.code)))
            self.add_log(scan.code, "warn", outcome.message)
            sound.play("attention")

    def refuse(self, scan: ScanEvent, message: str) -> None:
        """A code that means nothing here: said, logged, the error sound; nothing changes."""
        self._set("error", safe(message), "REFUSED", details=Text("Code: ").append_text(safe(scan.code)))
        self.add_log(scan.code, "error", message)
        self.bench_app.sound.play("error")

    def add_log(self, code: str, state: str, result: str) -> None:
        """One row, appended at the bottom; the oldest beyond LOG_ROWS dropped (one repaint)."""
        at = self.bench_app.clock().astimezone()
        style = {"ok": "green", "error": "bold red", "warn": "yellow"}.get(state, "")
        self._log.add_row(Text(f"{at:%H:%M:%S}"), Text(SYMBOL.get(state, "●"), style=style),
                          cell(code, limit=20), cell(result, style, limit=40))

    def focus_entry(self) -> None:
        self.query_one("#entry", Input).focus()

    # -- multi-line RMA: which item is this? ------------------------------------------------
    @property
    def picking(self) -> bool:
        return self.pick_rma is not None

    def start_pick(self, scan: ScanEvent, outcome: Outcome) -> None:
        self.lines, self.pick_rma, self.pick_scan = outcome.lines, outcome.rma_id, scan
        open_lines = sum(1 for l in outcome.lines if l.received_qty < l.qty)
        keys = f"1–{min(len(outcome.lines), 9)}" if len(outcome.lines) > 1 else "1"
        self._set("info", safe(f"{outcome.rma_id}: {open_lines} items open — scan the item's barcode or press {keys}"),
                  outcome.rma_id or "", details=Text("Esc cancels (nothing is received)."))
        picker = self.query_one("#picker", LinePicker)
        picker.set_lines(outcome.lines)
        picker.display = True
        picker.focus()

    def keep_parcel(self, scan: ScanEvent, outcome: Outcome) -> None:
        """After a receipt from a parcel of several items: its lines stay on screen, the next item's
        GTIN receives its line, CMD:DONE closes the parcel (what is not in is missing)."""
        self.lines, self.pick_rma, self.pick_scan = outcome.lines, outcome.rma_id, scan
        picker = self.query_one("#picker", LinePicker)
        picker.set_lines(outcome.lines)
        picker.display = True
        done, expected = outcome.progress or (0, 0)
        hint = (f"{done} of {expected} received — scan the next item, or CMD:DONE closes the parcel"
                if done < expected else f"all {expected} items received — CMD:DONE or the next parcel")
        self._details.update(self._details.content.copy().append("\n").append_text(safe(hint, "bold"))
                             if isinstance(self._details.content, Text) else safe(hint, "bold"))

    def show_held(self, view: UnitView, days: int) -> None:
        """A blind receipt (search screen, F8): its LPN big, on hold."""
        self._set("warn", safe(f"Held {view.lpn}: no RMA yet — on the hold shelf, matched when a manifest names it"),
                  view.lpn, "HOLD", Text(f"Held up to {days} days; then the lead decides (its default action). "
                                         "Label it with its LPN."))
        self.add_log(view.lpn, "warn", "held (blind receipt)")
        self.bench_app.sound.play("attention")

    async def close_parcel(self, scan: ScanEvent) -> None:
        """CMD:DONE while a parcel is open: close it (receiving/parcels.py)."""
        app, rma_id = self.bench_app, self.pick_rma
        if rma_id is None or app.operator is None:
            return
        from dockstation.receiving.parcels import close_parcel
        from dockstation.tui.grading import required_policy

        policy = required_policy(app)
        closed = await app.in_thread(close_parcel, app.store, app.bench, app.operator, rma_id, policy=policy)
        self.end_pick()
        state = "warn" if closed.missing else "ok"
        big = "EMPTY" if closed.empty else (f"{len(closed.missing)} MISSING" if closed.missing else "COMPLETE")
        details = Text("\n".join(f"missing: line {m['line_no']} {clean(str(m['sku']), limit=20)} x{m['qty']}"
                                 for m in closed.missing[:3]))
        if closed.refund is not None:
            details.append(f"\nRefund decided: {closed.refund['refund']} {closed.refund['amount']} "
                           f"{closed.refund['currency']}")
        self._set(state if closed.ok else "error", safe(closed.message), big, "", details)
        self.add_log(scan.code, state, closed.message)
        app.sound.play("attention" if closed.missing or not closed.ok else "ok")

    def end_pick(self) -> None:
        if self.pick_rma is None:
            return
        self.lines, self.pick_rma, self.pick_scan = (), None, None
        picker = self.query_one("#picker", LinePicker)
        picker.display = False
        self.focus_entry()

    def on_line_picker_picked(self, message: LinePicker.Picked) -> None:
        rma_id, scan = self.pick_rma, self.pick_scan
        if rma_id is None or scan is None:
            return
        self.bench_app.enqueue_job(lambda: self._receive_line(rma_id, message.line_no, scan))

    def on_line_picker_cancelled(self, _: LinePicker.Cancelled) -> None:
        async def cancel() -> None:
            if self.picking:
                rma_id = self.pick_rma
                self.end_pick()
                self.show_message("info", "SCAN RMA", f"{rma_id}: cancelled, nothing received — scan the next parcel")

        self.bench_app.enqueue_job(cancel)

    async def _receive_line(self, rma_id: str, line_no: int, scan: ScanEvent) -> None:
        app = self.bench_app
        if app.operator is None or self.pick_rma != rma_id:
            return  # signed out or another parcel was scanned since: this pick is stale
        from dockstation.receiving.core import receive_line

        outcome = await app.inline_store.call(receive_line, app.store, app.bench, app.operator, rma_id, line_no, scan)
        app.show_outcome(scan, outcome)

    async def _pick_by_gtin(self, scan: ScanEvent, c: Classified) -> None:
        gtin = c.gtin or ""
        from dockstation.receiving.core import line_for_gtin

        line = line_for_gtin(self.lines, gtin)
        if line is not None:
            await self._receive_line(self.pick_rma or "", line.line_no, scan)
            return
        on_rma = any(l.gtin and l.gtin.zfill(14) == gtin.zfill(14) for l in self.lines)
        app = self.bench_app
        if not on_rma:
            from dockstation.receiving.core import parcel_of_product_code

            # 12 digits may be the next parcel's FedEx label as well as a UPC-A: the manifest says
            if await app.inline_store.call(parcel_of_product_code, app.store, app.bench, c) is not None:
                await self.process(scan, c)  # ends this pick; the parcel is received as itself
                return
        if not on_rma and app.operator is not None and self.pick_rma is not None:
            # an item on no line of the RMA: an extra unit, flagged undeclared_item (parcels.py)
            from dockstation.receiving.parcels import receive_undeclared

            outcome = await app.inline_store.call(receive_undeclared, app.store, app.bench, app.operator,
                                                  self.pick_rma, gtin, scan)
            app.show_outcome(scan, outcome)
            return
        why = "is already received on this RMA" if on_rma else "is not on the RMA"
        self._state.update(
            Text(" ! ", style="bold").append_text(safe(f"This product ({gtin}) {why}: scan another item or press Esc")))
        self._paint("warn")
        self.add_log(scan.code, "warn", f"product {why}")
        self.bench_app.sound.play("attention")

    # -- scans -----------------------------------------------------------------------------
    async def handle_scan(self, scan: ScanEvent, c: Classified) -> bool:
        """The screen contract: take the scans that mean something here, return True."""
        if c.kind is CodeKind.LPN:
            return False  # the app opens the unit
        if self.picking:
            if c.kind is CodeKind.GS1 and c.gtin:
                await self._pick_by_gtin(scan, c)
                return True
            if c.kind is CodeKind.COMMAND and c.value == "CANCEL":
                self.on_line_picker_cancelled(LinePicker.Cancelled())
                return True
            if c.kind is CodeKind.COMMAND and c.value == "DONE":
                await self.close_parcel(scan)
                return True
            if c.kind is CodeKind.COMMAND:  # means nothing here: refused, and the pick goes on
                self.add_log(scan.code, "error", "refused: nothing done — pick the line")
                self.bench_app.sound.play("error")
                self._state.update(Text(" ✖ ", style="bold").append_text(
                    safe(f"{clean(c.raw, limit=40)} means nothing here: scan the item or press its number")))
                self._paint("error")
                return True
            self.end_pick()  # any other code ends the pick and is handled as itself
        await self.process(scan, c)
        return True

    async def process(self, scan: ScanEvent, c: Classified) -> None:
        """A parcel (or unusable) code: the receiving use case, then its committed result."""
        app = self.bench_app
        self.end_pick()
        if c.kind is CodeKind.COMMAND:  # one that no screen took: it means nothing here
            self.refuse(scan, f"{clean(c.raw, limit=40)} means nothing on this screen: nothing done")
            return
        from dockstation.receiving.core import handle_scan

        outcome = await app.inline_store.call(handle_scan, app.store, app.bench, app.operator, scan, c)
        app.show_outcome(scan, outcome)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "entry":
            return
        event.stop()
        value = event.value.strip(" ")  # only spaces: never GS or other data
        event.input.clear()
        if value:
            app = self.bench_app
            app.enqueue_scan(ScanEvent(value, "keyboard", None, app.clock()))
