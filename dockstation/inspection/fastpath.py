"""The grader's fast path: all pass in one input, and scanned values answering their step in any order.

`all_pass` (CMD:ALLPASS, or the `a` key) answers every remaining check and choice step with its
passing answer in ONE transaction (each answer with its `inspection_answered` event, then one
`inspection_all_pass`), and grades the unit with the suggested grade when nothing is left. Steps
that verify a scanned value (serial, IMEI, GTIN) or a required number are never skipped: the
inspection waits at the first of them, remembers the all-pass (`Inspection.all_pass`), and the
answer to the last one grades the unit — unless that answer failed (a serial that does not match),
so the grader sees why at the grade.

`answer_scan` gives a scanned value to the step it belongs to, wherever the checklist stands:
the manifest's own serial/IMEI/GTIN, any product barcode (GS1 GTIN) for the GTIN step, else the
current step if it is a scan step, else a valid value of a kind the manifest has nothing for.
`scan_fits` asks the same question strictly, read-only, for a unit in hand on the receiving
screen (where a parcel's tracking number must never be taken for an IMEI).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session
from stdnum import imei

from dockstation import events, rows
from dockstation.config import Operator
from dockstation.inspection.answers import (
    NAMES,
    Expected,
    InvalidAnswer,
    Response,
    evaluate,
    same_gtin,
    same_imei,
    same_serial,
    suggest_grade,
)
from dockstation.inspection.checklist import Checklist, Checklists, Step
from dockstation.inspection.core import (
    InspectionError,
    InspectionRefused,
    InspectionView,
    _complete,
    _derive,
    _finish_all_pass,
    _load,
    _record,
    _unit_info,
    UnitInfo,
    _view,
    _who,
    answer_row,
    answered_payload,
    open_inspection_of,
    photo_note,
    proposal_if_graded,
)
from dockstation.inspection.opening import open_in
from dockstation.models import Unit
from dockstation.photos.rules import NONE, PhotoState, next_open, short_need
from dockstation.receiving import Bench
from dockstation.rows import Row
from dockstation.store import Store
from dockstation.text import clean
from dockstation.types import utcnow


def passing(step: Step) -> Response | None:
    """The answer CMD:ALLPASS gives `step`, or None when the step needs a value from the grader."""
    if step.kind == "check":
        return Response("pass")
    if step.kind == "choice":
        if any(o.command == "PASS" for o in step.options):
            return Response("pass")
        plain = next((o for o in step.options if o.impact.empty), None)
        return Response("option", plain.key) if plain else None
    if step.kind == "number":
        return None if step.required else Response("na")  # an optional reading not taken
    return None  # scan: serial, IMEI, GTIN are verified, never assumed


def waiting(cl: Checklist, answers: dict[str, Any], photos: PhotoState = NONE) -> list[Step]:
    """Steps not finished: no answer yet, or the photos their answer needs are missing."""
    return [s for s in cl.steps if s.id not in answers or photos.missing(s, answers[s.id])]


def needs(steps: list[Step], answers: dict[str, Any] | None = None, photos: PhotoState = NONE) -> str:
    """What the grader still has to give, in words: "the IMEI", "the Serial number and …",
    "1 photo of “Screen”"."""
    answers = answers or {}
    names = []
    for s in steps:
        if s.id in answers:  # answered: only its photos are missing
            names.append(short_need(s, photos.missing(s, answers[s.id])))
            continue
        names.append(f"the {NAMES[s.value or 'serial']}" if s.kind == "scan" else f"the {s.short.lower()}"
                     + (f" ({s.unit})" if s.unit else ""))
        if missing := photos.missing(s, None):
            names[-1] += f" (+{missing} photo{'s' if missing > 1 else ''})"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


FAILED_VALUE = "All pass — but a scanned value failed: look, then confirm the grade (Enter / CMD:DONE)"


def all_pass_prompt(cl: Checklist, answers: dict[str, Any], photos: PhotoState = NONE) -> str:
    left = waiting(cl, answers, photos)
    if not left:
        return FAILED_VALUE
    open_ = [s for s in left if s.id not in answers]
    verb = "take" if not open_ else "scan" if all(s.kind == "scan" for s in open_) else "give"
    return f"All pass — now {verb} {needs(left, answers, photos)} to finish"


def all_pass(store: Store, bench: Bench, operator: Operator | None, inspection_id: int,
             checklists: Checklists, *, policy: Any = None) -> InspectionView:
    """Every remaining check and choice step passes; grade now if nothing needs a value.
    `policy`: a unit graded here comes with the policy's proposal (`InspectionView.proposal`)."""
    badge = _who(operator)
    with store.write() as session:
        insp, unit, cl, info, photos = _load(session, bench, inspection_id, checklists)
        message = _all_pass_in(session, bench, badge, insp, unit, cl, info, photos)
        return _view(insp, cl, info, bench, photos, message=message,
                     proposal=proposal_if_graded(session, policy, insp, unit, info))


