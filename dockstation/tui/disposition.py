"""Disposition screen: the policy's path BIG, why, where to, what it recovers — and moving on.

Moving on accepts; nothing is dropped. Enter or `CMD:DONE` accepts the decision shown; so does
the next parcel or LPN scan (or a sign-out, or another operator's badge): the app calls `settle`
before it leaves this screen, which carries the decision out — or, when it needs a lead, parks it
in the lead's "awaiting approval" queue (policy/awaiting.py) and says so — and only then the scan
does what it does. A lead's badge scanned here approves on the spot (then a reason, 1–9). `o`
overrides (1–9 picks a path). Esc goes back one step; from the decision it asks first (Esc again
leaves the unit graded, said on screen and in the scan log). A command that means nothing here
(`CMD:PASS` …) or a product/unreadable code is refused: error sound, a message, nothing changed.
Every result is on screen and in the scan log. Bindings have ids (`disposition.*`).

Everything shown from the store or config goes through `clean` into `Text` (disposition_render):
never markup. The core (dockstation.policy) commits before anything is shown or beeped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

from dockstation.config import Operator
from dockstation.policy.config import PolicyConfig
from dockstation.policy.dispose import (
    DONE_STATES,
    DisposeOutcome,
    DispositionError,
    Proposal,
    check_approver,
    propose,
)
from dockstation.scan import Classified, CodeKind, ScanEvent
from dockstation.text import clean
from dockstation.tui import disposition_render as render
from dockstation.tui.disposition_render import LOOK, UNKNOWN_LOOK, title
from dockstation.tui.disposition_settle import OPEN, CarryOut
from dockstation.tui.grading import required_policy
from dockstation.tui.reuse import KeepStylesOnResume
from dockstation.tui.widgets import BenchFooter, BigText, StatusHeader
from dockstation.tui.widgets.update import show
from dockstation.types import utcnow

T = TypeVar("T")
MOVING_ON = (CodeKind.LPN, CodeKind.RMA, CodeKind.TRACKING)

__all__ = ["DispositionScreen"]


class DispositionScreen(KeepStylesOnResume, CarryOut, Screen[None]):
    """Shows the policy's decision for `lpn` and carries it out (or an approved override)."""

    DEFAULT_CSS = """
    DispositionScreen { layout: vertical; }
    DispositionScreen #unit { height: 1; padding: 0 1; }
    DispositionScreen #path { height: 5; padding: 0 1; text-style: bold; }
    DispositionScreen.-wide.-tall #path { height: 7; }
    DispositionScreen #body { height: 1fr; padding: 0 1; }
    DispositionScreen #status { height: 2; padding: 0 1; }
    """
    HELP_TITLE = "Disposition"
    BINDINGS = [
        Binding("enter", "accept", "Accept", id="disposition.accept"),
        Binding("o", "override", "Override", id="disposition.override"),
        Binding("escape", "back", "Back", id="disposition.back"),
        *[Binding(str(n), f"pick({n})", f"Pick {n}", show=False, group=Binding.Group("Pick a path / a reason"),
                  id=f"disposition.pick{n}") for n in range(1, 10)],
    ]

    def __init__(self, lpn: str) -> None:
        super().__init__()
        self.lpn = lpn
        # loading | proposal | choose_path | await_badge | choose_reason | confirm_leave | done | error
        self.mode = "loading"
        self.proposal: Proposal | None = None
        self.asked_path: str | None = None  # the path it already waits for a lead with, if any
        self.pending_path: str | None = None  # the path shown instead of the policy's (override, asked)
        self.lead: Operator | None = None
        self.outcome: DisposeOutcome | None = None
        self.busy = False  # a store call is running: a second Enter must not dispose twice
        self._ready = asyncio.Event()  # the first proposal is loaded (or failed)
        self._resumed = False  # shown once already: a later ScreenResume is a return from above
        self._given: Proposal | None = None  # begin(): the proposal made when the unit was graded

    def begin(self, lpn: str, proposal: Proposal | None = None) -> None:
        """Another unit on this screen: the bench keeps one disposition screen and reuses it
        (BenchApp.disposition_for), since building a screen and removing it after each unit cost
        more than the unit's own store work (bench/bench_flow.py). Nothing of the last unit stays."""
        self.lpn = lpn
        self.mode = "loading"
        self.proposal = None
        self._given = proposal  # made by the transaction that graded it: the first load reads nothing
        self.asked_path = self.pending_path = None
        self.lead = None
        self.outcome = None
        self.busy = False
        self._ready = asyncio.Event()
        self._resumed = False  # the next resume is this unit being shown, not a return from above
        if self.is_mounted:
            self._status("")

    # -- plumbing ------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusHeader()
        yield Static(Text(clean(self.lpn)), id="unit")
        yield BigText("", id="path")
        yield Static(Text(""), id="body")
        yield Static(Text(""), id="status")
        yield BenchFooter()

    @property
    def policy(self) -> PolicyConfig:
        return required_policy(self.app)

    @property
    def shown_path(self) -> str:
        assert self.proposal is not None
        return self.pending_path or self.proposal.decision.path

    @property
    def needs_lead(self) -> bool:
        return self.proposal is not None and bool(self.proposal.option(self.shown_path).approval)

    @property
    def wants_badge(self) -> bool:
        """True while a lead's badge can approve here: the app offers BADGE scans here first
        (a badge that is not a lead's is then handled by the app as a sign-in)."""
        return self.mode == "await_badge" or (self.mode == "proposal" and self.needs_lead)

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Store work: on the event loop when the database is free (propose reads, dispose writes
        one transaction: inline_store.py; in a thread it waited for the GIL while this screen was
        being drawn, bench_flow.py), else off it (BenchApp.in_thread)."""
        inline = getattr(self.app, "inline_store", None)
        if inline is not None:
            return await inline.call(fn, *args, **kwargs)
        in_thread = getattr(self.app, "in_thread", None)
        if in_thread is not None:
            return await in_thread(fn, *args, **kwargs)  # type: ignore[no-any-return]
        return fn(*args, **kwargs)

    def _beep(self, ok: bool) -> None:
        beep = getattr(self.app, "beep", None)
        if beep is not None:
            beep(ok)

    def _status(self, message: str, style: str = "") -> None:
        show(self.query_one("#status", Static), Text(clean(message, limit=300), style=style), fixed=True)

    def _report(self, state: str, headline: str, message: str, *, log: str | None = None,
                code: str | None = None, toast: bool = True) -> None:
        """A result: its sound, a row in the scan log (`log`, short: the code column holds the
        LPN), and (toast) a notification — through the bench app's `report`; a host app without
        one gets a notification and a beep."""
        report = getattr(self.app, "report", None)
        if callable(report):
            report(state, headline, message, code=code or self.lpn, toast=toast, log=log)
            return
        if state in ("ok", "error"):
            self._beep(state == "ok")
        if toast:
            self.app.notify(clean(message), title=headline, markup=False)

    async def on_mount(self) -> None:
        await self.load()

    async def on_screen_resume(self) -> None:
        """Back from a screen on top (the lead view): the unit may have changed meanwhile."""
        resumed, self._resumed = self._resumed, True
        if resumed and self.proposal is not None and self.mode in OPEN and not self.busy:
            await self.load(keep_mode=True)

    async def load(self, keep_mode: bool = False) -> None:
        given, self._given = self._given, None
        try:
            if given is not None and given.lpn == self.lpn:
                proposal = given
            else:
                proposal = await self._call(propose, self.app.store, self.app.bench, self.lpn, policy=self.policy)
        except DispositionError as exc:
            self.mode = "error"
            self._status(f"✖ {exc}  (Esc: back)", "bold red")
            self._ready.set()
            return
        first = self.proposal is None
        was = self.proposal.state if self.proposal else proposal.state
        self.proposal = proposal
        self._ready.set()
        if not first and was not in DONE_STATES and proposal.state in DONE_STATES:
            self._finish("info", title(proposal.current_path or ""), f"{self.lpn} was disposed meanwhile",
                         "disposed meanwhile")
            return
        self.asked_path = proposal.waiting.path if proposal.waiting else None
        if not (keep_mode and self.mode in OPEN):
            self.mode, self.pending_path, self.lead = "proposal", self.asked_path, None
        self.render_all()
        if first:  # graded, or waiting for a lead: what is shown now goes in the scan log
            shown = f"{proposal.facts.grade or '?'} graded → {title(self.shown_path)} shown"
            self._report("info", "", f"{self.lpn}: {shown}", log=shown, toast=False)

    # -- rendering -----------------------------------------------------------------------------
    def render_all(self) -> None:
        p = self.proposal
        if p is None:
            return
        width = max(20, (self.size.width or 80) - 2)
        # Fixed sizes (DEFAULT_CSS): new text is a repaint, never a layout; unchanged, nothing.
        show(self.query_one("#unit", Static), render.head(p, width), fixed=True)
        path = self.shown_path
        _, background, colour = LOOK.get(path, UNKNOWN_LOOK)
        big = self.query_one("#path", BigText)
        big.styles.background, big.styles.color = background, colour
        big.update(render.big(p, path, self.mode))
        names = {o.badge: o.name for o in self.app.bench.operators.operators}
        waiting = render.waiting_line(p, names, utcnow())
        show(self.query_one("#body", Static), render.body(
            p, self.mode, path, self.policy, lead_name=self.lead.name if self.lead else "", waiting=waiting),
            fixed=True)

    def on_resize(self) -> None:
        self.render_all()  # the header line is cut to the width

    def _set_mode(self, mode: str, status: str = "", style: str = "") -> None:
        self.mode = mode
        self._status(status, style)
        self.render_all()

    # -- actions -------------------------------------------------------------------------------
    async def action_accept(self) -> None:
        if self.busy or self.proposal is None:
            if self.mode == "error":
                self._back_to_base()
            return
        if self.mode == "confirm_leave":
            self._set_mode("proposal")
        if self.mode == "proposal":
            if self.needs_lead and self.proposal.state != "awaiting_approval":
                self._set_mode("await_badge")  # a lead may be right here; Enter again parks it
            else:
                await self._settle_now()
        elif self.mode == "await_badge":
            await self._settle_now()  # into the lead's queue: the grader moves on
        elif self.mode in ("done", "error"):
            self._back_to_base()

    def action_override(self) -> None:
        if self.mode == "proposal":
            self._set_mode("choose_path")

    async def action_pick(self, n: int) -> None:
        p = self.proposal
        if p is None or self.busy:
            return
        if self.mode == "choose_path" and n <= len(p.options):
            option = p.options[n - 1]
            self.pending_path = None if option.path == p.decision.path else option.path
            if option.approval:
                self._set_mode("await_badge")
            else:  # the policy's own path, no lead needed
                await self._dispose(None)
        elif self.mode == "choose_reason":
            codes = list(self.policy.approval_reasons)
            if n <= len(codes) and self.lead is not None:
                await self._dispose(self.pending_path, approver=self.lead.badge, reason=codes[n - 1])

    def action_back(self) -> None:
        if self.busy:
            return
        if self.mode in ("choose_path", "await_badge", "choose_reason"):
            self.pending_path, self.lead = self.asked_path, None
            self._set_mode("proposal")
        elif self.mode == "proposal" and self.proposal is not None and self.proposal.state == "awaiting_approval":
            self._finish("warn", "AWAITS LEAD", f"{self.lpn} still waits in the lead's queue "
                         f"({title(self.shown_path)})", f"awaits a lead: {title(self.shown_path)}")
        elif self.mode == "proposal":
            self._set_mode("confirm_leave")
            sound = getattr(self.app, "sound", None)
            if sound is not None:
                sound.play("attention")
        elif self.mode == "confirm_leave":
            state = self.proposal.state.replace("_", " ") if self.proposal else "graded"
            self._finish("warn", "NOT DISPOSED", f"{self.lpn} left {state}, no disposition: "
                         "scan its LPN to dispose it", f"left {state}: not disposed")
        else:
            self._back_to_base()

    # -- scans ---------------------------------------------------------------------------------
    def help_commands(self) -> list[tuple[str, str]]:
        return [("CMD:DONE", "Accept the decision"), ("CMD:CANCEL", "Back one step"),
                ("OP-<lead badge>", "A lead approves (a path that needs one)"),
                ("next parcel / LPN", "Settles the decision shown, then goes on")]

    async def handle_scan(self, scan: ScanEvent, classified: Classified) -> bool:
        """Badges (a lead approving), CMD:DONE / CMD:CANCEL; the next unit or parcel settles
        the decision shown and goes on to the app; anything else is refused here."""
        kind = classified.kind
        if kind is CodeKind.BADGE:
            if self.wants_badge and (self.mode == "await_badge" or self._is_lead(classified.value)):
                await self._approve(classified.value)
                return True
            return False  # a sign-in: the app settles this screen first if the operator changes
        if kind is CodeKind.COMMAND and classified.value == "DONE":
            await self.action_accept()
            return True
        if kind is CodeKind.COMMAND and classified.value == "CANCEL":
            self.action_back()
            return True
        if self.mode not in OPEN and self.mode != "loading":
            return False  # carried out or failed already: the scan is the app's
        if kind is CodeKind.LPN and classified.value == self.lpn:
            self._refuse(scan, f"{self.lpn} is on screen: Enter or CMD:DONE accepts", state="warn")
            return True
        if kind in MOVING_ON:
            await self.settle()
            return False  # then the app does with the scan what it always does
        what = {CodeKind.COMMAND: f"{classified.raw} means nothing on this screen",
                CodeKind.GS1: "a product barcode means nothing on this screen"}.get(
            kind, "unreadable or unknown code")
        self._refuse(scan, f"{what}: nothing done. Enter or CMD:DONE accepts, the next scan too")
        return True

    def _is_lead(self, badge: str) -> bool:
        op = self.app.bench.operators.by_badge(badge)
        return op is not None and op.role == "lead"

    def _refuse(self, scan: ScanEvent, message: str, state: str = "error") -> None:
        self._status(f"{'✖' if state == 'error' else '!'} {message}",
                     "bold white on red" if state == "error" else "bold black on yellow")
        self._report(state, "REFUSED", message, code=scan.code, toast=False,
                     log="refused: nothing done here" if state == "error" else message)

    async def _approve(self, badge: str) -> None:
        if self.busy:
            return
        self.busy = True
        try:
            got: Any = await self._call(check_approver, self.app.store, self.app.bench, self.app.operator,
                                        self.lpn, badge, policy=self.policy, path=self.shown_path)
        finally:
            self.busy = False
        if isinstance(got, DisposeOutcome):  # refused, and audited
            self._status(f"✖ {got.message}", "bold white on red")
            self._report("error", "REFUSED", got.message, toast=False, log=f"approval refused: {got.message}")
            return
        self.lead = got
        self._set_mode("choose_reason", f"✔ Lead {got.name}: now pick the reason", "bold green")
        self._beep(True)
