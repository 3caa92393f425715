"""Carrying out the decision the disposition screen shows (a mixin of `DispositionScreen`).

Enter / CMD:DONE, or moving on (the app calls `settle` before it leaves the screen): the policy's
decision is carried out through `policy.awaiting.settle` — or parked in the lead's queue when it
needs a lead — and an approved override through `policy.dispose.dispose`. The result is shown,
beeped and logged only after the core committed; then the bench goes back to receiving with the
result on it (with the open container that takes the unit first: tui/sorting.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dockstation.policy.awaiting import settle
from dockstation.policy.dispose import DisposeOutcome, DispositionError, dispose
from dockstation.tui import disposition_render as render
from dockstation.tui.disposition_render import title

if TYPE_CHECKING:
    from dockstation.tui.disposition import DispositionScreen

OPEN = ("proposal", "choose_path", "await_badge", "choose_reason", "confirm_leave")  # not carried out yet


class CarryOut:
    """Mixed into DispositionScreen."""

    async def settle(self: DispositionScreen) -> None:
        """The operator moves on (the app calls this before it leaves the screen): carry out
        the decision shown, or park it in the lead's queue; say which, in the scan log too."""
        await self._ready.wait()
        if self.mode not in OPEN or self.proposal is None or self.busy:
            return
        await self._settle_now(leaving=True)

    async def _settle_now(self: DispositionScreen, leaving: bool = False) -> None:
        operator = self.app.operator
        if operator is None or not operator.can("grader"):
            who = "nobody is signed in" if operator is None else f"{operator.name} is a {operator.role}"
            if leaving:
                self.mode = "done"
                self._report("warn", "NOT DISPOSED", f"{self.lpn} left graded ({who}): scan its LPN to dispose it",
                             log="left graded: not disposed")
            else:
                self._status(f"✖ {who}: a grader or a lead disposes", "bold red")
                self._beep(False)
            return
        self.busy = True
        try:
            out = await self._call(settle, self.app.store, self.app.bench, operator, self.lpn,
                                   policy=self.policy, path=self.pending_path)
        except DispositionError as exc:
            self.mode = "done" if leaving else "error"
            self._report("error", "NOT DISPOSED", f"{self.lpn}: {exc}", toast=leaving, log=f"not disposed: {exc}")
            if not leaving:
                self._status(f"✖ {exc}", "bold red")
            return
        finally:
            self.busy = False
        self.outcome = out
        state, headline, message, log = render.settled(out)
        message = self._sorting_hint(out) + message
        if leaving:
            self.mode = "done"
            self._report(state, headline, message, log=log)
        else:
            self._finish(state, headline, message, log)

    async def _dispose(self: DispositionScreen, path: str | None, approver: str | None = None, reason: str | None = None) -> None:
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
                                   policy=self.policy, path=path, approver=approver, approval_reason=reason)
        except DispositionError as exc:
            self._status(f"✖ {exc}", "bold red")
            self._report("error", "NOT DISPOSED", f"{self.lpn}: {exc}", toast=False, log=f"not disposed: {exc}")
            return
        finally:
            self.busy = False
        if out.status == "needs_approval":  # the facts changed since the proposal was shown
            await self.load()
            self.pending_path = out.path
            self._set_mode("await_badge")
            return
        if out.status == "refused":
            self._set_mode("proposal" if self.mode == "choose_reason" else self.mode,
                           f"✖ {out.message}", "bold white on red")
            self._report("error", "REFUSED", out.message, toast=False, log=f"refused: {out.message}")
            return
        self.outcome = out
        approved = f", approved by {self.lead.name}" if self.lead and out.approved_by else ""
        log = f"{out.status} → {out.path}" + (" · approved" if approved else "") + " · label queued"
        self._finish("ok", title(out.path or ""), f"{self._sorting_hint(out)}{out.message}{approved}. Label queued", log)

    def _sorting_hint(self: DispositionScreen, out: DisposeOutcome) -> str:
        """The open container that takes the unit now (tui/sorting.py): first in the result's
        message, so an 80-column line never cuts it off."""
        hint = getattr(self.app, "after_disposition", None)
        return hint(out) if callable(hint) else ""

    def _finish(self: DispositionScreen, state: str, headline: str, message: str, log: str | None = None) -> None:
        """Done here: back to the receive screen with the result big on it (and in the log)."""
        self.mode = "done"
        self._back_to_base(state, headline, message, log)

    def _back_to_base(self: DispositionScreen, state: str | None = None, headline: str = "", message: str = "",
                      log: str | None = None) -> None:
        """Back to the receive screen (with the result on it, big), else pop to the base.

        Never awaited here: this may run in this screen's own handler, and awaiting the removal
        of the screen that is running the handler would wait for ever."""
        go = getattr(self.app, "go_to_receive", None)
        if callable(go):
            async def back() -> None:
                await go()
                if state is not None:
                    self._report(state, headline, message, log=log)

            self.app.call_later(back)
            return
        if state is not None:
            self._report(state, headline, message, log=log)
        stack = self.app.screen_stack
        base = 1 if len(stack) > 1 and stack[0].id == "_default" else 0
        for _ in range(len(stack) - 1 - base):
            self.app.pop_screen()