def all_pass_unit(store: Store, bench: Bench, operator: Operator | None, lpn: str, checklists: Checklists,
                  *, policy: Any = None) -> InspectionView:
    """CMD:ALLPASS (or `a`) for a unit whose inspection is not open on screen (the unit in hand):
    open (or resume) its inspection and give it all pass — ONE input, so ONE transaction (what
    open_inspection then all_pass write, in the same order: `inspection_started`, the answers,
    `inspection_all_pass`, and `unit_graded` when nothing needs a value). With `policy`, a unit
    graded here comes with the policy's proposal, made in the same transaction."""
    badge = _who(operator)
    with store.write() as session:
        insp, unit, cl, info, photos, _ = open_in(session, bench, badge, lpn, checklists)
        message = _all_pass_in(session, bench, badge, insp, unit, cl, info, photos)
        return _view(insp, cl, info, bench, photos, message=message,
                     proposal=proposal_if_graded(session, policy, insp, unit, info))


def _all_pass_in(session: Session, bench: Bench, badge: str, insp: Row, unit: Row, cl: Checklist,
                 info: UnitInfo, photos: PhotoState) -> str:
    """all_pass in the caller's write transaction; returns the message for the grader."""
    expected, scale = Expected(info.expected_serial, info.expected_gtin), [g.code for g in bench.codes.grades]
    # Answers first, then the row once and the events: one UPDATE of the inspection, not one
    # per answer (each event's insert flushes the session).
    answers, done, now = dict(insp.answers or {}), [], utcnow()
    if not _complete(cl, insp):
        for index, step in enumerate(cl.steps):
            response = passing(step)
            if step.id in answers or response is None:
                continue
            try:
                got = evaluate(step, response, expected)
            except InvalidAnswer:  # e.g. a site's choice whose plain option is n.a. on a required step
                continue
            answers[step.id] = answer_row(got, badge, now)
            done.append((index, step, got, suggest_grade(scale, answers)))
        insp.answers = answers
        insp.step_index = next_open(cl, answers, photos)
        _derive(insp, cl, bench)
    insp.all_pass = True
    # The inspection row is written once, after the events: with the grade, or alone.
    for index, step, got, suggested in done:
        events.record(session, bench.station_id, "inspection_answered", operator=badge, lpn=unit.lpn,
                      rma_id=unit.rma_id, at=now, flush=False,
                      payload=answered_payload(insp.id, step, index, got, suggested, all_pass=True))
    answered = [step.id for _, step, _, _ in done]
    left = [] if _complete(cl, insp) else [s.id for s in waiting(cl, insp.answers or {}, photos)]
    events.record(session, bench.station_id, "inspection_all_pass", operator=badge, lpn=unit.lpn,
                  rma_id=unit.rma_id, flush=False,
                  payload={"inspection_id": insp.id, "answered": answered, "waiting": left})
    graded = _finish_all_pass(session, bench, badge, insp, unit, cl, None)
    rows.save(session, insp)
    if graded:
        return f"All pass: {graded}"
    return all_pass_prompt(cl, insp.answers or {}, photos) if left else FAILED_VALUE


# -- scanned values, in any order ------------------------------------------------------------
@dataclass(frozen=True)
class Scanned:
    """A scan as the inspection sees it: its text, what GS1 parsing found, and whether it is of
    no other kind the bench knows (`loose`: not a parcel, badge, LPN or command)."""

    raw: str
    gtin: str | None = None
    serial: str | None = None  # GS1 AI 21
    loose: bool = False


def _valid_imei(text: str) -> bool:
    return len(imei.compact(text)) == 15 and imei.is_valid(text)


def _is_expected(step: Step, expected: Expected, s: Scanned) -> bool:
    """The manifest's own value for this step: nothing else could be meant."""
    if step.value == "gtin":
        want, got = expected.gtin, s.gtin or s.raw.strip()
        return bool(want and got.isdigit() and same_gtin(got, want))
    if not expected.serial:
        return False
    got = s.serial or s.raw
    if step.value == "imei":
        return _valid_imei(got) and same_imei(imei.compact(got), expected.serial)
    return same_serial(got, expected.serial)


def _of_kind(step: Step, expected: Expected, s: Scanned, strict: bool) -> bool:
    """A valid value of the step's kind, where the manifest has none of that kind to compare."""
    if expected.serial or step.value == "gtin":
        return False
    if step.value == "imei":
        return (s.loose or not strict) and _valid_imei(s.serial or s.raw)
    return bool(s.serial) or s.loose


