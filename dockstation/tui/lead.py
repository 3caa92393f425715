"""The lead screen (F3, leads only): queue and aging against SLA, exceptions, operators, KPIs.

Four tabs that each fit 80x24: Queue (the aging matrix lane × hour bucket with SLA breaches,
the units not yet disposed by day bucket, and the most urgent units), Exceptions (the open
exception queue and the lead's actions: m match to an RMA line, q quarantine, v void with a
reason), Operators (units per hour today) and KPIs (cycle time P50/P90 today and this week,
disposition mix and recovery value, hourly throughput sparkline).

Every figure comes from `dockstation.kpis.bench.lead_snapshot`, computed in SQL in a thread every
`[lead] refresh_seconds`; the tables hold one page of rows (the counts cover the rest), so the
screen stays responsive with 100k open units. Breaches are shown in red with ✖ (never colour
alone); scanned and manifest text goes through `cell`/`safe` (never markup).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Sparkline, Static, TabbedContent, TabPane

from dockstation.config import ConfigError
from dockstation.kpis import actions
from dockstation.kpis.bench import LeadSnapshot, lead_snapshot
from dockstation.kpis.config import KpisConfig, load_kpis_config, load_lane_slas
from dockstation.receiving.core import line_for_gtin
from dockstation.scan import Classified, CodeKind, ScanEvent
from dockstation.text import clean
from dockstation.tui.widgets import BigText, LinePicker, StatusHeader, cell

if TYPE_CHECKING:
    from dockstation.tui.app import BenchApp

log = logging.getLogger("dockstation.tui.lead")
STATE_SHORT = {"received": "received", "inspecting": "inspect", "graded": "graded",
               "awaiting_approval": "approval", "quarantined": "quarant."}
BREACH, SOON, OK = ("✖", "bold red"), ("!", "bold yellow"), ("✔", "green")
TABS = ("tab-queue", "tab-exceptions", "tab-operators", "tab-kpis")
PROMPTS = {
    "match_rma": "Scan or type the RMA or tracking number, Enter · Esc cancels",
    "quarantine": "Reason (optional), Enter sends it to quarantine · Esc cancels",
    "void": "Reason to void (required), Enter · Esc cancels",
}


def hours_text(hours: float) -> str:
    sign = "-" if hours < 0 else ""
    h = abs(hours)
    return f"{sign}{h / 24:.0f}d" if h >= 72 else f"{sign}{h:.1f}h"


def money(value: Any) -> str:
    return f"{value:,.2f}"


class LeadScreen(Screen[None]):
    DEFAULT_CSS = """
    LeadScreen #lead-summary { height: 1; padding: 0 1; background: $boost; }
    LeadScreen #refused { padding: 1 2; height: auto; }
    LeadScreen #refused-big { color: $error; height: 3; margin: 1 2; }
    LeadScreen TabbedContent { height: 1fr; }
    LeadScreen TabPane { padding: 0; }
    LeadScreen #aging { height: auto; padding: 0 1; }
    LeadScreen #queue-note, LeadScreen #exc-note { height: 1; padding: 0 1; color: $text-muted; }
    LeadScreen DataTable { height: 1fr; min-height: 3; }
    LeadScreen #lines { display: none; height: auto; max-height: 8; }
    LeadScreen #prompt { display: none; height: 3; }
    LeadScreen #kpis { height: auto; padding: 0 1; }
    LeadScreen #spark { height: 3; margin: 0 1; }
    """
    BINDINGS = [
        Binding("m", "match", "Match", id="lead.match"),
        Binding("q", "quarantine", "Quarantine", id="lead.quarantine"),
        Binding("v", "void", "Void", id="lead.void"),
        Binding("r", "refresh", "Refresh", id="lead.refresh"),
        *(Binding(str(n), f"tab({n})", f"Tab {n}", show=False, id=f"lead.tab{n}") for n in range(1, 5)),
        Binding("escape", "cancel", "Back", id="lead.cancel"),
    ]

    def __init__(self) -> None:
        super().__init__(id="lead")
        self.snapshot: LeadSnapshot | None = None
        self.refreshes = 0  # completed refreshes (tests wait on it)
        self.mode: str | None = None  # match_rma | match_line | quarantine | void
        self.target: int | None = None  # the exception being resolved
        self.match_rma: str | None = None
        self.cfg = KpisConfig()
        self.lanes: dict[str, float] = {}
        self._loading = False
        self._stale: set[str] = set()

    @property
    def bench_app(self) -> BenchApp:
        return cast("BenchApp", self.app)

    @property
    def allowed(self) -> bool:
        op = self.bench_app.operator
        return op is not None and op.role == "lead"

    # -- layout ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusHeader()
        if not self.allowed:
            yield BigText("LEADS ONLY", id="refused-big")
            yield Static(Text("✖ The lead view needs a lead's badge. Scan a lead's badge, then F3. Esc goes back.",
                              style="bold red"), id="refused")
            yield Footer()
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
            with TabPane("3 Operators", id="tab-operators"):
                yield DataTable(id="operators", cursor_type="row", zebra_stripes=True)
            with TabPane("4 KPIs", id="tab-kpis"):
                with VerticalScroll():
                    yield Static("", id="kpis", markup=False)
                    yield Sparkline([], id="spark", summary_function=max)
        yield Footer()

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
        o = self.query_one("#operators", DataTable)
        for label, w in [("operator", 20), ("recv", 5), ("graded", 6), ("disp", 5), ("hours", 6), ("units/h", 8)]:
            o.add_column(label, width=w, key=label)
        self.set_interval(self.cfg.lead.refresh_seconds, self.action_refresh)
        self.action_refresh()

    # -- refresh (SQL in a thread, widgets on the loop) ---------------------------------------
    def action_refresh(self) -> None:
        if self.allowed and not self._loading:
            self._loading = True
            self.run_worker(self._refresh(), group="lead-refresh", exit_on_error=False)

    async def _refresh(self) -> None:
        app = self.bench_app
        names = {o.badge: o.name for o in app.config.operators.operators}
        try:
            snap = await asyncio.to_thread(lead_snapshot, app.store, self.cfg, now=app.clock(),
                                           lane_sla=self.lanes, names=names)
        except Exception as exc:  # the screen stays up with the last figures
            log.exception("lead refresh failed")
            self.notify(f"Lead view refresh failed: {clean(repr(exc))}", severity="error", markup=False)
            return
        finally:
            self._loading = False
        self.snapshot = snap
        self._show(snap)
        self.refreshes += 1

    def _show(self, s: LeadSnapshot) -> None:
        summary = Text(no_wrap=True, overflow="ellipsis")
        summary.append(f"{s.now.astimezone():%H:%M} ", style="bold")
        summary.append(f"· open {s.open_units:,} · ")
        if s.breached:
            summary.append(f"{BREACH[0]} {s.breached:,} past SLA", style=BREACH[1])
        else:
            summary.append(f"{OK[0]} none past SLA", style=OK[1])
        summary.append(f" · exceptions {s.exceptions_open:,}")
        c = s.cycle_today
        if c.units:
            summary.append(f" · today P50 {c.p50_hours:.1f}h P90 {c.p90_hours:.1f}h")
        self.query_one("#lead-summary", Static).update(summary)
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
            self.query_one("#aging", Static).update(self._aging(s))
            self.query_one("#queue-note", Static).update(Text(
                f"Most urgent {len(s.queue):,} of {s.open_units:,} open · ✖ past SLA · ! due within 1 h · ✔ in time",
                no_wrap=True, overflow="ellipsis"))
            self._fill_queue(s)
        elif tab == "tab-exceptions":
            self._fill_exceptions(s)
        elif tab == "tab-operators":
            self._fill_operators(s)
        elif tab == "tab-kpis":
            self.query_one("#kpis", Static).update(self._kpis(s))
            self.query_one("#spark", Sparkline).data = s.sparkline

    def _aging(self, s: LeadSnapshot) -> Text:
        out = Text(no_wrap=True, overflow="ellipsis")
        out.append(f"{'lane':<10}{'SLA':>5}", style="bold")
        for label in s.queue_labels:
            out.append(f"{label:>9}", style="bold")
        out.append(f"{'past SLA':>10}\n", style="bold")
        for lane, sla in s.lane_sla.items():
            counts = s.queue_buckets.get(lane, [0] * len(s.queue_labels))
            out.append(f"{clean(lane, limit=10):<10}{'–' if sla is None else f'{sla:g}h':>5}")
            for i, n in enumerate(counts):
                if n and s.bucket_breaches(lane, i):
                    out.append(f" {BREACH[0]}{n:>7,}", style=BREACH[1])
                else:
                    out.append(f"{n:>9,}")
            late = s.breached_by_lane.get(lane, 0)
            out.append(f"{BREACH[0] + ' ' if late else ''}{late:,}".rjust(10), style=BREACH[1] if late else "")
            out.append("\n")
        out.append("Not disposed: ", style="bold")
        out.append("  ".join(f"{label} {n:,}" for label, n in s.open_aging.items()))
        return out

    def _fill_queue(self, s: LeadSnapshot) -> None:
        table = self.query_one("#queue", DataTable)
        keep = table.cursor_row
        table.clear()
        for q in s.queue:
            due = None if q.sla_due_at is None else (q.sla_due_at - s.now).total_seconds() / 3600
            sym, style = BREACH if q.breached else SOON if due is not None and due < 1 else OK
            table.add_row(Text(sym, style=style), cell(q.lpn, "bold"), cell(STATE_SHORT.get(q.state, q.state)),
                          cell(q.lane), Text(hours_text(q.age_hours), style=style if q.breached else ""),
                          Text("–" if due is None else hours_text(due), style=style),
                          cell(f"{q.sku} {q.description}"), key=q.lpn)
        if s.queue:
            table.move_cursor(row=min(keep, len(s.queue) - 1))

    def _fill_exceptions(self, s: LeadSnapshot) -> None:
        table = self.query_one("#exceptions", DataTable)
        keep = table.cursor_row
        table.clear()
        for e in s.exceptions:
            table.add_row(Text(str(e.id)), Text(hours_text(e.age_hours)), cell(e.kind, "bold"), cell(e.code),
                          cell(e.operator or "–"), Text("–" if e.value is None else money(e.value)), key=str(e.id))
        if s.exceptions:
            table.move_cursor(row=min(keep, len(s.exceptions) - 1))
        more = s.exceptions_open - len(s.exceptions)
        note = f"{s.exceptions_open:,} open" + (f" (oldest {len(s.exceptions)} shown)" if more > 0 else "")
        self.query_one("#exc-note", Static).update(Text(f"{note} · m match · q quarantine · v void", no_wrap=True))

    def _fill_operators(self, s: LeadSnapshot) -> None:
        table = self.query_one("#operators", DataTable)
        table.clear()
        for o in s.operators:
            table.add_row(cell(o.name), Text(str(o.received)), Text(str(o.graded)), Text(str(o.disposed)),
                          Text(f"{o.hours:.1f}"), Text(f"{o.per_hour:.1f}", style="bold"), key=o.badge)

    def _kpis(self, s: LeadSnapshot) -> Text:
        out = Text()
        out.append("Cycle time receipt → first disposition\n", style="bold")
        for label, c in (("today", s.cycle_today), ("this week", s.cycle_week)):
            if c.units:
                out.append(f"  {label:<10}{c.units:>6,} units   P50 {c.p50_hours:>6.1f} h   P90 {c.p90_hours:>6.1f} h\n")
            else:
                out.append(f"  {label:<10}     0 units\n")
        out.append(f"{'Disposition mix':<18}{'today':>7}{'value':>12}{'week':>8}{'value':>12}\n", style="bold")
        for m in s.mix:
            out.append(f"  {clean(m.path, limit=15):<16}{m.units_today:>7,}{money(m.value_today):>12}"
                       f"{m.units_week:>8,}{money(m.value_week):>12}\n")
        if s.mix:
            out.append(f"  {'recovery':<16}{sum(m.units_today for m in s.mix):>7,}"
                       f"{money(sum(m.value_today for m in s.mix)):>12}{sum(m.units_week for m in s.mix):>8,}"
                       f"{money(sum(m.value_week for m in s.mix)):>12}\n", style="bold")
        hours = len(s.sparkline)
        out.append(f"Units disposed per hour, last {hours} h (peak {max(s.sparkline, default=0)})", style="bold")
        return out

    # -- tabs and keys -----------------------------------------------------------------------
    def action_tab(self, n: int) -> None:
        if self.allowed and self.mode is None:
            self.query_one("#tabs", TabbedContent).active = TABS[n - 1]

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

    # -- scans -------------------------------------------------------------------------------
    async def handle_scan(self, scan: ScanEvent, classified: Classified) -> bool:
        """While matching: an RMA or tracking scan picks the RMA, a product scan picks its line."""
        if not self.allowed:
            return False
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
