"""Inspect screen, drawing: what each part of the screen shows for an inspection view.

Pure functions from the core's InspectionView (and the grade scale) to Rich Text, so the screen
(dockstation/tui/inspect.py) only decides *when* to draw and where. Everything from outside
(manifest, scanner, notes) goes through `clean(...)` into Text, never as markup.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text

from dockstation import inspection as ins
from dockstation.config import CodesConfig
from dockstation.inspection.answers import NAMES
from dockstation.inspection.fastpath import all_pass_prompt
from dockstation.text import clean

SYMBOL = {"pass": ("✔", "bold green"), "fail": ("✖", "bold red"), "na": ("–", "bold"), "info": ("•", "bold yellow")}
# The message line after each key or scan: done (ok), done but it failed or flagged something
# (warn: the answer *was* taken), refused (error: nothing was written, the step stays).
SAY = {"ok": ("✔", "bold green"), "warn": ("!", "bold yellow"), "error": ("✖", "bold red"), "info": ("…", "bold")}
GRADE_COLOUR = ["green", "green", "yellow", "darkorange", "red"]  # best first, like the scale
Keys = Callable[[str], str]  # binding id → the key shown for it (after the station's remapping)
DEFAULT_KEYS = {"inspect.pass": "1", "inspect.fail": "2", "inspect.not_found": "2", "inspect.na": "3",
                "inspect.submit": "Enter", "inspect.skip_number": "x", "inspect.confirm": "Enter",
                "inspect.photo": "p", "inspect.waive_photo": "w"}


def default_key(binding_id: str) -> str:
    return DEFAULT_KEYS.get(binding_id) or binding_id.removeprefix("inspect.option")


@dataclass(frozen=True)
class Panel:
    """The main column: the prompt, its help, the keys (and, at the grade, the big grade)."""

    prompt: Text
    help: Text
    keys: Text
    grade: str | None = None  # "GRADE B" when grading
    grade_colour: str | None = None


def message(text: str, state: str) -> Text:
    sym, style = SAY[state]
    return Text.assemble((f"{sym} ", style), (clean(text, limit=160), style)) if text else Text("")


def head(v: ins.InspectionView) -> Text:
    u = v.unit
    return Text(f" INSPECT  {clean(u.lpn, limit=20)}  {clean(u.description, limit=34)}", no_wrap=True)


def progress(v: ins.InspectionView) -> Text:
    steps = v.checklist.steps
    at = min(v.step_index + 1, len(steps))
    return Text("GRADE" if v.step is None else f"Step {at}/{len(steps)}")


def sub(v: ins.InspectionView) -> Text:
    u = v.unit
    return Text(f" {clean(u.category, limit=20) or '—'} · {v.checklist.title} checklist v{v.checklist.version}"
                f" · {clean(u.sku, limit=20)}", no_wrap=True)


def hints(v: ins.InspectionView) -> Text:
    """The command barcodes that matter most here (the footer shows the keys; F1 shows all)."""
    text = "scan CMD:ALLPASS all pass · CMD:CANCEL cancel · F1 help"
    if v.all_pass and v.step is not None:
        prompt = all_pass_prompt(v.checklist, v.answers, v.photos).removeprefix("All pass — ")
        return Text.assemble((" ✔ ALL PASS ", "bold green"), f"— {prompt}")
    if v.step is None:
        text = "scan CMD:DONE confirm · CMD:GRADE:<code> change · F1 help"
    elif v.step.kind == "scan":
        text = f"scan the {NAMES[v.step.value or 'serial']} · CMD:ALLPASS all pass · F1 help"
    return Text(" " + text)


def step_panel(v: ins.InspectionView, step: ins.Step, typed: str, key: Keys = default_key) -> Panel:
    """A step: its prompt and the keys (or scan, or digits typed so far) that answer it."""
    keys = Text()
    if step.kind == "check":
        keys.append(f"{key('inspect.pass')} ✔ Pass", "bold green").append("   ")
        keys.append(f"{key('inspect.fail')} ✖ Fail", "bold red")
        if not step.required:
            keys.append("   ").append(f"{key('inspect.na')} – N/A", "bold")
    elif step.kind == "choice":
        for i, opt in enumerate(step.options, start=1):
            keys.append(f"{key(f'inspect.option{i}')}  {opt.label}", "bold")
            keys.append(f"   CMD:{opt.command}\n" if opt.command else "\n", "dim")
        keys.rstrip()
    elif step.kind == "scan":
        keys.append(f"▶ Scan the {NAMES[step.value or 'serial']}", "bold")
        keys.append(f"   {key('inspect.not_found')} ✖ Not found", "bold red")
        if not step.required:
            keys.append(f"   {key('inspect.na')} – N/A", "bold")
    else:
        keys.append(f"▶ {typed or '_'} {step.unit}", "bold reverse" if typed else "bold")
        keys.append(f"   {key('inspect.submit')} ✔"
                    + (f"   {key('inspect.skip_number')} – N/A" if not step.required else ""), "bold")
    if previous := v.answers.get(step.id):
        sym, style = SYMBOL.get(previous.get("result", "info"), SYMBOL["info"])
        keys.append("\nwas: ").append(f"{sym} {clean(previous.get('label', ''), limit=40)}", style)
    return Panel(Text(step.prompt), Text(step.help), keys)


def grade_panel(v: ins.InspectionView, codes: CodesConfig, chosen: str | None, key: Keys = default_key) -> Panel:
    """Every step answered: the suggested (or chosen) grade, to confirm or change."""
    grade = chosen or v.suggested_grade
    scale = [g.code for g in codes.grades]
    gdef = codes.grade(grade)
    keys = Text()
    keys.append(f"{key('inspect.confirm')} ✔ confirm", "bold green").append("   change: ")
    keys.append(" ".join(scale), "bold")
    if chosen:
        keys.append(f"\n! changed: suggested {v.suggested_grade}, chosen {chosen}", "bold yellow")
    if v.grade_cap:
        by = [s.short for s in v.checklist.steps if v.answers.get(s.id, {}).get("grade_cap") == v.grade_cap]
        keys.append(f"\ncapped at {v.grade_cap} by: {', '.join(by)}")
    return Panel(Text(f"Grade {grade}: {gdef.name if gdef else ''}"), Text(gdef.definition if gdef else ""),
                 keys, grade=f"GRADE {grade}",
                 grade_colour=GRADE_COLOUR[min(scale.index(grade), len(GRADE_COLOUR) - 1)])


def side(v: ins.InspectionView) -> Text:
    """The side column: what the customer said, the steps so far, the grade so far, flags, note."""
    t = Text()
    t.append("CUSTOMER SAYS\n", "bold")
    t.append(clean(v.unit.reason_text or "no reason given", limit=80) + "\n\n", "italic")
    t.append("OBSERVED\n", "bold")
    for i, step in enumerate(v.checklist.steps):
        answer = v.answers.get(step.id)
        if i == v.step_index:
            t.append(f"▶ {step.short}\n", "bold reverse")
        elif answer:
            sym, style = SYMBOL.get(answer.get("result", "info"), SYMBOL["info"])
            t.append(f"{sym} ", style).append(step.short)
            if n := v.photos.count(step.id):
                t.append(f" {PHOTO}{n}" if n > 1 else f" {PHOTO}", "bold")
            t.append("\n")
        else:
            t.append(f"· {step.short}\n", "dim")
    t.append(f"\nSo far: grade {v.suggested_grade}\n", "bold")
    for flag in v.flags:
        t.append(f"⚑ {flag}\n", "bold red")
    if v.note:
        t.append("Note: ", "bold").append(clean(v.note, limit=60))
    return t


PHOTO = "◉"  # one cell wide in the fonts benches use (📷 is two, and missing from the Linux console)


def photos_line(v: ins.InspectionView, busy: list[str], key: Keys = default_key, cameras: bool = True) -> Text:
    """The photos of this step and of the unit, what the step still needs, a picture on its way.
    Empty (the line hidden) when there is nothing to say: no photo, none needed, none coming."""
    step = v.step
    sid = step.id if step is not None else ""
    here, total, missing = v.photos.count(sid), v.photos.total, v.photos_missing
    if not (total or missing or busy):
        return Text("")
    t = Text()
    what = f"“{clean(step.short, limit=24)}”" if step is not None else "the unit"
    if missing:
        t.append(f"{PHOTO} {here} of {here + missing} photo{'s' if here + missing > 1 else ''} of {what}",
                 "bold yellow")
        how = f"  {key('inspect.photo')} / CMD:PHOTO take one" if cameras else "  no camera here"
        t.append(how + f" · {key('inspect.waive_photo')} a lead waives", "bold")
    else:
        t.append(f"{PHOTO} {here} photo{'s' if here != 1 else ''} of {what}", "bold green" if here else "bold")
    if total != here:
        t.append(f" · {total} of this unit", "dim")
    if busy:
        t.append(f"\n… taking a photo ({', '.join(clean(b, limit=16) for b in busy)})", "bold")
    return t
