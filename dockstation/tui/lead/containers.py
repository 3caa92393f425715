"""The lead's Containers tab (tab 6): open containers with their fill, age and value; closed today;
units waiting to be sorted, oldest first with their age. `n` opens a container (pick its path),
`u` reopens the selected closed one (a reason, audited). A mixin of `LeadScreen`: the use cases
are `dockstation.containers`; this is only the dialogue around them (docs/containers.md).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static, TabbedContent

from dockstation.containers import Board, ContainerError, open_container, reopen
from dockstation.containers.queries import board
from dockstation.text import clean
from dockstation.tui.lead.render import hours_text
from dockstation.tui.widgets import cell
from dockstation.tui.widgets.choice_picker import ChoicePicker

if TYPE_CHECKING:
    from dockstation.tui.app import BenchApp

TAB = "tab-containers"
MODES = ("container_path", "container_reason")
COLUMNS = [("", 1), ("container", 14), ("kind", 7), ("path", 13), ("fill", 9), ("age", 6), ("value", 10)]
UNSORTED_SHOWN = 5


def load_board(store: Any, now: Any) -> Board:
    with store.read() as session:
        return board(session, now=now, limit=UNSORTED_SHOWN)


def container_widgets() -> ComposeResult:
    yield Static("", id="containers-note", markup=False)
    yield DataTable(id="containers", cursor_type="row", zebra_stripes=True)
    yield Static("", id="unsorted", markup=False)
    yield ChoicePicker(id="container-pick")
    yield Input(id="container-prompt", max_length=200)


def container_rows(b: Board) -> list[tuple[str, tuple[str, ...]]]:
    hours = b.at.timestamp() / 3600
    rows = []
    for c in [*b.open, *b.closed_today]:
        age = hours - (c.closed_at or c.opened_at).timestamp() / 3600
        path = f"RTV {c.vendor}" if c.vendor else "+".join(c.paths)  # an RTV box: whose
        rows.append((c.id, ("●" if c.state == "open" else "✔", c.id, c.kind, path,
                            f"{c.units}/{c.capacity}", hours_text(max(0.0, age)), f"{Decimal(c.value):.2f}")))
    return rows


def container_cells(view: tuple[str, ...]) -> tuple[Text, ...]:
    sym, cid, kind, path, fill, age, value = view
    return (Text(sym, style="bold green" if sym == "✔" else "bold"), cell(cid, "bold"), cell(kind), cell(path),
            Text(fill), Text(age), Text(value))


def containers_note(b: Board) -> Text:
    out = Text(f"{len(b.open)} open · value {b.open_value} · {len(b.closed_today)} closed today · "
               f"n open · u reopen", style="bold", no_wrap=True, overflow="ellipsis")
    return out


def unsorted_text(b: Board) -> Text:
    if not b.unsorted:
        return Text("✔ Every disposed unit is in a container", style="green")
    out = Text(f"! {b.unsorted} disposed, not sorted (oldest first):", style="bold yellow")
    for u in b.oldest:
        age = hours_text(max(0.0, u.age(b.at).total_seconds() / 3600))
        out.append("\n")
        out.append(clean(f"  {u.lpn}  {u.path.replace('_', ' ')}  {age}  {u.description}", limit=76), style="")
    return out


class ContainerActions(Screen[None]):
    """Open a container, reopen a closed one (state: mode; `container_board` from the refresh)."""

    mode: Any
    container_board: Board | None = None
    _reopen_target: str | None = None

    @property
    def bench_app(self) -> BenchApp:
        return cast("BenchApp", self.app)

    def setup_container_columns(self) -> None:
        table = self.query_one("#containers", DataTable)
        for label, w in COLUMNS:
            table.add_column(label, width=w, key=label or "sym")
        for selector in ("#container-pick", "#container-prompt"):
            self.query_one(selector).display = False

    def fill_containers(self) -> None:
        b = self.container_board
        if b is None:
            return
        fill_table = getattr(self, "_fill_table")
        fill_table("#containers", container_rows(b), container_cells)
        if self.mode not in MODES:
            self.query_one("#containers-note", Static).update(containers_note(b))
        self.query_one("#unsorted", Static).update(unsorted_text(b))

    def _policy(self) -> Any:
        return self.bench_app._policy()

    # -- open -------------------------------------------------------------------------------
    def action_open_container(self) -> None:
        if self.mode is not None:
            return
        self.query_one("#tabs", TabbedContent).active = TAB
        self.mode = "container_path"
        paths = list(self._policy().paths)
        self.query_one("#containers-note", Static).update(
            Text("Open a container for which path? (1–9, Enter) · Esc cancels", style="bold"))
        picker = self.query_one("#container-pick", ChoicePicker)
        picker.set_choices([(p, p.replace("_", " ")) for p in paths])
        picker.display = True
        picker.focus()

    # Textual calls the handler of every class in the screen's MRO that defines one (the
    # approvals' and exceptions' too): each acts only in its own modes, so none calls super().
    def on_choice_picker_picked(self, message: ChoicePicker.Picked) -> None:
        if self.mode != "container_path":
            return
        message.stop()
        path = message.key
        self.bench_app.enqueue_job(lambda: self._open(path))

    def on_choice_picker_cancelled(self, message: ChoicePicker.Cancelled) -> None:
        if self.mode != "container_path":
            return
        message.stop()
        self._end_containers()

    async def _open(self, path: str) -> None:
        app = self.bench_app
        try:
            c = await app.in_thread(open_container, app.store, app.bench.station_id, app.operator.badge,  # type: ignore[union-attr]
                                    policy=self._policy(), paths=[path])
        except ContainerError as exc:
            app.show_result("error", "NOT OPENED", str(exc))
        else:
            app.show_result("ok", "OPENED", f"{c.id} opened for {path.replace('_', ' ')} ({c.kind}, "
                            f"{c.capacity} units): label queued")
        self._end_containers()
        getattr(self, "action_refresh")()

    # -- reopen -----------------------------------------------------------------------------
    def action_reopen_container(self) -> None:
        if self.mode is not None or self.container_board is None:
            return
        self.query_one("#tabs", TabbedContent).active = TAB
        table = self.query_one("#containers", DataTable)
        if table.row_count == 0:
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        closed = {c.id for c in self.container_board.closed_today}
        if key not in closed:
            self.bench_app.show_result("warn", "REOPEN", "Select a closed container (✔) to reopen it")
            return
        self.mode, self._reopen_target = "container_reason", key
        prompt = self.query_one("#container-prompt", Input)
        prompt.value, prompt.placeholder = "", f"{key}: why is it reopened? Enter · Esc cancels"
        prompt.display = True
        prompt.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "container-prompt":
            return
        event.stop()
        target, reason = self._reopen_target, event.value.strip()
        if target is None or not reason:
            self.bench_app.beep(False)
            return
        self.bench_app.enqueue_job(lambda: self._reopen(target, reason))

    async def _reopen(self, target: str, reason: str) -> None:
        app = self.bench_app
        try:
            c = await app.in_thread(reopen, app.store, app.bench.station_id, app.operator, target, reason)
        except ContainerError as exc:
            app.show_result("error", "NOT REOPENED", str(exc))
        else:
            app.show_result("ok", "REOPENED", f"{c.id} is open again (reopened {c.reopened}×)")
        self._end_containers()
        getattr(self, "action_refresh")()

    def action_cancel(self) -> None:
        if self.mode in MODES:
            self._end_containers()
        else:
            super().action_cancel()  # type: ignore[misc]

    def _end_containers(self) -> None:
        self.mode, self._reopen_target = None, None
        self.query_one("#container-pick").display = False
        self.query_one("#container-prompt").display = False
        self.query_one("#containers", DataTable).focus()
        if self.container_board is not None:
            self.query_one("#containers-note", Static).update(containers_note(self.container_board))
