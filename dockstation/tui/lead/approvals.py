"""The lead's "awaiting approval" queue (tab 5): decisions graders left for a lead, oldest first.

`a` approves the path asked for, `c` changes it (pick another path); either way a reason (1–9)
follows, then the use case (`dockstation.policy.awaiting.approve`: same approval rules as at the
bench, audited) carries it out — unit, decision, events, label — and the row leaves the queue.
A mixin of `LeadScreen`: this is only the dialogue around the core.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.screen import Screen
from textual.widgets import DataTable, Static, TabbedContent

from dockstation.policy.awaiting import Waiting, approve, title
from dockstation.policy.config import PolicyConfig
from dockstation.policy.dispose import DispositionError
from dockstation.scan import Classified, CodeKind, ScanEvent
from dockstation.text import clean
from dockstation.tui.lead.render import hours_text, money
from dockstation.tui.widgets import cell
from dockstation.tui.widgets.choice_picker import ChoicePicker

if TYPE_CHECKING:
    from dockstation.tui.app import BenchApp

TAB = "tab-approvals"
MODES = ("approve_reason", "change_path", "change_reason")


def approval_view(w: Waiting, names: dict[str, str], now_hours: float) -> tuple[str, ...]:
    policy = "=" if w.path == w.policy_path else title(w.policy_path)  # an override: what it overrides
    age = now_hours - w.since.timestamp() / 3600
    who = w.graded_by or w.requested_by
    return (w.lpn, title(w.path), policy, hours_text(max(0.0, age)), names.get(who, who or "–"),
            money(w.unit_price))


def approval_cells(view: tuple[str, ...]) -> tuple[Text, ...]:
    lpn, asked, policy, age, by, price = view
    return (Text("!", style="bold yellow"), cell(lpn, "bold"), cell(asked, "bold"), cell(policy), Text(age),
            cell(by), Text(price))


def approvals_note(count: int, shown: int, selected: Waiting | None = None) -> Text:
    """The tab's first line: how many wait, the keys, and why the selected one needs a lead."""
    if not count:
        return Text("✔ Nothing awaits approval", style="green", no_wrap=True)
    more = f" (oldest {shown} shown)" if count > shown else ""
    out = Text(f"! {count} awaiting approval{more} · a approve · c change", style="bold yellow",
               no_wrap=True, overflow="ellipsis")
    if selected is not None and selected.why:
        out.append(clean(f" · {selected.lpn[-4:]}: {'; '.join(selected.why)}"), style="")
    return out


