"""The lead's Holds tab (tab 8): blind receipts on the hold shelf (docs/receiving.md, "Holds").

Open holds come first, soonest deadline first, each with its age and what is left of its
deadline; then the holds resolved in the last week — those a manifest import or a pull from HQ
matched automatically ("matched automatically → RMA-…"), those a lead matched or defaulted.
A hold whose deadline has passed is proposed its default action (policy.toml `[hold]`
`default_path`): Enter on its row asks, a second Enter confirms, Esc keeps it held. The use case
(`receiving.holds.apply_default`: lead only, audited, its label queued) does the work; scanning a
held unit's LPN selects its row the same way. A mixin of `LeadScreen`: only the dialogue.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual.screen import Screen
from textual.widgets import DataTable, Static, TabbedContent

from dockstation.receiving.holds import HoldError, HoldView, apply_default, holds
from dockstation.scan import Classified, CodeKind, ScanEvent
from dockstation.store import Store
from dockstation.text import clean
from dockstation.types import as_utc
from dockstation.tui.lead.render import BREACH, OK, SOON, hours_text
from dockstation.tui.widgets import cell

if TYPE_CHECKING:
    from dockstation.tui.app import BenchApp

TAB = "tab-holds"
CONFIRM = "hold_confirm"
COLUMNS = (("", 1), ("LPN", 12), ("state", 9), ("age", 5), ("due", 6))
PADDING = 2 * (len(COLUMNS) + 1) + 1  # each column's cell padding, and the scroll bar


def load(store: Store, now: datetime) -> list[HoldView]:
    """What the tab shows (in the refresh's thread)."""
    return holds(store, now=now)


def _title(path: str) -> str:
    return path.replace("_", " ")


def hold_view(h: HoldView, now: datetime) -> tuple[str, ...]:
    """A row as plain values: (symbol, style, LPN, state, age, due, what)."""
    age = hours_text(max(0.0, (now - as_utc(h.received_at)).total_seconds() / 3600))
    left = (as_utc(h.deadline_at) - now).total_seconds() / 3600
    if h.state == "open" and h.due(now):
        sym, style, state, what = *BREACH, "DUE", f"Enter: {_title(h.default_path)} · {h.code or h.order_id or ''}"
    elif h.state == "open" and h.candidate:
        sym, style, state, what = *SOON, "candidate", f"{h.candidate}: pick its line"
    elif h.state == "open":
        sym, style, state = " ", "", "held"
        what = f"then {_title(h.default_path)} · " + (h.code or (f"order {h.order_id}" if h.order_id else h.note))
    elif h.state == "matched":
        sym, style, state = *OK, "matched"
        how = "automatically" if h.resolved_by == "auto" else f"by {h.resolved_by or '?'}"
        what = f"matched {how} → {h.matched_rma_id}"
    else:
        sym, style, state, what = "·", "dim", h.state, f"{_title(h.default_path)} by {h.resolved_by or '?'}"
    due = hours_text(left) if h.state == "open" else "–"
    return (sym, style, h.lpn, state, age, due, what)


def hold_cells(view: tuple[str, ...]) -> tuple[Text, ...]:
    sym, style, lpn, state, age, due, what = view
    return (Text(sym, style=style), cell(lpn, "bold"), Text(state, style=style), Text(age),
            Text(due, style=style if state == "DUE" else ""), cell(what))


def holds_note(rows: list[HoldView], now: datetime) -> Text:
    held = [h for h in rows if h.state == "open"]
    due = sum(1 for h in held if h.due(now))
    auto = sum(1 for h in rows if h.state == "matched" and h.resolved_by == "auto")
    if not rows:
        return Text("✔ Nothing on the hold shelf", style="green", no_wrap=True)
    out = Text(no_wrap=True, overflow="ellipsis")
    out.append(f"{len(held)} held")
    if due:
        out.append(f" · {BREACH[0]} {due} past deadline (Enter)", style=BREACH[1])
    if auto:
        out.append(f" · {OK[0]} {auto} matched automatically this week", style=OK[1])
    return out


class HoldActions(Screen[None]):
    """Confirm the default action of a hold past its deadline (state: mode, hold_target)."""

    mode: str | None
    hold_rows: list[HoldView]
    hold_target: str | None
    lead_policy: Any  # ApprovalActions' property (the policy in force): not shadowed here

    @property
    def bench_app(self) -> BenchApp:
        return cast("BenchApp", self.app)

    def _fill(self, tab: str) -> None:  # LeadScreen fills a tab's widgets from the last snapshot
        raise NotImplementedError

    def action_refresh(self) -> None:
        raise NotImplementedError

    def _set_text(self, selector: str, text: Text) -> None:
        raise NotImplementedError

    def _fill_table(self, selector: str, rows: list[tuple[str, tuple[str, ...]]], cells: Any,
                    keep: bool = True) -> None:
        raise NotImplementedError

    def mount_holds(self, width: int) -> None:
        table = self.query_one("#holds", DataTable)
        rest = width - sum(w for _, w in COLUMNS) - PADDING
        for label, w in (*COLUMNS, ("what", max(12, rest))):
            table.add_column(label, width=w, key=label or "sym")

    def fill_holds(self) -> None:
        now = self.bench_app.clock()
        self._fill_table("#holds", [(h.lpn, hold_view(h, now)) for h in self.hold_rows], hold_cells)
        if self.mode != CONFIRM:
            self._set_text("#holds-note", holds_note(self.hold_rows, now))

    def _hold(self, lpn: str | None) -> HoldView | None:
        return next((h for h in self.hold_rows if h.lpn == lpn), None)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id != "holds":
            return
        event.stop()
        self._propose(event.row_key.value)

    def _propose(self, lpn: str | None) -> None:
        app, h = self.bench_app, self._hold(lpn)
        if h is None or app.operator is None or app.operator.role != "lead":
            return
        if self.mode == CONFIRM and self.hold_target == h.lpn:
            app.enqueue_job(lambda: self._apply(h.lpn))
            return
        if self.mode not in (None, CONFIRM):
            return
        now = app.clock()
        if h.state != "open":
            app.report("info", "", f"{h.lpn} is no longer held ({h.state})", code=h.lpn, log=f"hold {h.state}")
        elif not h.due(now):
            app.report("warn", "NOT YET", f"{h.lpn}: its deadline is {as_utc(h.deadline_at):%Y-%m-%d %H:%M} UTC; "
                       "until then a manifest may still match it", code=h.lpn, log="hold: deadline not reached")
        else:
            self.mode, self.hold_target = CONFIRM, h.lpn
            note = Text(no_wrap=True, overflow="ellipsis", style="bold")
            # 80 columns: the path is the hold's default (the row says so), the deadline passed
            note.append(clean(f"{h.lpn}: {_title(h.default_path).capitalize()} it now? Enter confirms · "
                              "Esc keeps it held"))
            self.query_one("#holds-note", Static).update(note)
            app.beep(True)

    def _end_hold(self) -> None:
        self.mode, self.hold_target = None, None
        self.query_one("#holds-note", Static).update(holds_note(self.hold_rows, self.bench_app.clock()))

    async def _apply(self, lpn: str) -> None:
        app = self.bench_app
        if self.mode != CONFIRM or self.hold_target != lpn:
            return  # cancelled meanwhile
        self._end_hold()
        try:
            msg = await app.in_thread(apply_default, app.store, app.bench, app.operator, lpn,
                                      policy=self.lead_policy, now=app.clock())
        except HoldError as exc:
            app.report("error", "REFUSED", f"{lpn}: {exc}", code=lpn, log=f"hold default refused: {exc}")
        else:  # after the commit
            app.report("ok", "DONE", f"{msg}. Label queued", code=lpn, log=f"hold default: {msg}")
        self.action_refresh()

    def action_cancel(self) -> None:
        if self.mode == CONFIRM:
            self._end_hold()
        else:
            super().action_cancel()  # type: ignore[misc]  # the other tabs' dialogues, or back

    async def handle_scan(self, scan: ScanEvent, classified: Classified) -> bool:
        """A held unit's LPN (the lead holds it) selects its row, and proposes its default if due."""
        if classified.kind is CodeKind.LPN and self.mode in (None, CONFIRM) and self._hold(classified.value):
            self.query_one("#tabs", TabbedContent).active = TAB
            self._fill(TAB)
            table = self.query_one("#holds", DataTable)
            table.move_cursor(row=table.get_row_index(classified.value))
            table.focus()
            self._propose(classified.value)
            return True
        return await super().handle_scan(scan, classified)  # type: ignore[misc, no-any-return]
