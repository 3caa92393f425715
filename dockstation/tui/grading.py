"""The grader's fast path in the app: the unit in hand, opening inspections, F1 help, the keymap.

**The unit in hand.** Right after an operator who may grade receives a unit, that unit is in hand
(`app.in_hand`): its first inspection input opens its inspection and is applied there, with no
LPN scan — a step answer (`CMD:PASS`/`FAIL`/`NA`/`OPTION:<n>`, keys 1/2/3), `CMD:ALLPASS` or `a`,
or a scan of one of its values (its serial/IMEI or GTIN by the strict rule of
inspection.fastpath.match_value; a parcel's tracking number is never taken for an IMEI). On the
receiving screen those keys are bindings that share the inspect screen's ids (one remap moves
both); the entry field gives up the focus while a unit is in hand, and the first key that is no
binding puts it back (F2 too), so typing a damaged code still works. The unit stops being in
hand when another parcel is scanned, a badge is scanned, or its inspection is graded or
cancelled; leaving its inspection open (Esc) keeps it in hand, to resume by key.

Every inspection is opened here, in the dispatcher, before its screen is pushed: the next scan
in the queue always finds it open (inspect.open_screen).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from dockstation import inspection as ins
from dockstation.scan import Classified, CodeKind, ScanEvent
from dockstation.tui.keymap import expand, load_keymap

if TYPE_CHECKING:
    from dockstation.tui.app import BenchApp
    from dockstation.tui.inspect import InspectScreen

ANSWERS = ("PASS", "FAIL", "NA", "OPTION", "ALLPASS")  # commands that answer the unit in hand
VALUES = (CodeKind.GS1, CodeKind.UNKNOWN, CodeKind.TRACKING)
First = Callable[["InspectScreen"], Awaitable[Any]]


class GradingMixin:
    """Mixed into BenchApp."""

    in_hand: str | None = None
    inspect_screen: InspectScreen | None = None  # one, installed, reused for every unit

    # -- the keymap of this station (station.toml [keys]) -------------------------------------
    def _load_station_keymap(self: BenchApp) -> None:
        """At start (refused like any config error); applied on mount (Textual's keymap)."""
        self.station_keymap = load_keymap(self.config)

    def _apply_station_keymap(self: BenchApp) -> None:
        if self.station_keymap:
            self.set_keymap(expand(self.station_keymap, [g.code for g in self.config.codes.grades]))

    # -- F1 ----------------------------------------------------------------------------------
    def action_help(self: BenchApp) -> None:
        from dockstation.tui.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss()
        else:
            self.push_screen(HelpScreen(self.screen))

    # -- the unit in hand --------------------------------------------------------------------
    def set_hand(self: BenchApp, lpn: str | None) -> None:
        self.in_hand = lpn
        self.receive_screen.hand_changed()

    def hand_done(self: BenchApp, lpn: str) -> None:
        """Its inspection was graded or cancelled: nothing is in hand any more."""
        if self.in_hand == lpn:
            self.set_hand(None)

    def hand_keep(self: BenchApp, lpn: str) -> None:
        """Its inspection was left open: still in hand, a key resumes it."""
        if self.operator is not None and self.operator.can("grader"):
            self.current_lpn = lpn
            self.set_hand(lpn)

    def may_grade(self: BenchApp) -> bool:
        return self.operator is not None and self.operator.can("grader")

    async def take_for_hand(self: BenchApp, scan: ScanEvent, c: Classified) -> bool:
        """A scan on the receiving screen that is the unit in hand's first inspection input."""
        lpn = self.in_hand
        if lpn is None or not self.may_grade() or self.receive_screen.picking:
            return False
        if c.kind is CodeKind.COMMAND and c.value in ANSWERS:
            await self.inspect_unit(lpn, lambda screen: screen.run_command(c))
            return True
        if c.kind in VALUES:
            from dockstation.tui.inspect import checklists_for, scanned

            checklists, _ = checklists_for(self)
            if checklists is None or not await self.inline_store.call(ins.scan_fits, self.store, self.bench, lpn,
                                                                      checklists, scanned(c)):
                return False
            await self.inspect_unit(lpn, lambda screen: screen.take_value(c, strict=True))
            return True
        return False

    def hand_key(self: BenchApp, verb: str) -> None:
        """A key on the receiving screen for the unit in hand (1/2/3 answer, a all pass), in turn."""
        commands = {"pass": "PASS", "fail": "FAIL", "na": "NA", "all_pass": "ALLPASS"}

        async def job() -> None:
            lpn = self.in_hand
            if lpn is None or self.screen is not self.receive_screen or not self.may_grade():
                return
            c = Classified(CodeKind.COMMAND, f"CMD:{commands[verb]}", value=commands[verb])
            await self.inspect_unit(lpn, lambda screen: screen.run_command(c))

        self.enqueue_job(job)

    async def inspect_unit(self: BenchApp, lpn: str, first: First | None = None) -> None:
        """Open the unit's inspection (in the dispatcher), show it, then give it `first`."""
        from dockstation.tui.inspect import open_screen

        screen = await open_screen(self, lpn)
        if screen is None:
            return
        self.current_lpn = lpn
        if screen is not self.screen:
            await self.push_screen(screen)
        await screen.ready.wait()
        if first is not None and screen.is_current:
            await first(screen)
