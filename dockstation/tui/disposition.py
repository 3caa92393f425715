"""Disposition screen: the policy's path BIG, why, where to, and what it recovers.

Keys: Enter (or CMD:DONE) accepts; `o` overrides (number keys pick a path); Esc (or CMD:CANCEL)
goes back one step. When a lead is needed the screen waits for a lead's badge scan, then a reason
(number keys). Everything shown from the store or config goes through `clean` into `Text`: never
markup. The core (dockstation.policy) commits before anything is shown or beeped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

from dockstation.tui.widgets import BenchFooter

from dockstation.config import Operator
from dockstation.policy.config import PolicyConfig, policy_for_home
from dockstation.policy.dispose import (
    DisposeOutcome,
    DispositionError,
    Proposal,
    check_approver,
    dispose,
    propose,
)
from dockstation.scan import Classified, CodeKind, ScanEvent
from dockstation.text import clean

T = TypeVar("T")

# Colour and symbol per path: the word itself is printed big too, so colour is never alone.
LOOK = {
    "restock": ("✔", "bold black on green"),
    "open_box": ("◆", "bold black on bright_cyan"),
    "refurbish": ("⚙", "bold white on blue"),
    "liquidate": ("$", "bold black on yellow"),
    "recycle": ("♻", "bold white on dark_green"),
    "vendor_return": ("↩", "bold white on purple"),
    "donate": ("♥", "bold white on magenta"),
    "quarantine": ("⚠", "bold white on red"),
    "dispose": ("✖", "bold white on grey30"),
}

# A 5-row block font for the letters of the path names (readable from 2 m at 80x24).
_F = {
    "A": " █ |█ █|███|█ █|█ █", "B": "██ |█ █|██ |█ █|██ ", "C": " ██|█  |█  |█  | ██",
    "D": "██ |█ █|█ █|█ █|██ ", "E": "███|█  |██ |█  |███", "F": "███|█  |██ |█  |█  ",
    "H": "█ █|█ █|███|█ █|█ █", "I": "███| █ | █ | █ |███", "K": "█ █|█ █|██ |█ █|█ █",
    "L": "█  |█  |█  |█  |███", "N": "█  █|██ █|█ ██|█  █|█  █", "O": "███|█ █|█ █|█ █|███",
    "P": "██ |█ █|██ |█  |█  ", "Q": "███ |█ █ |█ █ |█ █ |████", "R": "██ |█ █|██ |█ █|█ █",
    "S": " ██|█  | █ |  █|██ ", "T": "███| █ | █ | █ | █ ", "U": "█ █|█ █|█ █|█ █|███",
    "V": "█ █|█ █|█ █|█ █| █ ", "X": "█ █|█ █| █ |█ █|█ █", "Y": "█ █|█ █| █ | █ | █ ",
    " ": "  |  |  |  |  ",
}


def big(word: str) -> list[str]:
    """`word` in the block font: five lines (unknown characters become a blank cell)."""
    glyphs = [_F.get(ch, "   |   |   |   |   ").split("|") for ch in word.upper()]
    return [" ".join(g[row] for g in glyphs) for row in range(5)]


def title(path: str) -> str:
    return path.replace("_", " ").upper()


class DispositionScreen(Screen[None]):
    """Shows the policy's decision for `lpn` and carries it out (or an approved override)."""

    DEFAULT_CSS = """
    DispositionScreen { layout: vertical; }
    DispositionScreen #unit { height: 1; padding: 0 1; }
    DispositionScreen #path { height: 7; content-align: center middle; text-align: center; }
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
        self.mode = "loading"  # proposal | choose_path | await_badge | choose_reason | done | error
        self.proposal: Proposal | None = None
        self.pending_path: str | None = None  # the path awaiting a lead's approval
        self.lead: Operator | None = None
        self.outcome: DisposeOutcome | None = None
        self.busy = False  # a store call is running: a second Enter must not dispose twice

    # -- plumbing ------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(Text(clean(self.lpn)), id="unit")
        yield Static(Text(""), id="path")
        yield Static(Text(""), id="body")
        yield Static(Text(""), id="status")
        yield BenchFooter()

    @property
    def policy(self) -> PolicyConfig:
        return getattr(self.app, "policy", None) or policy_for_home(self.app.config.home)

    @property
    def wants_badge(self) -> bool:
        """True while a lead's badge scan is awaited: the app must offer BADGE scans here first."""
        return self.mode == "await_badge"

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
        self.query_one("#status", Static).update(Text(clean(message, limit=300), style=style))

    async def on_mount(self) -> None:
        await self.load()

    async def load(self) -> None:
        try:
            self.proposal = await self._call(propose, self.app.store, self.app.bench, self.lpn,
                                             policy=self.policy)
        except DispositionError as exc:
            self.mode = "error"
            self._status(f"✖ {exc}  (Esc: back)", "bold red")
            return
        self.mode, self.pending_path, self.lead = "proposal", None, None
        self.render_all()

    # -- rendering -----------------------------------------------------------------------------
    def render_all(self) -> None:
        p = self.proposal
        if p is None:
            return
        f = p.facts
        head = (f"{p.lpn}  {p.sku}  {p.description}   grade {f.grade or '?'}  {f.category}  "
                f"{f.unit_price} {p.currency}")
        self.query_one("#unit", Static).update(Text(clean(head), style="bold"))
        path = self.pending_path or p.decision.path
        symbol, style = LOOK.get(path, ("?", "bold reverse"))
        lines = [*big(title(path)), f"{symbol}  {title(path)}  {symbol}"]
        self.query_one("#path", Static).update(Text("\n".join(lines), style=style))
        self.query_one("#body", Static).update(self._body())

    def _body(self) -> Text:
        p = self.proposal
        assert p is not None
        d, r = p.decision, p.refund
        out = Text()
        if self.mode == "choose_path":
            out.append("Override: pick the path (number key), Esc: back\n", style="bold")
            for n, o in enumerate(p.options, start=1):
                sym = LOOK.get(o.path, ("?", ""))[0]
                mark = "  (policy)" if o.path == d.path else ""
                out.append(clean(f"{n} {sym} {title(o.path):<14} {o.recovery_value:>10} → "
                                 f"{o.destination}{mark}", limit=76) + "\n")
            return out
        if self.mode == "choose_reason":
            out.append(clean(f"Approved by {self.lead.name if self.lead else '?'}: pick the reason "
                             "(number key)") + "\n", style="bold")
            for n, (code, label) in enumerate(self.policy.approval_reasons.items(), start=1):
                out.append(clean(f"{n}  {label}  [{code}]", limit=76) + "\n")
            return out
        path = self.pending_path or d.path
        opt = p.option(path)
        if path == d.path:
            out.append(clean(f"Rule {d.rule_id}: {d.reason}") + "\n", style="bold")
        else:
            out.append(clean(f"Override of {title(d.path)} (rule {d.rule_id}: {d.reason})") + "\n",
                       style="bold")
        out.append(clean(f"→ {opt.destination}") + "\n")
        out.append(clean(f"Recovery estimate {opt.recovery_value} {p.currency}   "
                         f"policy {d.policy_version}") + "\n")
        out.append(clean(f"Refund: {r.refund.upper()} {r.amount} {p.currency} — {r.reason}") + "\n")
        if p.current_path:
            out.append(clean(f"Now: {title(p.current_path)} (a change is a redisposition)") + "\n")
        needs = opt.approval
        if self.mode == "await_badge":
            out.append("⚠ Lead: scan your badge to approve (Esc: back)\n", style="bold black on yellow")
            for why in needs:
                out.append(clean(f"  • {why}", limit=76) + "\n")
        elif needs:
            out.append(clean("⚠ Needs a lead: " + "; ".join(needs), limit=150) + "\n", style="bold yellow")
        return out

    # -- actions -------------------------------------------------------------------------------
    async def action_accept(self) -> None:
        if self.mode == "proposal" and self.proposal is not None:
            self.pending_path = None
            if self.proposal.needs_approval:
                self._await_badge(self.proposal.decision.path)
            else:
                await self._dispose(None)
        elif self.mode in ("done", "error"):
            self._back_to_base()

    def action_override(self) -> None:
        if self.mode == "proposal":
            self.mode = "choose_path"
            self._status("")
            self.render_all()

    async def action_pick(self, n: int) -> None:
        p = self.proposal
        if p is None:
            return
        if self.mode == "choose_path" and n <= len(p.options):
            option = p.options[n - 1]
            if option.approval:
                self._await_badge(option.path)
            else:  # the policy's own path, no lead needed
                self.pending_path = None
                await self._dispose(None)
        elif self.mode == "choose_reason":
            codes = list(self.policy.approval_reasons)
            if n <= len(codes) and self.lead is not None:
                await self._dispose(self.pending_path, approver=self.lead.badge, reason=codes[n - 1])

    def action_back(self) -> None:
        if self.mode in ("choose_path", "await_badge", "choose_reason"):
            self.mode, self.pending_path, self.lead = "proposal", None, None
            self._status("")
            self.render_all()
        else:
            self.app.pop_screen()

    def _await_badge(self, path: str) -> None:
        self.pending_path = path
        self.mode = "await_badge"
        self._status("")
        self.render_all()

    # -- scans ---------------------------------------------------------------------------------
    def help_commands(self) -> list[tuple[str, str]]:
        return [("CMD:DONE", "Accept the decision"), ("CMD:CANCEL", "Back one step"),
                ("OP-<lead badge>", "A lead approves an override")]

    async def handle_scan(self, scan: ScanEvent, classified: Classified) -> bool:
        """Badge scans while awaiting a lead, and CMD:DONE / CMD:CANCEL; anything else: not ours."""
        kind = classified.kind
        if kind is CodeKind.BADGE and self.mode == "await_badge":
            await self._approve(classified.value)
            return True
        if kind is CodeKind.COMMAND and classified.value == "DONE":
            await self.action_accept()
            return True
        if kind is CodeKind.COMMAND and classified.value == "CANCEL":
            self.action_back()
            return True
        return False

    async def _approve(self, badge: str) -> None:
        if self.busy:
            return
        self.busy = True
        try:
            got: Any = await self._call(check_approver, self.app.store, self.app.bench, self.app.operator,
                                        self.lpn, badge, policy=self.policy, path=self.pending_path)
        finally:
            self.busy = False
        if isinstance(got, DisposeOutcome):  # refused, and audited
            self._beep(False)
            self._status(f"✖ {got.message}", "bold white on red")
            return
        self.lead = got
        self.mode = "choose_reason"
        self._beep(True)
        self._status(f"✔ Lead {got.name}: now pick the reason", "bold green")
        self.render_all()

    # -- carrying it out -----------------------------------------------------------------------
    async def _dispose(self, path: str | None, approver: str | None = None,
                       reason: str | None = None) -> None:
        operator = self.app.operator
        if operator is None:
            self._beep(False)
            self._status("✖ Nobody is signed in: scan your badge (OP-…) first", "bold red")
            return
        if self.busy:
            return
        self.busy = True
        try:
            out = await self._call(dispose, self.app.store, self.app.bench, operator, self.lpn,
                                   policy=self.policy, path=path, approver=approver,
                                   approval_reason=reason)
        except DispositionError as exc:
            self._beep(False)
            self._status(f"✖ {exc}", "bold red")
            return
        finally:
            self.busy = False
        if out.status == "needs_approval":  # the facts changed since the proposal was shown
            await self.load()
            self._await_badge(out.path or "")
            return
        if out.status == "refused":
            self._beep(False)
            self.mode = "proposal" if self.mode == "choose_reason" else self.mode
            self._status(f"✖ {out.message}", "bold white on red")
            self.render_all()
            return
        self.outcome, self.mode = out, "done"
        self._beep(True)
        self._back_to_base(title(out.path or ""), f"{out.message}. Label queued")

    def _back_to_base(self, headline: str | None = None, message: str = "") -> None:
        """Back to the receive screen (with the result on it, big), else pop to the base.

        Never awaited here: this may run in this screen's own handler, and awaiting the removal
        of the screen that is running the handler would wait for ever."""
        go = getattr(self.app, "go_to_receive", None)
        if callable(go):
            async def back() -> None:
                await go()
                if headline is not None:
                    self.app.show_result("info", headline, message)  # the sound was played already

            self.app.call_later(back)
            return
        if headline is not None:
            self.app.notify(clean(message), title=headline, markup=False)
        stack = self.app.screen_stack
        base = 1 if len(stack) > 1 and stack[0].id == "_default" else 0
        for _ in range(len(stack) - 1 - base):
            self.app.pop_screen()
