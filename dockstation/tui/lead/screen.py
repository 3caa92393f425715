"""The lead screen itself: layout, the refresh loop (SQL in a thread, widgets on the loop) and
the tabs. Text and cells come from `render`; the exception dialogue from `exceptions`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Input, Sparkline, Static, TabbedContent, TabPane

from dockstation.config import ConfigError
from dockstation.kpis.bench import LeadCache, LeadSnapshot, lead_snapshot
from dockstation.kpis.config import KpisConfig, load_kpis_config, load_lane_slas
from dockstation.text import clean
from dockstation.policy.awaiting import Waiting, pending
from dockstation.policy.triggers import count_deferred, moved_since
from dockstation.tui.lead import render
from dockstation.tui.lead.approvals import ApprovalActions, approval_cells, approval_view, approvals_note
from dockstation.tui.lead.containers import ContainerActions, container_widgets, load_board
from dockstation.tui.lead.exceptions import ExceptionActions
from dockstation.tui.lead.triggers import TriggersTab, trigger_cells, trigger_view
from dockstation.tui.lead.holds import HoldActions
from dockstation.tui.lead import holds as hold_tab
from dockstation.tui.widgets import BenchFooter, BigText, LinePicker, StatusHeader
from dockstation.tui.widgets.choice_picker import ChoicePicker

log = logging.getLogger("dockstation.tui.lead")
View = tuple[str, ...]  # a table row as plain values (render.*_view)
TABS = ("tab-queue", "tab-exceptions", "tab-operators", "tab-kpis", "tab-approvals", "tab-containers",
        "tab-triggers", hold_tab.TAB)


class LeadScreen(HoldActions, ContainerActions, ApprovalActions, ExceptionActions, TriggersTab):
    DEFAULT_CSS = """
    LeadScreen #lead-summary { height: 1; padding: 0 1; background: $boost; }
    /* eight tabs must fit 80 columns: one space between labels, not two */
    LeadScreen Tab { padding: 0 0 0 1; }
    LeadScreen #refused { padding: 1 2; height: auto; }
    LeadScreen #refused-big { color: $error; height: 3; margin: 1 2; }
    LeadScreen TabbedContent { height: 1fr; }
    LeadScreen TabPane { padding: 0; }
    LeadScreen #aging { height: auto; padding: 0 1; }
    LeadScreen #queue-note, LeadScreen #exc-note { height: 1; padding: 0 1; color: $text-muted; }
    LeadScreen DataTable { height: 1fr; min-height: 3; }
    LeadScreen #lines { display: none; height: auto; max-height: 8; }
    LeadScreen #approvals-note, LeadScreen #triggers-note, LeadScreen #holds-note { height: 1; padding: 0 1; }
    LeadScreen #approval-pick { display: none; height: auto; max-height: 11; }
    LeadScreen #prompt { display: none; height: 3; }
    LeadScreen #kpis { height: auto; padding: 0 1; }
    LeadScreen #spark { height: 3; margin: 0 1; }
    LeadScreen #containers-note { height: 1; padding: 0 1; }
    LeadScreen #unsorted { height: auto; max-height: 7; padding: 0 1; }
    LeadScreen #container-pick { height: auto; max-height: 11; }
    LeadScreen #container-prompt { height: 3; }
    """
    BINDINGS = [
        # The actions of one tab are listed on that tab's note line, not in the footer: all of them
        # would not fit 80 columns.
        Binding("m", "match", "Match", show=False, id="lead.match"),
        Binding("q", "quarantine", "Quarantine", show=False, id="lead.quarantine"),
        Binding("v", "void", "Void", show=False, id="lead.void"),
        Binding("a", "approve", "Approve", show=False, id="lead.approve"),
        Binding("c", "change", "Change", show=False, id="lead.change"),
        Binding("n", "open_container", "Open container", show=False, id="lead.open_container"),
        Binding("u", "reopen_container", "Reopen container", show=False, id="lead.reopen_container"),
        Binding("r", "refresh", "Refresh", id="lead.refresh"),
        *(Binding(str(n), f"tab({n})", f"Tab {n}", show=False, id=f"lead.tab{n}") for n in range(1, len(TABS) + 1)),
        Binding("escape", "cancel", "Back", id="lead.cancel"),
    ]

    def __init__(self) -> None:
        super().__init__(id="lead")
        self.snapshot: LeadSnapshot | None = None
        self.refreshes = 0  # completed refreshes (tests and the bench wait on it)
        self.mode = None
        self.target = None
        self.match_rma = None
        self.approval: Waiting | None = None
        self.approval_path: str | None = None
        self.waiting: list[Waiting] = []
        self.waiting_count = 0
        self.moved = []  # age triggers' firings today (tab 7, tui/lead/triggers.py)
        self.moved_count = 0
        self.deferred_count = 0
        self.hold_rows = []
        self.hold_target = None
        self.cfg = KpisConfig()
        self.lanes: dict[str, float] = {}
        self._cache = LeadCache()  # what the next refresh need not read again
        self._loading = False
        self._again = False
        self._stale: set[str] = set()
        self._shown: dict[str, Text] = {}  # what each Static shows now
        self._rows: dict[str, dict[str, View]] = {}  # what each table shows now, key → view, in order

    # -- layout ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusHeader()
        if not self.allowed:
            yield BigText("LEADS ONLY", id="refused-big")
            yield Static(Text("✖ The lead view needs a lead's badge. Scan a lead's badge, then F3. Esc goes back.",
                              style="bold red"), id="refused")
            yield BenchFooter()
            return
        yield Static("", id="lead-summary", markup=False)
        with TabbedContent(id="tabs"):
            with TabPane("1 Queue", id="tab-queue"):
                yield Static("", id="aging", markup=False)
                yield Static("", id="queue-note", markup=False)
                yield DataTable(id="queue", cursor_type="row", zebra_stripes=True)
            with TabPane("2 Exceptions", id="tab-exceptions"):
                yield Static("", id="exc-note", markup=False)
                yield DataTable(id="exceptions", cursor_type="row", zebra_stripes=True)
                yield LinePicker(id="lines")
                yield Input(id="prompt", max_length=200)
            with TabPane("3 Staff", id="tab-operators"):
                yield DataTable(id="operators", cursor_type="row", zebra_stripes=True)
            with TabPane("4 KPIs", id="tab-kpis"):
                with VerticalScroll():
                    yield Static("", id="kpis", markup=False)
                    yield Sparkline([], id="spark", summary_function=max)
            with TabPane("5 Approval", id="tab-approvals"):
                yield Static("", id="approvals-note", markup=False)
                yield DataTable(id="approvals", cursor_type="row", zebra_stripes=True)
                yield ChoicePicker(id="approval-pick")
            with TabPane("6 Containers", id="tab-containers"):  # tui/lead/containers.py
                yield from container_widgets()
            with TabPane("7 Triggers", id="tab-triggers"):
                yield Static("", id="triggers-note", markup=False)
                yield DataTable(id="triggers", cursor_type="row", zebra_stripes=True)
            with TabPane("8 Holds", id=hold_tab.TAB):
                yield Static("", id="holds-note", markup=False)
                yield DataTable(id="holds", cursor_type="row", zebra_stripes=True)
        yield BenchFooter()

    def on_mount(self) -> None:
        if not self.allowed:
            self.bench_app.beep(False)
            return
        try:
            self.cfg = load_kpis_config(self.bench_app.home)
        except ConfigError as exc:  # the defaults stay in force; say which file to fix
            self.notify(f"kpis.toml refused, using defaults: {clean(exc)}", severity="warning", markup=False)
        self.lanes = load_lane_slas(self.bench_app.home)
        width = max(12, self.size.width - 66)
        q = self.query_one("#queue", DataTable)
        for label, w in [("", 1), ("LPN", 12), ("state", 8), ("lane", 9), ("age", 6), ("due", 7), ("item", width)]:
            q.add_column(label, width=w, key=label or "sym")
        x = self.query_one("#exceptions", DataTable)
        for label, w in [("#", 5), ("age", 6), ("kind", 16), ("code", max(12, width + 2)), ("by", 6), ("value", 9)]:
            x.add_column(label, width=w, key=label)
        a = self.query_one("#approvals", DataTable)
        for label, w in [("", 1), ("LPN", 12), ("asked", 13), ("policy", 13), ("age", 6),
                         ("graded by", max(10, width - 4)), ("price", 9)]:
            a.add_column(label, width=w, key=label or "sym")
        t = self.query_one("#triggers", DataTable)
        for label, w in [("LPN", 12), ("at", 5), ("trigger", 14), ("did", 12), ("waited", 6),
                         ("why", max(12, width + 3))]:
            t.add_column(label, width=w, key=label)
        o = self.query_one("#operators", DataTable)
        for label, w in [("operator", 20), ("recv", 5), ("graded", 6), ("disp", 5), ("hours", 6), ("units/h", 8)]:
            o.add_column(label, width=w, key=label)
        self.setup_container_columns()
        self.mount_holds(self.size.width)
        self.set_interval(self.cfg.lead.refresh_seconds, self.action_refresh)
        self.action_refresh()

    # -- refresh (SQL in a thread, widgets on the loop) ---------------------------------------
    def action_refresh(self) -> None:
        if self.allowed and self._loading:
            self._again = True  # asked while loading (the age triggers moved units): once more after
        elif self.allowed:
            self._loading = True
            self.run_worker(self._refresh(), group="lead-refresh", exit_on_error=False)

    async def _refresh(self) -> None:
        app = self.bench_app
        names = {o.badge: o.name for o in app.config.operators.operators}
        try:
            snap = await asyncio.to_thread(lead_snapshot, app.store, self.cfg, now=app.clock(),
                                           lane_sla=self.lanes, names=names, cache=self._cache)
            self.waiting_count, self.waiting = await asyncio.to_thread(pending, app.store)
            self.container_board = await asyncio.to_thread(load_board, app.store, app.clock())
            app.run_age_triggers()  # the lead's refresh applies the age triggers too (in the background)
            self.moved_count, self.moved = await asyncio.to_thread(moved_since, app.store, snap.day_start)
            self.deferred_count = await asyncio.to_thread(count_deferred, app.store)
            self.hold_rows = await asyncio.to_thread(hold_tab.load, app.store, snap.now)
        except Exception as exc:  # the screen stays up with the last figures
            log.exception("lead refresh failed")
            self._cache = LeadCache()  # start afresh next time
            self.notify(f"Lead view refresh failed: {clean(repr(exc))}", severity="error", markup=False)
            return
        finally:
            self._loading = False
            if self._again:
                self._again = False
                self.call_later(self.action_refresh)
        self.snapshot = snap
        self._show(snap)
        self.refreshes += 1

    def _show(self, s: LeadSnapshot) -> None:
        self._set_text("#lead-summary", render.summary(s, self.waiting_count))
        # Only the tab on screen is filled now; the others when they are opened (TabActivated).
        self._stale = set(TABS)
        self._fill(self.query_one("#tabs", TabbedContent).active)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id:
            self._fill(event.pane.id)

    def _fill(self, tab: str) -> None:
        s = self.snapshot
        if s is None or tab not in self._stale:
            return
        self._stale.discard(tab)
        if tab == "tab-queue":
            self._set_text("#aging", render.aging(s))
            self._set_text("#queue-note", render.queue_note(s))
            self._fill_table("#queue", [(q.lpn, render.queue_view(s, q)) for q in s.queue], render.queue_cells)
        elif tab == "tab-exceptions":
            self._fill_table("#exceptions", [(str(e.id), render.exception_view(e)) for e in s.exceptions],
                             render.exception_cells)
            self._set_text("#exc-note", render.exception_note(s))
        elif tab == "tab-operators":
            self._fill_table("#operators", [(o.badge, render.operator_view(o)) for o in s.operators],
                             render.operator_cells, keep=False)
        elif tab == "tab-approvals":
            names = {o.badge: o.name for o in self.bench_app.config.operators.operators}
            hours = s.now.timestamp() / 3600
            self._fill_table("#approvals", [(w.lpn, approval_view(w, names, hours)) for w in self.waiting],
                             approval_cells)
            if self.mode not in ("approve_reason", "change_path", "change_reason"):
                self._set_text("#approvals-note", approvals_note(self.waiting_count, len(self.waiting),
                                                                 self._selected_waiting()))
        elif tab == "tab-containers":
            self.fill_containers()
        elif tab == "tab-triggers":
            self._fill_table("#triggers", [(str(f.id), trigger_view(f)) for f in self.moved], trigger_cells)
            self._set_text("#triggers-note", self.triggers_note_now())
        elif tab == hold_tab.TAB:
            self.fill_holds()
        elif tab == "tab-kpis":
            self._set_text("#kpis", render.kpis(s))
            spark = self.query_one("#spark", Sparkline)
            if list(spark.data or []) != s.sparkline:
                spark.data = s.sparkline

    # A refresh every few seconds mostly repeats what is on screen: a widget is touched only when
    # its content changed, and the screen's layout is redone only when a text's height changed
    # (a layout pass over the whole screen costs more than the SQL).
    def _set_text(self, selector: str, text: Text) -> None:
        last = self._shown.get(selector)
        if last == text:
            return
        self._shown[selector] = text
        lines = text.plain.count("\n")
        self.query_one(selector, Static).update(text, layout=last is None or last.plain.count("\n") != lines)

    def _fill_table(self, selector: str, rows: list[tuple[str, View]], cells: Callable[[View], tuple[Text, ...]],
                    keep: bool = True) -> None:
        """One page of rows (the snapshot holds a page, never the whole backlog), as (key, view).

        A DataTable measures every cell it is given, so the page is patched rather than rebuilt
        when it can be: rows gone are removed, rows still there in the same order get only their
        changed cells, rows new at the end are added (the usual case: the lead works the queue
        from the top, new units join at the bottom). Otherwise it is rebuilt, and the cursor stays
        on the same line number."""
        table = self.query_one(selector, DataTable)
        last = self._rows.get(selector, {})
        self._rows[selector] = dict(rows)
        keys = [k for k, _ in rows]
        kept = [k for k in last if k in self._rows[selector]]
        if last and keys[:len(kept)] == kept and table.row_count == len(last):
            columns = list(table.columns)
            for key in last.keys() - self._rows[selector].keys():
                table.remove_row(key)
            for key, view in rows[:len(kept)]:
                if view != last[key]:
                    for column, cell in zip(columns, cells(view), strict=True):
                        table.update_cell(key, column, cell)
            for key, view in rows[len(kept):]:
                table.add_row(*cells(view), key=key)
            return
        row = table.cursor_row
        table.clear()
        for key, view in rows:
            table.add_row(*cells(view), key=key)
        if keep and rows:
            table.move_cursor(row=min(row, len(rows) - 1))

    # -- tabs ------------------------------------------------------------------------------
    def action_tab(self, n: int) -> None:
        if self.allowed and self.mode is None:
            self.query_one("#tabs", TabbedContent).active = TABS[n - 1]
