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

from rich.text import Text
from textual import events
from textual.widgets import Input

from dockstation.scan import Classified, CodeKind, ScanEvent
from dockstation.tui.keymap import expand, load_keymap

if TYPE_CHECKING:
    from dockstation.tui.app import BenchApp
    from dockstation.tui.disposition import DispositionScreen
    from dockstation.tui.inspect import InspectScreen
    from dockstation.tui.receive import ReceiveScreen

ANSWERS = ("PASS", "FAIL", "NA", "OPTION", "ALLPASS")  # commands that answer the unit in hand
VALUES = (CodeKind.GS1, CodeKind.UNKNOWN, CodeKind.TRACKING)
First = Callable[["InspectScreen"], Awaitable[Any]]


class GradingMixin:
    """Mixed into BenchApp."""

    in_hand: str | None = None
    inspect_screen: InspectScreen | None = None  # one, installed, reused for every unit
    disposition_screen: DispositionScreen | None = None  # the same

    # -- the keymap of this station (station.toml [keys]) -------------------------------------
    def _load_station_keymap(self: BenchApp) -> None:
        """At start (refused like any config error); applied on mount (Textual's keymap)."""
        self.station_keymap = load_keymap(self.config)

    def _apply_station_keymap(self: BenchApp) -> None:
        if self.station_keymap:
            self.set_keymap(expand(self.station_keymap, [g.code for g in self.config.codes.grades]))

    # -- the policy ----------------------------------------------------------------------------
    def policy_in_force(self: BenchApp) -> Any:
        """The policy units are graded and disposed by: pinned while HQ is set (services.py),
        else this home's files (policy_for_home: reloaded when one changes). Given to the use
        cases that grade a unit, so the proposal comes with the grading commit and the
        disposition screen reads nothing more (bench_flow.py: one transaction less per unit)."""
        pinned = getattr(self, "policy", None)
        if pinned is not None:
            return pinned
        from dockstation.config import ConfigError
        from dockstation.policy.config import policy_for_home

        try:
            return policy_for_home(self.home)
        except ConfigError:  # never a good policy here: the disposition screen says why
            return None

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
            if c.value == "ALLPASS":  # opened and all passed in one transaction (one input, one commit)
                await self.inspect_unit(lpn, all_pass=True)
            else:
                await self.inspect_unit(lpn, lambda screen: screen.run_command(c))
            return True
        if c.kind in VALUES:
            from dockstation import inspection as ins  # here: the first screen loads without it (app.py)
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
            if verb == "all_pass":
                await self.inspect_unit(lpn, all_pass=True)
                return
            c = Classified(CodeKind.COMMAND, f"CMD:{commands[verb]}", value=commands[verb])
            await self.inspect_unit(lpn, lambda screen: screen.run_command(c))

        self.enqueue_job(job)

    async def disposition_for(self: BenchApp, lpn: str, proposal: Any = None) -> DispositionScreen:
        """The disposition screen, showing `lpn`'s proposal (`proposal`: made by the transaction
        that graded it, else loaded here when the screen is up already; on its first mount otherwise). One screen, installed and reused for every unit,
        like the inspect screen: building and removing one per unit was most of the UI's time
        per unit (bench/README.md, bench_flow.py). A second one only if it is in use below."""
        from dockstation.tui.disposition import DispositionScreen

        screen = self.disposition_screen
        if screen is None:
            screen = self.disposition_screen = DispositionScreen(lpn)
            screen.begin(lpn, proposal)
            self.install_screen(screen, "disposition")
            return screen
        if screen in self.screen_stack:  # e.g. under the lead view: that one keeps its unit
            screen = DispositionScreen(lpn)
            screen.begin(lpn, proposal)
            return screen
        screen.begin(lpn, proposal)
        if screen.is_mounted:
            await screen.load()
        return screen

    async def inspect_unit(self: BenchApp, lpn: str, first: First | None = None, *, all_pass: bool = False) -> None:
        """Open the unit's inspection (in the dispatcher), show it, then give it `first`.
        `all_pass`: opened and all passed in one use case (inspection.all_pass_unit), then shown
        as its result (graded: straight on to the disposition)."""
        screen = await open_screen(self, lpn, all_pass=all_pass)
        if screen is None:
            return
        self.current_lpn = lpn
        if screen is not self.screen:
            await self.push_screen(screen)
        await screen.ready.wait()
        if all_pass and screen.is_current and screen.view is not None:
            await screen.show_result(screen.view)
        elif first is not None and screen.is_current:
            await first(screen)



