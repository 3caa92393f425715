"""Operators at the bench: a badge signs in, CMD:LOGOUT / F4 signs out, ctrl+q asks, then quits.

A mixin of `BenchApp`. Whoever is signed in is `app.operator`; a badge of another operator first
settles what the screens show (by the previous operator, app.settle_screens), then signs the
previous one out and the new one in, in one thread call. Quitting settles the screens and signs
the operator out, so the audit trail says when the shift at this bench ended.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from dockstation.scan import Classified, ScanEvent

if TYPE_CHECKING:
    from dockstation.receiving.core import Outcome
    from dockstation.tui.app import BenchApp

log = logging.getLogger("dockstation.tui")


class OperatorsMixin:
    """Mixed into BenchApp."""

    async def _sign_in(self: BenchApp, scan: ScanEvent, c: Classified) -> None:
        from dockstation.receiving.core import sign_in, sign_out

        previous, new = self.operator, self.bench.operators.by_badge(c.value)

        if new is not None and previous is not None and previous.badge != new.badge:
            await self.settle_screens()  # the previous operator's decision on screen, by them

        def work() -> Outcome:
            if new is not None and previous is not None and previous.badge != new.badge:
                sign_out(self.store, self.bench, previous)
            return sign_in(self.store, self.bench, scan, c.value)

        outcome = await self.in_thread(work)
        if outcome.status == "signed_in":
            if previous is None or outcome.operator != previous:
                await self.go_to_receive()
            self.operator = outcome.operator
            self.set_hand(None)
        self.show_outcome(scan, outcome)

    async def sign_out(self: BenchApp) -> None:
        operator = self.operator
        if operator is None:
            self.show_result("info", "SCAN BADGE", "Nobody is signed in")
            return
        await self.settle_screens()
        from dockstation.receiving.core import sign_out

        await self.in_thread(sign_out, self.store, self.bench, operator)
        self.operator = None
        self.set_hand(None)
        receive = await self.go_to_receive()
        receive.show_prompt(f"Signed out: {operator.name}", "ok")
        self.sound.play("ok")


    def action_sign_out(self: BenchApp) -> None:
        self.enqueue_job(self.sign_out)


    async def action_quit(self: BenchApp) -> None:
        """ctrl+q (and Textual's own quit binding): ask; only a person's Y quits (tui/quit.py)."""
        from dockstation.tui.quit import QuitScreen

        if not isinstance(self.screen, QuitScreen):
            self.sound.play("attention")
            await self.push_screen(QuitScreen())

    async def quit_now(self: BenchApp) -> None:
        try:  # a decision on screen is carried out or parked, as when moving on
            await self.settle_screens()
        except Exception:
            log.exception("settling the screens on quit failed")
        operator = self.operator
        if operator is not None:  # the audit trail says when the shift at this bench ended
            from dockstation.receiving.core import sign_out

            try:
                await self.in_thread(sign_out, self.store, self.bench, operator)
            except Exception:
                log.exception("sign-out on quit failed")
        self.stop_services()
        self.exit()
