"""Inspect screen: one checklist step at a time, answered by a key or a command barcode.

A thin shell over dockstation.inspection: each key or scan calls one use case (in a thread, in
turn with the scans: keys go through `app.enqueue_job`), which commits the answer and its event;
only then is the next step drawn. Keys by step kind: check 1 pass / 2 fail / 3 n.a.; choice 1–9;
scan: the scanner (`e` to type it), 2 not found, 3 n.a.; number: digits, Enter, `x` n.a.
Everywhere: `b`/Backspace back, `n` note, Esc leave (the inspection stays open and resumes next
time). At the grade: Enter confirms, a grade letter picks another (Backspace goes back there).
Scans: CMD:PASS/FAIL/NA/OPTION:<n>/GRADE:<code>/DONE/CANCEL/BACK. Everything from outside
(manifest, scanner, notes) is drawn as `Text(clean(...))`, never as markup: what each part shows
is in dockstation/tui/inspect_render.py; this module is the screen's flow (keys, scans, calls).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Input, Static

from dockstation import inspection as ins
from dockstation.scan import Classified, CodeKind, ScanEvent, classify
from dockstation.text import clean
from dockstation.tui import inspect_render as render
from dockstation.tui.widgets import BigText, StatusHeader
from dockstation.types import utcnow

def checklists_for(app: Any) -> tuple[ins.Checklists | None, str]:
    """The app's checklists if it loaded them, else this home's (the last good set on an error)."""
    loaded = getattr(app, "checklists", None)
    if isinstance(loaded, ins.Checklists):
        return loaded, ""
    return ins.load_or_last_good(app.config.home, app.bench.codes)


class InspectScreen(Screen[None]):
    AUTO_FOCUS = ""  # no auto focus: keys go to the screen; an input takes focus only while open
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
    #i-entry, #i-note { display: none; }
    #i-hints { height: 1; background: $panel; }
    """

    def __init__(self, lpn: str) -> None:
        super().__init__()
        self.lpn = lpn
        self.view: ins.InspectionView | None = None
        self.checklists: ins.Checklists | None = None
        self.chosen: str | None = None  # a grade picked instead of the suggestion (saved on confirm)
        self.typed = ""  # digits of a number step
        self.switch_to: str | None = None  # an LPN waiting for "switch?" to be answered
        self.message = ""  # the last message shown (tests read it)

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
            yield Static(id="i-side", markup=False)
        yield Static(id="i-ask", markup=False)
        yield Input(id="i-note", max_length=500, placeholder="note: Enter saves, Esc cancels")
        yield Static(id="i-hints", markup=False)

    async def on_mount(self) -> None:
        await self._open()

    async def _open(self) -> None:
        self.checklists, warning = checklists_for(self.app)
        if self.checklists is None:
            self._fail(warning)
        elif await self._call(ins.open_inspection, self.lpn, self.checklists, first=True) and warning:
            self._say(f"{warning} — the last good checklists are in use", "warn")

    # -- calling the core (off the event loop, results drawn after the commit) ---------------
    async def _call(self, fn: Callable[..., Any], *args: Any, first: bool = False, **kw: Any) -> bool:
        app = self.app
        if first:
            call = (fn, app.store, app.bench, app.operator, *args)
        else:
            assert self.view is not None
            call = (fn, app.store, app.bench, app.operator, self.view.inspection_id, *args)
            kw["checklists"] = self.checklists
        in_thread = getattr(app, "in_thread", None)
        try:
            view = await in_thread(*call, **kw) if in_thread else call[0](*call[1:], **kw)
        except ins.InspectionError as exc:
            self._fail(str(exc)) if first else self._say(str(exc), "error")
            return False
        self.view, self.typed = view, ""
        self._draw()
        self._say(view.message, "ok" if view.ok else "warn")
        return True

    def _job(self, work: Callable[[], Awaitable[Any]]) -> None:
        """A key's work, run in turn with the scans (never in between two of them)."""
        async def job() -> None:
            if self.is_current:  # a scan before it may have switched to another screen
                await work()

        enqueue = getattr(self.app, "enqueue_job", None)
        enqueue(job) if enqueue else self.run_worker(job(), exclusive=False)

    async def _respond(self, verb: str, value: str = "", c: Classified | None = None,
                       expect: str | None = None) -> None:
        step = self.view.step if self.view else None
        if step is None:
            self._say("Every step is answered: Enter / CMD:DONE confirms the grade", "error")
            return
        response = ins.Response(verb, value, gtin=c.gtin if c else None, serial=c.serial if c else None)  # type: ignore[arg-type]
        await self._call(ins.answer, response, expect_step=expect or step.id)

    async def _back(self) -> None:
        self.chosen = None
        await self._call(ins.step_back)

    async def _confirm(self) -> None:
        if await self._call(ins.finish, grade=self.chosen):
            from dockstation.tui.disposition import DispositionScreen  # the policy feature's screen

            await self.app.switch_screen(DispositionScreen(self.lpn))

    async def _cancel(self) -> None:
        if await self._call(ins.cancel):
            self.app.pop_screen()

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

    # -- scans: the app offers every scan here first ------------------------------------------
    async def handle_scan(self, scan: ScanEvent, classified: Classified) -> bool:
        c = classified
        if c.kind is CodeKind.BADGE:
            return False  # signing in is the app's business
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
            return await self._command(c)
        step = self.view.step
        if step is not None and step.kind == "scan" and c.kind in (CodeKind.GS1, CodeKind.UNKNOWN, CodeKind.TRACKING):
            await self._respond("value", c.raw, c)  # an IMEI may classify as a tracking number
        elif step is not None and step.kind == "number" and c.kind is CodeKind.UNKNOWN:
            await self._respond("value", c.raw)
        elif c.kind in (CodeKind.RMA, CodeKind.TRACKING):
            self._say("Finish or cancel this inspection before receiving", "error")
        elif c.kind is CodeKind.INVALID:
            self._say(f"Unreadable code: {c.problem or ''}", "error")
        else:
            self._say(f"Not an answer to this step: {c.raw}", "error")
        return True

    async def _command(self, c: Classified) -> bool:
        arg = c.arg or ""
        actions: dict[str, Callable[[], Awaitable[Any] | None]] = {
            "PASS": lambda: self._respond("pass"), "FAIL": lambda: self._respond("fail"),
            "NA": lambda: self._respond("na"), "OPTION": lambda: self._respond("option", arg),
            "GRADE": lambda: self._pick_grade(arg.upper()), "DONE": self._enter, "CANCEL": self._cancel,
            "BACK": self._back,
        }
        action = actions.get(c.value)
        if action is None:
            return False  # REPRINT and others: the app's
        if (pending := action()) is not None:
            await pending
        return True

    async def _enter(self) -> None:
        assert self.view is not None
        step = self.view.step
        if step is None:
            await self._confirm()
        elif step.kind == "number" and self.typed:
            await self._respond("value", self.typed)
        else:
            left = len(self.view.checklist.steps) - self.view.step_index
            self._say(f"{left} step{'s' if left > 1 else ''} left before the grade", "error")

    def _ask(self, lpn: str | None) -> None:
        self.switch_to = lpn
        ask = self.query_one("#i-ask", Static)
        ask.display = lpn is not None
        if lpn is not None:
            ask.update(Text(f" Switch to {clean(lpn, limit=30)}? The current inspection is saved and can be "
                            "resumed.  y or scan it again: switch · n: stay"))
            self._beep("warn")

    async def _switch(self) -> None:
        target, self.switch_to = self.switch_to, None
        if target:
            await self.app.switch_screen(InspectScreen(target))

    # -- keys ------------------------------------------------------------------------------
    def on_key(self, event: events.Key) -> None:
        if any(box.has_focus and box.display for box in self.query(Input)):
            if event.key == "escape":
                self._close_inputs()
                event.stop()
            return
        if self._key(event.key, event.character or ""):
            event.stop()
            event.prevent_default()

    def _key(self, key: str, ch: str) -> bool:
        """Handle one key; False leaves it to the app's bindings."""
        if self.switch_to is not None:
            if key in ("y", "enter"):
                self._job(self._switch)
            else:
                self._ask(None)
            return True
        if key == "escape":
            self.app.pop_screen()
            return True
        if self.view is None or self.view.status != "open":
            return False
        step, expect = self.view.step, (self.view.step.id if self.view.step else None)
        if step is None and ch and ch.upper() in [g.code for g in self.app.bench.codes.grades]:
            self._pick_grade(ch.upper())
        elif key == "backspace" and self.typed:
            self.typed = self.typed[:-1]
            self._draw()
        elif key in ("b", "backspace"):
            self._job(self._back)
        elif key == "n":
            self._open_input("#i-note", self.view.note or "")
        elif key == "enter":
            self._job(self._enter)
        elif step is None:
            return False
        elif step.kind == "number" and ch and (ch.isdigit() or ch in ".,"):
            self.typed = (self.typed + ch)[:12]
            self._draw()
        elif step.kind == "number" and key == "x":
            self._job(lambda: self._respond("na", expect=expect))
        elif step.kind == "choice" and ch.isdigit() and ch != "0":
            self._job(lambda: self._respond("option", ch, expect=expect))
        elif step.kind in ("check", "scan") and key in ("1", "2", "3"):
            verb = {"1": "pass", "2": "fail", "3": "na"}[key]
            if step.kind == "scan" and verb == "pass":
                self._say("Scan the value, or press e to type it", "error")
            else:
                self._job(lambda: self._respond(verb, expect=expect))
        elif step.kind == "scan" and key == "e":
            self._open_input("#i-entry", "")
        else:
            return False
        return True

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
        self.query_one("#i-message", Static).update(render.message(message, state))
        if beep and message:
            self._beep(state)

    def _fail(self, message: str) -> None:
        self.query_one("#i-head", Static).update(Text(f" INSPECT  {clean(self.lpn, limit=30)}"))
        self.query_one("#i-prompt", Static).update(Text("✖ Cannot inspect this unit", style="bold red"))
        for name in ("#i-progress", "#i-sub", "#i-help", "#i-keys", "#i-side"):
            self.query_one(name, Static).update(Text(""))
        self.query_one("#i-hints", Static).update(Text(" Esc back"))
        self._say(message, "error")

    def _draw(self) -> None:
        v = self.view
        assert v is not None
        self.query_one("#i-head", Static).update(render.head(v))
        self.query_one("#i-progress", Static).update(render.progress(v))
        self.query_one("#i-sub", Static).update(render.sub(v))
        self.query_one("#i-side", Static).update(render.side(v))
        panel = (render.grade_panel(v, self.app.bench.codes, self.chosen) if v.step is None
                 else render.step_panel(v, v.step, self.typed))
        self.query_one("#i-prompt", Static).update(panel.prompt)
        self.query_one("#i-help", Static).update(panel.help)
        grade = self.query_one("#i-grade", BigText)
        grade.display = panel.grade is not None
        if panel.grade is not None:
            grade.update(panel.grade)
            grade.styles.color = panel.grade_colour
        self.query_one("#i-keys", Static).update(panel.keys)
        self.query_one("#i-hints", Static).update(render.hints(v))
