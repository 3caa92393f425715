"""The inspect screen's keys and command barcodes: data, read by the screen, its footer and F1 help.

Keys are Textual bindings with ids (remappable per station, `[keys]` in station.toml). Several
share a key — `1` passes a check, picks option 1 of a choice, types a digit of a number, or picks
grade… — and `InspectScreen.check_action` enables exactly the one the current step takes, so the
footer shows only what works now. The first enabled binding of a key wins: grade letters (added
per grade scale by `grade_bindings`) come before `a`/`b`/`n` at the grade.

`COMMANDS` is the one table of the screen's command barcodes: the dispatcher runs them through it
and the help screen lists it.
"""

from __future__ import annotations

from textual.binding import Binding

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
]

BY_ID = {b.id: b for b in BINDINGS if b.id}

# Actions the screen gates by step (check_action); anything else (the app's) is always enabled.
GATED = {"switch", "stay", "answer", "not_found", "option", "digit", "submit", "skip_number", "type_value",
         "confirm", "all_pass", "back", "erase", "note", "leave", "grade"}


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
}


def command_help() -> list[tuple[str, str]]:
    shown = {"OPTION": "CMD:OPTION:<n>", "GRADE": "CMD:GRADE:<code>"}
    return [(shown.get(name, f"CMD:{name}"), meaning) for name, (_, meaning) in COMMANDS.items()]