class HandOnReceive:
    """The receiving screen's side of the unit in hand (mixed into ReceiveScreen): its keys'
    actions, the entry field's focus, typing that starts with a key no binding takes, the hint."""

    def check_action(self: ReceiveScreen, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "hand":
            app = self.bench_app
            return app.in_hand is not None and app.may_grade() and not self.picking
        return True

    def action_hand(self: ReceiveScreen, verb: str) -> None:
        self.bench_app.hand_key(verb)

    def hand_changed(self: ReceiveScreen) -> None:
        """A unit in hand: keys answer it, so the entry field lets go of the focus (if empty);
        none: the entry takes the focus back (a clerk types a damaged code straight away).
        Under another screen (the unit graded on the inspect screen) only what the keys do
        changes now; the focus moves when this screen is shown again (`on_screen_resume`): a
        focus change restyles the entry, ~1.5 ms the grader would wait for the disposition."""
        if not self.is_mounted:
            return
        entry = self.query_one("#entry", Input)
        hand = self.bench_app.in_hand is not None and self.bench_app.may_grade()
        if self.app.screen is not self:
            self.AUTO_FOCUS = "" if hand else "#entry"
        elif hand:
            self.AUTO_FOCUS = ""  # coming back to this screen must not give the entry the keys again
            if entry.has_focus and not entry.value:
                self.set_focus(None)
        else:
            self.AUTO_FOCUS = "#entry"
            if self.focused is None and not self.picking:
                entry.focus()
        if hand != self._hand_shown:  # the footer's keys change (not on every scan: bench_scan.py)
            self._hand_shown = hand
            self.refresh_bindings()

    def show_hand_hint(self: ReceiveScreen) -> None:
        """Under the unit just received by a grader: how to grade it now, with no LPN scan."""
        hint = Text("Grade it now: a all pass · 1 pass · or scan CMD:ALLPASS, its serial or GTIN",
                    style="bold")
        details = self._details.content
        text = details.copy() if isinstance(details, Text) else Text(str(details))
        self._details.update(text.append("\n").append_text(hint) if text.plain else hint)

    def on_screen_resume(self: ReceiveScreen) -> None:
        self.hand_changed()

    def on_key(self: ReceiveScreen, event: events.Key) -> None:
        """Typing while the entry has let go of the focus: a key no binding takes starts typing."""
        if self.focused is not None or not event.is_printable or not event.character:
            return
        active = self.active_bindings.get(event.key)
        if active is not None and active.enabled:
            return
        entry = self.query_one("#entry", Input)
        entry.select_on_focus = False  # the keys that follow go after this one, not over it
        entry.focus()
        entry.insert_text_at_cursor(event.character)
        event.stop()
        event.prevent_default()

    def help_commands(self: ReceiveScreen) -> list[tuple[str, str]]:
        from dockstation.tui.inspect_keys import COMMANDS

        out = [("RMA / tracking label", "Receive the parcel's unit"),
               ("CMD:CANCEL", "While picking a line: cancel (nothing is received)")]
        if self.bench_app.in_hand is not None:
            lpn = self.bench_app.in_hand
            out.append(("CMD:ALLPASS", f"All pass for {lpn} (opens its inspection)"))
            out += [(f"CMD:{name}", f"Answer {lpn}'s first step (opens its inspection)") for name in ("PASS", "FAIL", "NA")]
            out.append(("serial / IMEI / GTIN", f"{lpn}'s value: opens its inspection, answers its step"))
        else:
            out.append(("CMD:ALLPASS …", f"after a grader receives a unit: {COMMANDS['ALLPASS'][1].lower()}"))
        return out


def policy_of(app: Any) -> Any:
    """The policy in force for a screen's host app (a host without `policy_in_force`: its own)."""
    in_force = getattr(app, "policy_in_force", None)
    return in_force() if callable(in_force) else getattr(app, "policy", None)


def required_policy(app: Any) -> Any:
    """The policy in force, for a use case that cannot go on without one: when this home never
    had a good policy, policy_for_home raises its ConfigError (where and what is wrong)."""
    from dockstation.policy.config import policy_for_home

    return policy_of(app) or policy_for_home(app.config.home)


async def store_call(app: Any, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """Every inspection use case writes one transaction, as its last store step: it may run on
    the event loop when the database is free (inline_store.py: no thread hop, no wait for the GIL
    while a frame is painted), else in a thread."""
    inline = getattr(app, "inline_store", None)
    if inline is not None:
        return await inline.call(fn, *args, **kw)
    in_thread = getattr(app, "in_thread", None)
    return await in_thread(fn, *args, **kw) if in_thread else fn(*args, **kw)


async def open_screen(app: Any, lpn: str, *, all_pass: bool = False) -> InspectScreen | None:
    """Open (or resume) the unit's inspection in the dispatcher, before its screen exists, so the
    next scan in the queue finds it open. A refusal is shown on the current screen. `all_pass`:
    and give it all pass, in the same transaction (with the policy's proposal if it is graded)."""
    from dockstation import inspection as ins
    from dockstation.tui.inspect import InspectScreen, checklists_for

    checklists, _ = checklists_for(app)
    if checklists is None:
        app.show_result("error", "NO CHECKLISTS", "The checklists failed to load: see the notice")
        return None
    try:
        if all_pass:
            view = await store_call(app, ins.all_pass_unit, app.store, app.bench, app.operator, lpn, checklists,
                                    policy=policy_of(app))
        else:
            view = await store_call(app, ins.open_inspection, app.store, app.bench, app.operator, lpn, checklists)
    except ins.InspectionError as exc:
        app.show_result("error", "CANNOT INSPECT", str(exc))
        return None
    receive = getattr(app, "receive_screen", None)
    if receive is not None and receive.is_mounted:
        what = view.message if view.resumed else f"inspection started · {view.checklist.title} checklist"
        receive.add_log(lpn, "info", what)
    screen = getattr(app, "inspect_screen", None)
    if screen is None:  # the first inspection of this run: the screen every later one reuses
        screen = app.inspect_screen = InspectScreen(lpn, view=view)
        app.install_screen(screen, "inspect")
    else:
        screen.load(lpn, view)
    return screen