def match_value(cl: Checklist, answers: dict[str, Any], current: int, expected: Expected, s: Scanned,
                *, strict: bool = False) -> tuple[int | None, str]:
    """Which step a scanned value answers (its index), or None and why not ("" = not a value).

    In order: a step whose manifest value it is; the GTIN step for a product barcode; the current
    step if it is a scan step (its own checks refuse a bad value, a mismatch is flagged there);
    a step of a kind the manifest has no value for. `strict` (a unit in hand, nothing open yet)
    leaves out the current-step rule and takes an IMEI only if it is the manifest's."""
    steps = cl.steps
    if current >= len(steps):
        return None, ""  # at the grade: the checklist is done
    order = [i for i, st in enumerate(steps) if st.kind == "scan" and (i == current or st.id not in answers)]
    order.sort(key=lambda i: i != current)
    if not order:
        return None, ""
    for i in order:
        if _is_expected(steps[i], expected, s):
            return i, ""
    if s.gtin:
        for i in order:
            if steps[i].value == "gtin":
                return i, ""
    cur = steps[current] if current in order else None
    if cur is not None and not strict:
        if cur.value != "gtin" and s.gtin and not s.serial:
            return None, f"That is the product barcode (GTIN): scan the {NAMES[cur.value or 'serial']}"
        if cur.value != "gtin" or not any(_of_kind(steps[i], expected, s, strict) for i in order):
            return current, ""
    for i in order:
        if _of_kind(steps[i], expected, s, strict):
            return i, ""
    for i in order:  # this unit's serial is known, and this is not it: say so, record nothing
        st = steps[i]
        kind_like = s.serial or (_valid_imei(s.raw) if st.value == "imei" else s.loose)
        if st.value != "gtin" and expected.serial and kind_like:
            name = NAMES[st.value or "serial"]
            return None, (f"{clean(s.serial or s.raw, limit=40)} is not this unit's {name} (the manifest says "
                          f"{clean(expected.serial, limit=40)}): at the {name} step it is recorded as a mismatch")
    return None, ""


def answer_scan(store: Store, bench: Bench, operator: Operator | None, inspection_id: int, scanned: Scanned,
                checklists: Checklists, *, strict: bool = False, policy: Any = None) -> InspectionView | None:
    """Answer the step `scanned` belongs to (see match_value); None if it is no value of this unit.
    `policy`: a unit this value grades (the last one after CMD:ALLPASS) comes with the policy's
    proposal, made in the same transaction (`InspectionView.proposal`).

    Raises InspectionRefused for a value its step refuses (a wrong check digit: the step stays),
    InspectionError for a value that is this kind but not this unit's (nothing written)."""
    badge = _who(operator)
    with store.write() as session:
        insp, unit, cl, info, photos = _load(session, bench, inspection_id, checklists)
        expected = Expected(info.expected_serial, info.expected_gtin)
        index, why = match_value(cl, insp.answers or {}, insp.step_index, expected, scanned, strict=strict)
        if index is None:
            if why:
                raise InspectionError(why)
            return None
        step = cl.steps[index]
        try:
            got = evaluate(step, Response("value", scanned.raw, gtin=scanned.gtin, serial=scanned.serial), expected)
        except InvalidAnswer as exc:
            raise InspectionRefused(str(exc)) from None
        ahead = index != insp.step_index
        _record(session, bench, badge, insp, unit, cl, index, got, photos)
        graded = _finish_all_pass(session, bench, badge, insp, unit, cl, got)
        rows.save(session, insp)
        message = got.message + (" (out of order)" if ahead and not graded else "")
        if graded:
            message = f"{got.message} — {graded}"
        elif insp.all_pass and not _complete(cl, insp):
            message = f"{message} — {all_pass_prompt(cl, insp.answers or {}, photos)}"
        else:
            message += photo_note(cl, insp, photos, index)
        return _view(insp, cl, info, bench, photos, message=message, ok=got.result != "fail",
                     proposal=proposal_if_graded(session, policy, insp, unit, info))


def scan_fits(store: Store, bench: Bench, lpn: str, checklists: Checklists, scanned: Scanned) -> bool:
    """Is `scanned` a value of this unit (received, or open for inspection), by the strict rule?
    Read-only: the receiving screen asks before opening the unit's inspection for it."""
    with store.read() as session:
        return _fits(session, bench, lpn, checklists, scanned)


def _fits(session: Session, bench: Bench, lpn: str, checklists: Checklists, scanned: Scanned) -> bool:
    unit = session.get(Unit, lpn)
    if unit is None or unit.state not in ("received", "inspecting"):
        return False
    info, _ = _unit_info(session, bench, unit)
    insp = open_inspection_of(session, lpn)
    if insp is not None:
        base = checklists.get(insp.checklist)
        if base is None:
            return False
        cl, answers, current = checklists.effective(base, info.expected_serial), insp.answers or {}, insp.step_index
    else:
        cl, answers, current = checklists.for_unit(unit.category, info.expected_serial), {}, 0
    index, _ = match_value(cl, answers, current, Expected(info.expected_serial, info.expected_gtin), scanned,
                           strict=True)
    return index is not None