class ApprovalActions(Screen[None]):
    """Approve or change the selected waiting decision (state: mode, approval, approval_path)."""

    mode: str | None
    approval: Waiting | None  # the row being decided
    approval_path: str | None  # the path chosen by `c`
    waiting: list[Waiting]

    @property
    def bench_app(self) -> BenchApp:
        return cast("BenchApp", self.app)

    def _fill(self, tab: str) -> None:  # LeadScreen fills a tab's widgets from the last snapshot
        raise NotImplementedError

    def action_refresh(self) -> None:
        raise NotImplementedError

    @property
    def lead_policy(self) -> PolicyConfig:
        app = self.bench_app
        from dockstation.tui.grading import required_policy

        return required_policy(app)

    def _selected_waiting(self) -> Waiting | None:
        table = self.query_one("#approvals", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((w for w in self.waiting if w.lpn == key), None)

    def _start_approval(self, mode: str) -> None:
        op = self.bench_app.operator
        if op is None or op.role != "lead" or self.mode is not None:
            return
        self.query_one("#tabs", TabbedContent).active = TAB
        self._fill(TAB)
        target = self._selected_waiting()
        if target is None:
            self.bench_app.show_result("warn", "NOTHING TO APPROVE", "No unit awaits approval")
            return
        self.mode, self.approval, self.approval_path = mode, target, None
        if mode == "change_path":
            paths = [p for p in self.lead_policy.paths if p != target.path]
            choices = [(p, f"{title(p)}" + ("  (policy)" if p == target.policy_path else "")) for p in paths]
            self._pick(choices, f"{target.lpn}: change {title(target.path)} to (1–9, Enter) · Esc cancels")
        else:
            self._ask_reason()

    def _ask_reason(self) -> None:
        target = self.approval
        assert target is not None
        path = self.approval_path or target.path
        choices = list(self.lead_policy.approval_reasons.items())
        self.mode = "approve_reason" if self.approval_path is None else "change_reason"
        self._pick(choices, f"{target.lpn}: {title(path)} — the reason (1–9, Enter) · Esc cancels")

    def _pick(self, choices: list[tuple[str, str]], prompt: str) -> None:
        self.query_one("#approvals-note", Static).update(Text(clean(prompt), style="bold"))
        picker = self.query_one("#approval-pick", ChoicePicker)
        picker.set_choices(choices)
        picker.display = True
        picker.focus()

    def action_approve(self) -> None:
        self._start_approval("approve_reason")

    def action_change(self) -> None:
        self._start_approval("change_path")

    async def handle_scan(self, scan: ScanEvent, classified: Classified) -> bool:
        """The LPN of a unit awaiting approval (the lead holds it) selects its row; `a` approves."""
        if classified.kind is CodeKind.LPN and self.mode is None and \
                any(w.lpn == classified.value for w in self.waiting):
            self.query_one("#tabs", TabbedContent).active = TAB
            self._fill(TAB)
            table = self.query_one("#approvals", DataTable)
            table.move_cursor(row=table.get_row_index(classified.value))
            table.focus()
            self.bench_app.report("info", "", f"{classified.value}: awaiting approval, selected: a approves, "
                                  "c changes", code=scan.code, log="selected: a approve · c change")
            return True
        return await super().handle_scan(scan, classified)  # type: ignore[misc, no-any-return]

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "approvals" and self.mode is None:
            self.query_one("#approvals-note", Static).update(
                approvals_note(getattr(self, "waiting_count", len(self.waiting)), len(self.waiting),
                               self._selected_waiting()))

    def action_cancel(self) -> None:
        if self.mode in MODES:
            self._end_approval()
        else:
            super().action_cancel()  # type: ignore[misc]  # the exception dialogue's, or back

    def _end_approval(self) -> None:
        self.mode, self.approval, self.approval_path = None, None, None
        picker = self.query_one("#approval-pick", ChoicePicker)
        picker.display = False
        self.query_one("#approvals", DataTable).focus()
        self.query_one("#approvals-note", Static).update(
            approvals_note(len(self.waiting), len(self.waiting), self._selected_waiting()))

    def on_choice_picker_picked(self, message: ChoicePicker.Picked) -> None:
        message.stop()
        if self.mode == "change_path":
            self.approval_path = message.key
            self._ask_reason()
        elif self.mode in ("approve_reason", "change_reason"):
            reason = message.key
            self.bench_app.enqueue_job(lambda: self._decide(reason))

    def on_choice_picker_cancelled(self, message: ChoicePicker.Cancelled) -> None:
        message.stop()
        self._end_approval()

    async def _decide(self, reason: str) -> None:
        app, target, path = self.bench_app, self.approval, self.approval_path
        if target is None or app.operator is None:
            return
        try:
            out = await app.in_thread(approve, app.store, app.bench, app.operator, target.lpn,
                                      policy=self.lead_policy, reason=reason, path=path)
        except DispositionError as exc:
            app.report("error", "NOT APPROVED", f"{target.lpn}: {exc}", code=target.lpn, log=f"not approved: {exc}")
            self._end_approval()
            self.action_refresh()
            return
        self._end_approval()
        if out.status == "refused":
            app.report("error", "REFUSED", out.message, code=target.lpn, log=f"approval refused: {out.message}")
        else:  # after the commit: the row is gone on refresh
            verb = "approved" if path is None else f"changed to {title(path)}"
            app.report("ok", "APPROVED", f"{target.lpn} {verb}: {out.message}. Label queued", code=target.lpn,
                       log=f"{verb} → {out.path} · label queued")
        self.action_refresh()
