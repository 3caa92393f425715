"""Judging one answer against its step, and the grade the answers suggest. Pure functions.

A scanned value is compared with what the manifest line expects: an IMEI through python-stdnum
(a wrong check digit is refused, so the grader rescans; the step stays), a serial number trimmed
and case-folded, a GTIN as 14 digits (GTIN-12/13 zero-padded) after its check digit. A mismatch is
not refused: it is an answer that raises the step's flag and grade cap, and the inspection goes on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from stdnum import ean, imei
from stdnum.exceptions import InvalidChecksum, InvalidFormat, InvalidLength, ValidationError

from dockstation.inspection.checklist import Impact, Step
from dockstation.text import clean

Verb = Literal["pass", "fail", "na", "option", "value"]
Result = Literal["pass", "fail", "na", "info"]


class InvalidAnswer(Exception):
    """An answer the step cannot take (the step stays): the message tells the grader why."""


@dataclass(frozen=True)
class Response:
    """What the grader did: a key or command (pass/fail/na), an option, or a value."""

    verb: Verb
    value: str = ""  # option key or 1-based number; scanned/typed value; number text
    gtin: str | None = None  # from a GS1 scan
    serial: str | None = None  # GS1 AI 21


@dataclass(frozen=True)
class Expected:
    """What the manifest line says the unit is."""

    serial: str | None = None
    gtin: str | None = None


@dataclass(frozen=True)
class Answer:
    value: str
    result: Result  # pass ✔, fail ✖ (flags or a failed check), na –, info • (recorded, a cap at most)
    label: str  # the answer in words, for the observed list
    flags: tuple[str, ...] = ()
    grade_cap: str | None = None
    stop: bool = False
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _shown(value: str) -> str:
    return clean(value, limit=40)


def _impact(impact: Impact, value: str, label: str, message: str, **extra: Any) -> Answer:
    result: Result = "fail"
    if impact.flags:
        message += f": flagged {', '.join(impact.flags)}"
    if impact.grade_cap:
        message += f"{',' if impact.flags else ':'} grade capped at {impact.grade_cap}"
    return Answer(value, result, label, tuple(impact.flags), impact.grade_cap, impact.stop, message, extra)


def _na(step: Step) -> Answer:
    if step.required:
        raise InvalidAnswer(f"“{step.short}” needs an answer: n.a. is not allowed here")
    return Answer("na", "na", "N/A", message=f"{step.short}: n.a.")


def _check(step: Step, r: Response) -> Answer:
    if r.verb == "pass":
        return Answer("pass", "pass", "Pass", message=f"{step.short}: pass")
    if r.verb == "fail":
        return _impact(step.on_fail, "fail", "Fail", f"{step.short}: fail")
    if r.verb == "na":
        return _na(step)
    raise InvalidAnswer("Answer with 1 pass or 2 fail" + ("" if step.required else " or 3 n.a."))


def _choice(step: Step, r: Response) -> Answer:
    opt = None
    if r.verb == "option":
        opt = next((o for o in step.options if o.key == r.value), None)
        if opt is None and r.value.isdigit() and 1 <= int(r.value) <= len(step.options):
            opt = step.options[int(r.value) - 1]
    elif r.verb in ("pass", "fail", "na"):
        opt = next((o for o in step.options if o.command == r.verb.upper()), None)
        if opt is None and r.verb == "na":
            return _na(step)
    if opt is None:
        keys = "  ".join(f"{i} {o.label}" for i, o in enumerate(step.options, start=1))
        raise InvalidAnswer(f"Pick one: {keys}")
    if opt.impact.empty:
        return Answer(opt.key, "pass", opt.label, message=f"{step.short}: {opt.label}")
    if not opt.flags:  # a cap alone is a condition, not a fault
        return Answer(opt.key, "info", opt.label, grade_cap=opt.grade_cap,
                      message=f"{step.short}: {opt.label}: grade capped at {opt.grade_cap}")
    return _impact(opt.impact, opt.key, opt.label, f"{step.short}: {opt.label}")


def _number(step: Step, r: Response) -> Answer:
    if r.verb == "na":
        return _na(step)
    if r.verb != "value":
        raise InvalidAnswer(f"Type the number{' in ' + step.unit if step.unit else ''}, then Enter")
    try:
        n = Decimal(r.value.strip().replace(",", "."))
    except InvalidOperation:
        raise InvalidAnswer(f"Not a number: {_shown(r.value)}") from None
    lo = Decimal(str(step.min)) if step.min is not None else None
    hi = Decimal(str(step.max)) if step.max is not None else None
    if not n.is_finite() or (lo is not None and n < lo) or (hi is not None and n > hi):
        span = f"{'' if lo is None else f'{lo:f}'}–{'' if hi is None else f'{hi:f}'}"
        raise InvalidAnswer(f"{_shown(r.value)} is outside {span} {step.unit}".rstrip())
    shown = f"{n.normalize():f}{step.unit}"
    low = step.pass_min is not None and n < Decimal(str(step.pass_min))
    high = step.pass_max is not None and n > Decimal(str(step.pass_max))
    if low or high:
        return _impact(step.on_fail, str(n), shown, f"{step.short}: {shown}")
    return Answer(str(n), "pass", shown, message=f"{step.short}: {shown}")


# -- scanned values ---------------------------------------------------------------------------
def _imei(raw: str) -> str:
    try:
        number = imei.validate(raw)
    except InvalidChecksum:
        raise InvalidAnswer(f"IMEI check digit is wrong: {_shown(raw)} — rescan it") from None
    except (InvalidLength, InvalidFormat, ValidationError):
        raise InvalidAnswer(f"Not an IMEI (15 digits): {_shown(raw)}") from None
    if len(number) == 14:  # valid to stdnum, but without its check digit we cannot trust a read
        raise InvalidAnswer(f"IMEI without its check digit: {_shown(raw)} — scan all 15 digits")
    return number


def _gtin(raw: str) -> str:
    digits = raw.strip()
    if not digits.isdigit() or len(digits) not in (8, 12, 13, 14):
        raise InvalidAnswer(f"Not a GTIN (8, 12, 13 or 14 digits): {_shown(raw)}")
    try:
        ean.validate(digits)
    except ValidationError:
        raise InvalidAnswer(f"GTIN check digit is wrong: {_shown(raw)} — rescan it") from None
    return digits


def same_serial(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def same_imei(got: str, expected: str) -> bool:
    """Compare the 14 digits that identify the device (an IMEISV differs only after them)."""
    want = imei.compact(expected) if expected else ""
    if want.isdigit() and len(want) >= 14:
        return got[:14] == want[:14]
    return same_serial(got, expected)


def same_gtin(a: str, b: str) -> bool:
    return a.strip().zfill(14) == b.strip().zfill(14)


NAMES = {"imei": "IMEI", "serial": "Serial number", "gtin": "Product (GTIN)"}


def _scan(step: Step, r: Response, expected: Expected) -> Answer:
    name = NAMES[step.value or "serial"]
    if r.verb == "na":
        return _na(step)
    if r.verb == "fail":
        return _impact(step.on_fail, "missing", "Not found", f"{name} not found on the unit")
    if r.verb != "value":
        raise InvalidAnswer(f"Scan the {name} (or press e to type it)")
    if step.value == "gtin":
        got = _gtin(r.gtin or r.value)
        want = expected.gtin
        match = same_gtin(got, want) if want else None
    else:
        raw = r.serial or r.value
        if not raw.strip():
            hint = "that is the product barcode (GTIN)" if r.gtin else "empty value"
            raise InvalidAnswer(f"Scan the {name}: {hint}")
        got = _imei(raw) if step.value == "imei" else raw.strip()
        want = expected.serial
        if step.value == "imei":
            match = same_imei(got, want) if want else None
        else:
            match = same_serial(got, want) if want else None
    if match is None:
        return Answer(got, "info", f"{_shown(got)} (unverified)",
                      message=f"{name} {_shown(got)} recorded; the manifest has none to compare",
                      extra={"match": None})
    if match:
        return Answer(got, "pass", f"{_shown(got)} ✔ matches", message=f"{name} matches the manifest",
                      extra={"match": True})
    return _impact(step.on_fail, got, f"{_shown(got)} ≠ manifest",
                   f"{name} {_shown(got)} does not match the manifest ({_shown(want or '')})",
                   match=False, expected=want)


def evaluate(step: Step, response: Response, expected: Expected) -> Answer:
    """The answer `response` gives to `step`, or InvalidAnswer if the step cannot take it."""
    if step.kind == "check":
        return _check(step, response)
    if step.kind == "choice":
        return _choice(step, response)
    if step.kind == "number":
        return _number(step, response)
    return _scan(step, response, expected)


# -- the grade --------------------------------------------------------------------------------
def lowest_cap(scale: Sequence[str], answers: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The lowest grade cap of all answers (the scale's first grade is the best)."""
    worst = -1
    for a in answers.values():
        cap = a.get("grade_cap")
        if cap in scale:
            worst = max(worst, scale.index(cap))
    return scale[worst] if worst >= 0 else None


def suggest_grade(scale: Sequence[str], answers: Mapping[str, Mapping[str, Any]]) -> str:
    """Start from the best grade; the lowest cap wins."""
    return lowest_cap(scale, answers) or scale[0]


def flags_of(step_ids: Sequence[str], answers: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Every flag raised, once, in checklist order."""
    out: list[str] = []
    for sid in [*step_ids, *[k for k in answers if k not in step_ids]]:
        for flag in answers.get(sid, {}).get("flags", ()):
            if flag not in out:
                out.append(flag)
    return out
