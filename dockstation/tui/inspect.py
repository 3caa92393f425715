"""Inspect screen: one checklist step at a time, answered by a key, a command barcode or a scan.

A thin shell over dockstation.inspection: each key or scan calls one use case (in a thread, in
turn with the scans: keys go through `app.enqueue_job`), which commits the answer and its event;
only then is the next step drawn. Keys are bindings with ids (dockstation/tui/inspect_keys.py),
enabled per step kind (`check_action`), so the footer and the F1 help show what works now:
check 1 pass / 2 fail / 3 n.a.; choice 1–9; scan: the scanner (`e` to type it), 2 not found,
3 n.a.; number: digits, Enter, `x` n.a.; `a` all pass; `b` back, `n` note, Esc leave (the
inspection stays open and resumes next time). At the grade: Enter confirms, a grade letter picks
another. A scanned value answers its own step wherever the checklist stands (fastpath.py).
Everything from outside (manifest, scanner, notes) is drawn as `Text(clean(...))`, never as
markup: what each part shows is in dockstation/tui/inspect_render.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Input, Static

from dockstation import inspection as ins
from dockstation.scan import Classified, CodeKind, ScanEvent, classify
from dockstation.text import clean
from dockstation.tui import inspect_keys as keys
from dockstation.tui import inspect_render as render
from dockstation.tui.grading import policy_of, store_call
from dockstation.tui.keymap import key_label, keys_of
from dockstation.tui.inspect_photos import InspectPhotos
from dockstation.tui.preview import make_preview
from dockstation.tui.reuse import KeepStylesOnResume
from dockstation.tui.widgets import BenchFooter, BigText, StatusHeader
from dockstation.tui.widgets.update import show
from dockstation.types import utcnow


def checklists_for(app: Any) -> tuple[ins.Checklists | None, str]:
    """The app's checklists if it loaded them, else this home's (the last good set on an error)."""
    loaded = getattr(app, "checklists", None)
    if isinstance(loaded, ins.Checklists):
        return loaded, ""
    return ins.load_or_last_good(app.config.home, app.bench.codes)


# The use cases that may grade the unit: given the app's policy, they return its proposal too.
GRADING = (ins.all_pass, ins.answer_scan, ins.answer, ins.finish)


def scanned(c: Classified) -> ins.Scanned:
    return ins.Scanned(c.raw, gtin=c.gtin, serial=c.serial, loose=c.kind is CodeKind.UNKNOWN)


class InspectScreen(KeepStylesOnResume, InspectPhotos, keys.InspectKeys, Screen[None]):
    AUTO_FOCUS = ""  # no auto focus: keys go to the bindings; an input takes focus only while open
    HELP_TITLE = "Inspection"
    BINDINGS = keys.BINDINGS
    # Ids are prefixed: the app's stylesheet styles #main, #entry … of every screen.
    DEFAULT_CSS = """
    #i-title { height: 1; background: $primary; color: $text; text-style: bold; }
    #i-head { width: 1fr; }
    #i-progress { width: auto; padding: 0 1; }
    #i-sub { height: 1; color: $text-muted; }
    #i-body { height: 1fr; }
    #i-main { width: 1fr; padding: 0 1; }
    #i-side { width: 30; border-left: solid $primary; padding: 0 1; }
    #i-prompt { text-style: bold; border: heavy $accent; padding: 0 1; }
    #i-help { color: $text-muted; }
    #i-keys { margin-top: 1; }
    #i-grade { margin-top: 1; text-style: bold; display: none; }
    #i-message { margin-top: 1; }
    #i-ask { height: auto; background: $warning; color: $background; text-style: bold; display: none; }
    #i-photos { margin-top: 1; display: none; }
    #i-preview { display: none; height: 1fr; min-height: 3; max-height: 10; width: 28; }
    #i-entry, #i-note { display: none; }
    #i-hints { height: 1; background: $panel; }
    """

    def __init__(self, lpn: str, view: ins.InspectionView | None = None) -> None:
        super().__init__()
        self.lpn = lpn
        self.view = view  # given when the app opened the inspection already (in the dispatcher)
        self.checklists: ins.Checklists | None = None
        self.chosen: str | None = None  # a grade picked instead of the suggestion (saved on confirm)
        self.typed = ""  # digits of a number step
        self.switch_to: str | None = None  # an LPN waiting for "switch?" to be answered
        self.message = ""  # the last message shown (tests read it)
        self.waiver_asked = False  # waiting for a lead's badge to waive the step's photos
        self.ready = asyncio.Event()  # mounted and drawn: the app may hand it the first input
        self._drawn: ins.InspectionView | None = None  # the view `_draw` drew last

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        with Horizontal(id="i-title"):
            yield Static(id="i-head", markup=False)
            yield Static(id="i-progress", markup=False)
        yield Static(id="i-sub", markup=False)
        with Horizontal(id="i-body"):
            with Vertical(id="i-main"):
                yield Static(id="i-prompt", markup=False)
                yield Static(id="i-help", markup=False)
                yield BigText("", id="i-grade")
                yield Static(id="i-keys", markup=False)
                yield Input(id="i-entry", max_length=256, placeholder="type the value, Enter (Esc: back)")
                yield Static(id="i-message", markup=False)
                yield Static(id="i-photos", markup=False)
                if (preview := make_preview("i-preview")) is not None:
                    yield preview
            yield Static(id="i-side", markup=False)
        yield Static(id="i-ask", markup=False)
        yield Input(id="i-note", max_length=500, placeholder="note: Enter saves, Esc cancels")
        yield Static(id="i-hints", markup=False)
        yield BenchFooter()

    async def on_mount(self) -> None:
        scale = [g.code for g in self.app.bench.codes.grades]
        for binding in reversed(keys.grade_bindings(scale)):  # first on their key: they win at the grade
            self._bindings.key_to_bindings.setdefault(binding.key, []).insert(0, binding)
        try:
            if self.view is not None:
                self.checklists, _ = checklists_for(self.app)
                self._draw()
                self._say(self.view.message, "ok", beep=False)
            else:
                await self._open()
        finally:
            self.ready.set()

    def load(self, lpn: str, view: ins.InspectionView) -> None:
        """Show another unit's (opened) inspection: the bench keeps one inspect screen and reuses
        it, since building a screen and removing it cost more than a step (bench_flow.py)."""
        self.lpn, self.view = lpn, view
        self.chosen, self.typed, self.message = None, "", ""
        self.waiver_asked = False
        self.checklists, _ = checklists_for(self.app)
        if self.is_mounted:
            self._close_inputs()
            self._ask(None)
            self._draw()
            self._say(view.message, "ok", beep=False)

    async def _open(self) -> None:
        self.checklists, warning = checklists_for(self.app)
        if self.checklists is None:
            self._fail(warning)
        elif await self._call(ins.open_inspection, self.lpn, self.checklists, first=True) and warning:
            self._say(f"{warning} — the last good checklists are in use", "warn")

    # -- calling the core (off the event loop, results drawn after the commit) ---------------
    async def _call(self, fn: Callable[..., Any], *args: Any, first: bool = False, **kw: Any) -> bool:
        """Run a use case; draw its committed result, or say why it was refused."""
        try:
            view = await self._run(fn, *args, first=first, **kw)
        except ins.InspectionError as exc:
            self._fail(str(exc)) if first else self._say(str(exc), "error")
            return False
        if view is None:
            return False
        await self._show(view)
        return True

    async def _run(self, fn: Callable[..., Any], *args: Any, first: bool = False, **kw: Any) -> Any:
        app = self.app
        if first:
            call = (fn, app.store, app.bench, app.operator, *args)
        else:
            assert self.view is not None
            call = (fn, app.store, app.bench, app.operator, self.view.inspection_id, *args)
            kw["checklists"] = self.checklists
            if fn in GRADING:  # a unit graded by it comes with the policy's proposal, same transaction
                kw.setdefault("policy", policy_of(app))
        return await store_call(app, *call, **kw)

    async def show_result(self, view: ins.InspectionView) -> None:
        """A committed result of a use case the app ran for this screen (all pass on the unit in hand)."""
        await self._show(view)

    async def _show(self, view: ins.InspectionView) -> None:
        # All pass on the unit in hand: `load` drew this very view when the screen was opened
        # with it; drawing it again cost ~1 ms of the all-pass input (bench_flow.py).
        drawn = view is self._drawn and not self.typed
        self.view, self.typed = view, ""
        if view.status == "done":
            await self._graded(view)
            return
        if not drawn:
            self._draw()
        self._say(view.message, "ok" if view.ok else "warn")

    def _job(self, work: Callable[[], Awaitable[Any]]) -> None:
        """A key's work, run in turn with the scans (never in between two of them)."""
        pressed_on = self.view.inspection_id if self.view else None

        async def job() -> None:
            # A scan before it may have switched to another screen, or this screen to another unit.
            if self.is_current and (self.view.inspection_id if self.view else None) == pressed_on:
                await work()

        enqueue = getattr(self.app, "enqueue_job", None)
        enqueue(job) if enqueue else self.run_worker(job(), exclusive=False)

    def _log(self, state: str, text: str) -> None:
        """Into the receiving screen's scan log (every result is in the log)."""
        receive = getattr(self.app, "receive_screen", None)
        if receive is not None and receive.is_mounted:
            receive.add_log(self.lpn, state, text)

    async def _respond(self, verb: str, value: str = "", c: Classified | None = None,
                       expect: str | None = None) -> None:
        step = self.view.step if self.view else None
        if step is None:
            self._say("Every step is answered: Enter / CMD:DONE confirms the grade", "error")
            return
        response = ins.Response(verb, value, gtin=c.gtin if c else None, serial=c.serial if c else None)  # type: ignore[arg-type]
        await self._call(ins.answer, response, expect_step=expect or step.id)

    async def all_pass(self, _: str = "") -> None:
        await self._call(ins.all_pass)

    async def take_value(self, c: Classified, *, strict: bool = False) -> bool:
        """A scanned value for whichever step it answers. True if it was this unit's value (taken,
        or refused with the reason on screen); False if it is none of this unit's values."""
        try:
            view = await self._run(ins.answer_scan, scanned(c), strict=strict)
        except ins.InspectionError as exc:
            self._say(str(exc), "error")
            return True
        if view is None:
            return False
        await self._show(view)
        return True

    async def back(self, _: str = "") -> None:
        self.chosen = None
        await self._call(ins.step_back)

    async def _confirm(self) -> None:
        await self._call(ins.finish, grade=self.chosen)

    async def _graded(self, view: ins.InspectionView) -> None:
        """Graded (after the commit): logged, then the disposition takes over this screen's place."""
        from dockstation.tui.disposition import DispositionScreen  # the policy feature's screen

        changed = f" (suggested {view.suggested_grade})" if view.grade != view.suggested_grade else ""
        self._log("ok", f"graded {view.grade}{changed}" + (" · all pass" if view.all_pass else ""))
        hand = getattr(self.app, "hand_done", None)
        if callable(hand):
            hand(self.lpn)
        self._beep("ok")
        reuse = getattr(self.app, "disposition_for", None)  # the bench's one screen, reused
        await self.app.switch_screen(await reuse(self.lpn, view.proposal) if reuse else DispositionScreen(self.lpn))

    async def cancel(self, _: str = "") -> None:
        if await self._call(ins.cancel):
            text = f"Inspection of {self.lpn} cancelled: the unit is received again, not inspected"
            self._log("warn", "inspection cancelled: received again")
            hand = getattr(self.app, "hand_done", None)
            if callable(hand):
                hand(self.lpn)
            self._back_to_receive("warn", "CANCELLED", text)

    def _leave(self) -> None:
        v = self.view
        if v is not None and v.status == "open":
            at = "the grade" if v.step is None else f"step {v.step_index + 1}/{len(v.checklist.steps)}"
            text = f"Inspection of {self.lpn} kept open at {at}: scan its LPN (or 1 / a) to resume"
            self._log("info", f"inspection kept open at {at}")
            keep = getattr(self.app, "hand_keep", None)
            if callable(keep):
                keep(self.lpn)
            self._back_to_receive("info", "KEPT", text)
        else:
            self.app.pop_screen()

    def _back_to_receive(self, state: str, title: str, text: str) -> None:
        """Pop this screen and say what became of the unit there, replacing the last unit's result."""
        app = self.app
        app.pop_screen()
        receive = getattr(app, "receive_screen", None)
        if receive is not None and app.screen_stack[-1] is receive:
            receive.show_message(state, title, text)

    # -- scans: the app offers every scan here first ------------------------------------------
    async def handle_scan(self, scan: ScanEvent, classified: Classified) -> bool:
        c = classified
        if c.kind is CodeKind.BADGE:
            if self.waiver_asked:  # the lead's badge that waives the step's photos
                lead = self.app.bench.operators.by_badge(c.value)
                if lead is None or not lead.can("lead"):
                    self._say(f"{'Unknown badge' if lead is None else lead.name + ' is not a lead'}: "
                              "a lead's badge waives the photos (Esc: no)", "error")
                    return True
                await self.waive(lead)
                return True
            return False  # signing in is the app's business
        self.ask_waiver(False)
        if self.view is None:
            if c.kind is CodeKind.LPN and c.value == self.lpn:  # e.g. signed in since: try again
                await self._open()
                return True
            return False
        if c.kind is CodeKind.LPN:
            if c.value == self.switch_to:
                await self._switch()
            elif c.value == self.lpn:
                self._ask(None)
                self._say(f"Already inspecting {self.lpn}", "ok")
            else:
                self._ask(c.value)
            return True
        self._ask(None)
        if c.kind is CodeKind.COMMAND:
            return await self.run_command(c)
        step = self.view.step
        if step is not None and step.kind == "number" and c.kind is CodeKind.UNKNOWN and _number(c.raw):
            await self._respond("value", c.raw)
        elif c.kind in (CodeKind.GS1, CodeKind.UNKNOWN, CodeKind.TRACKING) and await self.take_value(c):
            pass  # a value of this unit, given to its step wherever the checklist stands
        elif c.kind in (CodeKind.RMA, CodeKind.TRACKING):
            self._say("Finish or cancel this inspection before receiving", "error")
        elif c.kind is CodeKind.INVALID:
            self._say(f"Unreadable code: {c.problem or ''}", "error")
        else:
            self._say(f"Not an answer to this step: {c.raw}", "error")
        return True

    def _pick_grade(self, code: str) -> None:
        assert self.view is not None
        scale = [g.code for g in self.app.bench.codes.grades]
        if code not in scale:
            self._say(f"No grade {code}: the scale is {' '.join(scale)}", "error")
        elif self.view.step is not None:
            self._say("Answer the remaining steps before grading", "error")
        else:
            self.chosen = None if code == self.view.suggested_grade else code
            self._draw()
            self._say(f"Grade {code} picked: Enter / CMD:DONE confirms", "ok", beep=False)

    def _ask(self, lpn: str | None) -> None:
        self.switch_to = lpn
        ask = self.query_one("#i-ask", Static)
        ask.display = lpn is not None
        self.refresh_bindings()
        if lpn is not None:
            ask.update(Text(f" Switch to {clean(lpn, limit=30)}? The current inspection is saved and can be "
                            "resumed.  y or scan it again: switch · n: stay"))
            self._beep("warn")

    async def _switch(self) -> None:
        target, self.switch_to = self.switch_to, None
        if target:
            from dockstation.tui.grading import open_screen

            left = self.lpn
            opened = await open_screen(self.app, target)
            if opened is not None:
                self.app.receive_screen.add_log(left, "info", f"inspection kept open; switched to {target}")
                if opened is not self:
                    await self.app.switch_screen(opened)

    def _inputs_open(self) -> bool:
        return any(box.display for box in self.query(Input))

    def _open_input(self, selector: str, value: str) -> None:
        box = self.query_one(selector, Input)
        box.value, box.display = value, True
        box.focus()

    def _close_inputs(self) -> None:
        for box in self.query(Input):
            box.display = False
        self.set_focus(None)

    @on(Input.Submitted, "#i-note")
    def _note(self, event: Input.Submitted) -> None:
        event.stop()
        self._close_inputs()
        self._job(lambda: self._call(ins.set_note, event.value))

    @on(Input.Submitted, "#i-entry")
    def _typed_value(self, event: Input.Submitted) -> None:
        """A value typed by hand (a damaged label) is a scan from the keyboard, in turn."""
        event.stop()
        self._close_inputs()
        value = event.value.strip(" ")
        if not value:
            return
        scan = ScanEvent(value, "keyboard", None, utcnow())
        if hasattr(self.app, "enqueue_scan"):
            self.app.enqueue_scan(scan)
        else:
            c = classify(value, self.app.bench.codes.patterns)
            self._job(lambda: self.handle_scan(scan, c))

    # -- drawing ---------------------------------------------------------------------------
    def _beep(self, state: str) -> None:
        sound = getattr(self.app, "sound", None)
        if state == "warn" and sound is not None:
            sound.play("attention")
        elif callable(beep := getattr(self.app, "beep", None)):
            beep(state != "error")

    def _say(self, message: str, state: str, beep: bool = True) -> None:
        self.message = message
        show(self.query_one("#i-message", Static), render.message(message, state))
        if beep and message:
            self._beep(state)
        if state == "error" and message:  # a refusal is a result too: in the scan log, as on screen
            self._log("error", message)

    def _fail(self, message: str) -> None:
        self.query_one("#i-head", Static).update(Text(f" INSPECT  {clean(self.lpn, limit=30)}"))
        self.query_one("#i-prompt", Static).update(Text("✖ Cannot inspect this unit", style="bold red"))
        for name in ("#i-progress", "#i-sub", "#i-help", "#i-keys", "#i-side"):
            self.query_one(name, Static).update(Text(""))
        self.query_one("#i-hints", Static).update(Text(" Esc back"))
        self.refresh_bindings()
        self._say(message, "error")

    def _draw(self) -> None:
        v = self.view
        assert v is not None
        # Drawn for every unit and step: only what changed is updated (widgets/update.py); the
        # one-line head, sub and hints never need a layout.
        show(self.query_one("#i-head", Static), render.head(v), fixed=True)
        show(self.query_one("#i-progress", Static), render.progress(v))
        show(self.query_one("#i-sub", Static), render.sub(v), fixed=True)
        show(self.query_one("#i-side", Static), render.side(v))
        panel = (render.grade_panel(v, self.app.bench.codes, self.chosen, self._key) if v.step is None
                 else render.step_panel(v, v.step, self.typed, self._key))
        show(self.query_one("#i-prompt", Static), panel.prompt)
        show(self.query_one("#i-help", Static), panel.help)
        grade = self.query_one("#i-grade", BigText)
        if grade.display != (panel.grade is not None):
            grade.display = panel.grade is not None
        if panel.grade is not None:
            grade.update(panel.grade)
            grade.styles.color = panel.grade_colour
        show(self.query_one("#i-keys", Static), panel.keys)
        self._draw_photos(v)
        show(self.query_one("#i-hints", Static), render.hints(v), fixed=True)
        self.refresh_bindings()  # the footer shows the keys of this step
        self._drawn = v

    def help_commands(self) -> list[tuple[str, str]]:
        return keys.command_help()

    def _key(self, binding_id: str) -> str:
        """The key shown for a binding in the panel: the station's (keymap), else the default."""
        binding = keys.BY_ID.get(binding_id)
        return key_label(keys_of(self.app, binding)) if binding else render.default_key(binding_id)


def _number(raw: str) -> bool:
    try:
        float(raw.replace(",", "."))
    except ValueError:
        return False
    return True
