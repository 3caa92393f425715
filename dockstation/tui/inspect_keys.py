"""The inspect screen's keys and command barcodes: data, read by the screen, its footer and F1 help.

Keys are Textual bindings with ids (remappable per station, `[keys]` in station.toml). Several
share a key — `1` passes a check, picks option 1 of a choice, types a digit of a number, or picks
grade… — and `InspectScreen.check_action` enables exactly the one the current step takes, so the
footer shows only what works now. The first enabled binding of a key wins: grade letters (added
per grade scale by `grade_bindings`) come before `a`/`b`/`n` at the grade. `InspectKeys` holds
the actions the bindings run and that choice (`check_action`).

`COMMANDS` is the one table of the screen's command barcodes: the dispatcher runs them through it
and the help screen lists it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.binding import Binding

if TYPE_CHECKING:
    from dockstation.scan import Classified
    from dockstation.tui.inspect import InspectScreen

OPTIONS = Binding.Group("Option", compact=True)
DIGITS = Binding.Group("Type the number", compact=True)

BINDINGS: list[Binding] = [
    Binding("1", "answer('pass')", "Pass", id="inspect.pass"),
    Binding("2", "answer('fail')", "Fail", id="inspect.fail"),
    Binding("2", "not_found", "Not found", id="inspect.not_found"),
    Binding("3", "answer('na')", "N/A", id="inspect.na"),
    *[Binding(str(n), f"option({n})", f"Option {n}", group=OPTIONS, id=f"inspect.option{n}") for n in range(1, 10)],
    *[Binding(str(d), f"digit('{d}')", f"Digit {d}", show=False, group=DIGITS, id=f"inspect.digit{d}")
      for d in range(10)],
    Binding("full_stop", "digit('.')", "Decimal point", show=False, group=DIGITS, id="inspect.decimal"),
    Binding("enter", "submit", "Submit", id="inspect.submit"),
    Binding("x", "skip_number", "N/A", id="inspect.skip_number"),
    Binding("e", "type_value", "Type it", id="inspect.type"),
    Binding("enter", "confirm", "Confirm grade", id="inspect.confirm"),
    Binding("enter", "switch", "Switch", show=False, id="inspect.switch_enter"),
    Binding("a", "all_pass", "All pass", id="inspect.all_pass"),
    Binding("b", "back", "Back", id="inspect.back"),
    Binding("backspace", "erase", "Erase / back", show=False, id="inspect.erase"),
    # The "switch to another unit?" question (an LPN scanned mid-inspection): before `n` note.
    Binding("y", "switch", "Switch", id="inspect.switch"),
    Binding("n", "stay", "Stay", id="inspect.stay"),
    Binding("n", "note", "Note", id="inspect.note"),
    Binding("escape", "leave", "Leave", id="inspect.leave"),
    # Photo evidence (docs/photos.md): shown only at a bench with a camera; waiving only while the
    # step waits for its photos (a lead's badge, or a lead at the keys) — the photo line under the
    # step says `w`; kept out of the footer, which must fit 80 columns (F1 lists it).
    Binding("p", "photo", "Photo", id="inspect.photo"),
    Binding("w", "waive_photo", "Waive photo", show=False, id="inspect.waive_photo"),
    # The app's keys, kept off this footer (the step's keys need its 80 columns; F1 lists them):
    # same keys, same ids (a station's remap moves them here too), the app's actions.
    Binding("f3", "app.lead_view", "Lead", show=False, id="bench.lead"),
    Binding("f4", "app.sign_out", "Sign out", show=False, id="bench.sign_out"),
    Binding("f5", "app.reprint", "Reprint", show=False, id="bench.reprint"),
]

BY_ID = {b.id: b for b in BINDINGS if b.id}

# Actions the screen gates by step (check_action); anything else (the app's) is always enabled.
GATED = {"switch", "stay", "answer", "not_found", "option", "digit", "submit", "skip_number", "type_value",
         "confirm", "all_pass", "back", "erase", "note", "leave", "grade", "photo", "waive_photo"}


GRADES = Binding.Group("Pick another grade", compact=True)


def grade_bindings(scale: list[str]) -> list[Binding]:
    """One key per single-letter grade of the scale (config), id `inspect.grade_<letter>`."""
    return [Binding(code.lower(), f"grade('{code}')", f"Grade {code}", show=False, group=GRADES,
                    id=f"inspect.grade_{code.lower()}")
            for code in scale if len(code) == 1 and code.isalnum()]


# Command barcode → (the screen's method, what it does). One table: dispatch and help read it.
COMMANDS: dict[str, tuple[str, str]] = {
    "ALLPASS": ("all_pass", "All pass; then scan what it still asks for"),
    "PASS": ("cmd_pass", "Pass (a choice: its option marked PASS)"),
    "FAIL": ("cmd_fail", "Fail; a scan step: not found"),
    "NA": ("cmd_na", "N/A, where the step allows it"),
    "OPTION": ("cmd_option", "Option n of a choice"),
    "GRADE": ("cmd_grade", "Pick another grade"),
    "DONE": ("cmd_done", "Confirm the grade; submit a typed number"),
    "BACK": ("back", "Back to the previous step"),
    "CANCEL": ("cancel", "Cancel the inspection (the unit is received again)"),
    "PHOTO": ("cmd_photo", "Take a photo for this step (CMD:PHOTO:<camera> picks the camera)"),
}


def command_help() -> list[tuple[str, str]]:
    shown = {"OPTION": "CMD:OPTION:<n>", "GRADE": "CMD:GRADE:<code>", "PHOTO": "CMD:PHOTO"}
    return [(shown.get(name, f"CMD:{name}"), meaning) for name, (_, meaning) in COMMANDS.items()]


class InspectKeys:
    """The inspect screen's command barcodes and key actions, and which keys the current step
    takes (mixed into InspectScreen, which has the view, the typed digits and the use-case calls)."""

    async def run_command(self: InspectScreen, c: Classified) -> bool:
        """A command barcode, through the screen's one table (COMMANDS)."""
        entry = COMMANDS.get(c.value)
        if entry is None:
            return False  # REPRINT and others: the app's
        await getattr(self, entry[0])(c.arg or "")
        return True

    async def cmd_pass(self: InspectScreen, _: str) -> None:
        await self._respond("pass")

    async def cmd_fail(self: InspectScreen, _: str) -> None:
        await self._respond("fail")

    async def cmd_na(self: InspectScreen, _: str) -> None:
        await self._respond("na")

    async def cmd_option(self: InspectScreen, arg: str) -> None:
        await self._respond("option", arg)

    async def cmd_grade(self: InspectScreen, arg: str) -> None:
        self._pick_grade(arg.upper())

    async def cmd_done(self: InspectScreen, _: str) -> None:
        assert self.view is not None
        step = self.view.step
        if step is None:
            await self._confirm()
        elif step.kind == "number" and self.typed:
            await self._respond("value", self.typed)
        else:
            from dockstation.inspection import steps_left  # loaded by now: the inspection is open

            self._say(steps_left(self.view.checklist.steps, self.view.step_index, self.view.answers), "error")

    def check_action(self: InspectScreen, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action not in GATED:
            return True
        if self.switch_to is not None:
            return action in ("switch", "stay", "leave")
        if self.waiver_asked:
            return action == "leave"
        if action in ("switch", "stay"):
            return False
        v = self.view
        if v is None or v.status != "open":
            return action == "leave"
        if action in ("leave", "note", "erase"):
            return True
        if action == "photo":
            return bool(self.app.camera_names()) if hasattr(self.app, "camera_names") else False
        if action == "waive_photo":
            return v.photos_missing > 0
        step = v.step
        if step is None:  # the grade
            return (action == "confirm" or action == "back"
                    or (action == "grade" and str(parameters[0]) in [g.code for g in self.app.bench.codes.grades]))
        verb = str(parameters[0]) if parameters else ""
        kind = step.kind
        if action == "answer":
            return (kind == "check" and (verb != "na" or not step.required)
                    or kind == "scan" and verb == "na" and not step.required)
        if action == "option":
            return kind == "choice" and int(verb) <= len(step.options)
        if action == "submit":
            return kind == "number" and bool(self.typed)
        if action == "skip_number":
            return kind == "number" and not step.required
        return {"not_found": kind == "scan", "digit": kind == "number", "type_value": kind == "scan",
                "all_pass": True, "back": True}.get(action, False)

    def action_answer(self: InspectScreen, verb: str) -> None:
        expect = self.view.step.id if self.view and self.view.step else None
        self._job(lambda: self._respond(verb, expect=expect))

    def action_not_found(self: InspectScreen) -> None:
        self.action_answer("fail")

    def action_option(self: InspectScreen, n: int) -> None:
        expect = self.view.step.id if self.view and self.view.step else None
        self._job(lambda: self._respond("option", str(n), expect=expect))

    def action_digit(self: InspectScreen, ch: str) -> None:
        self.typed = (self.typed + ch)[:12]
        self._draw()

    def action_submit(self: InspectScreen) -> None:
        self._job(self.cmd_done_key)

    async def cmd_done_key(self: InspectScreen) -> None:
        await self.cmd_done("")

    def action_skip_number(self: InspectScreen) -> None:
        self.action_answer("na")

    def action_type_value(self: InspectScreen) -> None:
        self._open_input("#i-entry", "")

    def action_confirm(self: InspectScreen) -> None:
        self._job(self._confirm)

    def action_grade(self: InspectScreen, code: str) -> None:
        self._pick_grade(code)

    def action_all_pass(self: InspectScreen) -> None:
        self._job(self.all_pass)

    def action_back(self: InspectScreen) -> None:
        self._job(self.back)

    def action_erase(self: InspectScreen) -> None:
        if self._inputs_open():
            return
        if self.typed:
            self.typed = self.typed[:-1]
            self._draw()
        else:
            self.action_back()

    def action_note(self: InspectScreen) -> None:
        self._open_input("#i-note", self.view.note or "" if self.view else "")

    def action_leave(self: InspectScreen) -> None:
        if self.waiver_asked:
            self.ask_waiver(False)
        elif self._inputs_open():
            self._close_inputs()
        elif self.switch_to is not None:
            self._ask(None)
        else:
            self._leave()

    def action_switch(self: InspectScreen) -> None:
        self._job(self._switch)

    def action_stay(self: InspectScreen) -> None:
        self._ask(None)

    # -- photos (docs/photos.md) ------------------------------------------------------------
    async def cmd_photo(self: InspectScreen, camera: str) -> None:
        self.take_photo(camera)

    def action_photo(self: InspectScreen) -> None:
        self.take_photo("")

    def action_waive_photo(self: InspectScreen) -> None:
        operator = getattr(self.app, "operator", None)
        if operator is not None and operator.can("lead"):  # a lead at the keys waives at once
            self._job(lambda: self.waive(operator))
        else:
            self.ask_waiver(True)
