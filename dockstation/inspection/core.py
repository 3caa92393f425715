"""Inspection use cases over the store. Plain Python: no Textual.

Every call that changes anything does it in one small write transaction — the `Inspection` row,
the `Unit` row when its state moves, and one event — and returns an `InspectionView` only after
that transaction committed, so the screen never shows a step whose previous answer could be lost.
The open inspection *is* the resume point: `step_index` and `answers` are in the row, so opening
the unit again after a crash continues where it stopped.

Unit states: received → inspecting (open inspection) → graded (finish); cancel → received.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam
from sqlmodel import Session, select

from dockstation import events
from dockstation.config import Operator
from dockstation.inspection.answers import (
    Answer,
    Expected,
    InvalidAnswer,
    Response,
    evaluate,
    flags_of,
    lowest_cap,
    suggest_grade,
)
from dockstation.inspection.checklist import Checklist, Checklists, Step
from dockstation import rows
from dockstation.models import Inspection, RmaLine, Unit
from dockstation.photos.rules import NONE, PhotoState, next_open, short_need
from dockstation.photos.store import state_of
from dockstation.receiving import Bench
from dockstation.rows import Row
from dockstation.store import Store
from dockstation.text import bounded
from dockstation.types import iso, utcnow

NOTE_LIMIT = 500
INSPECTABLE = ("received", "inspecting")


class InspectionError(Exception):
    """A request refused before anything was written; the message is for the grader."""


class InspectionRefused(InspectionError):
    """An answer the current step cannot take (e.g. a wrong IMEI check digit); the step stays."""


@dataclass(frozen=True)
class UnitInfo:
    lpn: str
    sku: str
    description: str
    category: str
    unit_price: Decimal
    currency: str
    reason_code: str
    reason_text: str
    expected_serial: str | None
    expected_gtin: str | None


@dataclass(frozen=True)
class InspectionView:
    """An inspection as committed, with what just happened (`message`, `ok`) for the screen."""

    inspection_id: int
    status: str  # open | done | cancelled
    checklist: Checklist
    step_index: int
    answers: dict[str, dict[str, Any]]
    flags: tuple[str, ...]
    grade_cap: str | None
    suggested_grade: str
    grade: str | None
    note: str | None
    unit: UnitInfo
    message: str = ""
    ok: bool = True
    resumed: bool = False
    all_pass: bool = False  # CMD:ALLPASS given: the last value it waits for grades the unit
    photos: PhotoState = NONE  # the unit's photos per step, waivers (dockstation/photos)
    # Graded by this call, with a policy given: what the policy proposes for the unit, made in the
    # same transaction (dockstation.policy.dispose.Proposal), so the disposition screen needs no
    # read of its own. None otherwise.
    proposal: Any = None

    @property
    def lpn(self) -> str:
        return self.unit.lpn

    @property
    def photos_missing(self) -> int:
        """Photos the current step still needs before the inspection goes on (0: none)."""
        step = self.step
        return self.photos.missing(step, self.answers.get(step.id)) if step is not None else 0

    @property
    def step(self) -> Step | None:
        """The step to answer now; None once every step is answered (the grade is next)."""
        steps = self.checklist.steps
        return steps[self.step_index] if self.step_index < len(steps) else None

    @property
    def at_grade(self) -> bool:
        return self.status == "open" and self.step is None


@dataclass(frozen=True)
class InspectionResult:
    """What the policy and KPIs need of a graded unit."""

    lpn: str
    inspection_id: int
    checklist: str
    checklist_version: str
    grade: str | None
    suggested_grade: str | None
    changed: bool
    flags: tuple[str, ...]
    grade_cap: str | None
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    note: str | None = None
    inspected_at: datetime | None = None
    inspected_by: str | None = None


# -- reading ----------------------------------------------------------------------------------
def open_inspection_of(session: Session, lpn: str) -> Inspection | None:
    return session.exec(select(Inspection).where(Inspection.lpn == lpn, Inspection.status == "open")
                        .order_by(Inspection.id.desc()).limit(1)).first()  # type: ignore[union-attr]


def inspection_result(session: Session, lpn: str) -> InspectionResult | None:
    """The unit's finished inspection (the latest, if it was ever re-inspected), or None."""
    insp = session.exec(select(Inspection).where(Inspection.lpn == lpn, Inspection.status == "done")
                        .order_by(Inspection.id.desc()).limit(1)).first()  # type: ignore[union-attr]
    if insp is None or insp.id is None:
        return None
    return InspectionResult(
        lpn=lpn, inspection_id=insp.id, checklist=insp.checklist, checklist_version=insp.checklist_version,
        grade=insp.grade, suggested_grade=insp.suggested_grade, changed=insp.grade != insp.suggested_grade,
        flags=tuple(insp.flags or ()), grade_cap=insp.grade_cap, answers=dict(insp.answers or {}),
        note=insp.note, inspected_at=insp.finished_at, inspected_by=insp.finished_by,
    )


# -- helpers ----------------------------------------------------------------------------------
def _who(operator: Operator | None) -> str:
    if operator is None:
        raise InspectionError("Nobody is signed in: scan your badge (OP-…) first")
    if not operator.can("grader"):
        raise InspectionError(f"{operator.name} is a {operator.role}: only a grader or a lead may inspect")
    return operator.badge


def _scale(bench: Bench) -> list[str]:
    return [g.code for g in bench.codes.grades]


# What the inspection reads of the unit's RMA line, as plain columns (no ORM object: every step).
_LINE = select(RmaLine.reason_code, RmaLine.expected_serial, RmaLine.gtin).where(  # type: ignore[call-overload]
    RmaLine.rma_id == bindparam("rma"), RmaLine.line_no == bindparam("line"))
# The same columns joined to the unit (a held unit, or one on no line, has none).
LINE_JOIN = "LEFT JOIN rma_line l ON l.rma_id = u.rma_id AND l.line_no = u.line_no AND u.line_no <> 0"
LINE_COLUMNS = "l.reason_code, l.expected_serial, l.gtin"


def _unit_info(session: Session, bench: Bench, unit: Any) -> tuple[UnitInfo, Any]:
    """The unit as the inspection shows it, and its RMA line's columns (None: a held unit)."""
    line = (session.connection().execute(_LINE, {"rma": unit.rma_id, "line": unit.line_no}).first()
            if unit.rma_id and unit.line_no else None)
    return info_of(bench, unit, line), line


def info_of(bench: Bench, unit: Any, line: Sequence[Any] | None) -> UnitInfo:
    """UnitInfo of `unit` and its line's (reason_code, expected_serial, gtin); None or NULLs: no line."""
    reason_code, serial, gtin = line if line is not None else (None, None, None)
    reason = reason_code or ""
    return UnitInfo(
        lpn=unit.lpn, sku=unit.sku, description=unit.description, category=unit.category,
        unit_price=unit.unit_price, currency=unit.currency, reason_code=reason,
        reason_text=bench.codes.reason_codes.get(reason, reason),
        expected_serial=serial or None, expected_gtin=gtin or None,
    )


def _view(insp: Row, cl: Checklist, info: UnitInfo, bench: Bench, photos: PhotoState = NONE,
          **kw: Any) -> InspectionView:
    assert insp.id is not None
    return InspectionView(
        inspection_id=insp.id, status=insp.status, checklist=cl, step_index=insp.step_index,
        answers=dict(insp.answers or {}), flags=tuple(insp.flags or ()), grade_cap=insp.grade_cap,
        suggested_grade=insp.suggested_grade or _scale(bench)[0], grade=insp.grade, note=insp.note,
        unit=info, all_pass=bool(insp.all_pass), photos=photos, **kw,
    )


def _derive(insp: Row, cl: Checklist, bench: Bench) -> None:
    """Flags, cap and suggestion always follow from the answers (so a changed answer un-caps)."""
    scale = _scale(bench)
    answers = insp.answers or {}
    insp.flags = flags_of([s.id for s in cl.steps], answers)
    insp.grade_cap = lowest_cap(scale, answers)
    insp.suggested_grade = suggest_grade(scale, answers)


_LOAD = (f"SELECT {rows.columns(Inspection, 'i')}, {rows.columns(Unit, 'u')}, {LINE_COLUMNS} "
         f"FROM inspection i JOIN unit u ON u.lpn = i.lpn {LINE_JOIN} WHERE i.id = ?")


def _load(session: Session, bench: Bench, inspection_id: int,
          checklists: Checklists) -> tuple[Row, Row, Checklist, UnitInfo, PhotoState]:
    """The open inspection, its unit (plain rows, dockstation/rows.py) and its line, in one query."""
    session.flush()  # rows the ORM still holds back (what session.get saw)
    raw = rows.first(session, _LOAD, (inspection_id,))
    if raw is None:
        raise InspectionError(f"No inspection #{inspection_id}")
    split = rows.width(Inspection)
    insp = rows.from_raw(session, Inspection, raw[:split])
    if insp.status != "open":
        raise InspectionError(f"Inspection of {insp.lpn} is already {insp.status}")
    base = checklists.get(insp.checklist)
    if base is None:
        raise InspectionError(f"Checklist {insp.checklist!r} is no longer configured")
    unit = rows.from_raw(session, Unit, raw[split:-3])
    info = info_of(bench, unit, raw[-3:])
    return insp, unit, checklists.effective(base, info.expected_serial), info, state_of(session, insp.lpn, insp.id)


def photo_note(cl: Checklist, insp: Row, photos: PhotoState, index: int) -> str:
    """" — now 1 photo of “Screen”: …" when the answered step stays for its photos, else ""."""
    if index != insp.step_index or index >= len(cl.steps):
        return ""
    step = cl.steps[index]
    missing = photos.missing(step, (insp.answers or {}).get(step.id))
    return f" — now {short_need(step, missing)}: p or CMD:PHOTO" if missing else ""


def answer_row(got: Answer, badge: str, at: datetime) -> dict[str, Any]:
    """An answer as the inspection row keeps it (`Inspection.answers[step_id]`)."""
    return {"value": got.value, "result": got.result, "label": got.label, "flags": list(got.flags),
            "grade_cap": got.grade_cap, "at": iso(at), "by": badge, **got.extra}


def answered_payload(inspection_id: int | None, step: Step, index: int, got: Answer, suggested: str | None,
                     *, all_pass: bool = False) -> dict[str, Any]:
    """The `inspection_answered` event's payload (docs/events.md)."""
    payload = {"inspection_id": inspection_id, "step": step.id, "index": index, "value": got.value,
               "result": got.result, "flags": list(got.flags), "grade_cap": got.grade_cap,
               "suggested_grade": suggested}
    if all_pass:
        payload["all_pass"] = True
    return payload


def _record(session: Session, bench: Bench, badge: str, insp: Row, unit: Row, cl: Checklist,
            index: int, got: Answer, photos: PhotoState = NONE) -> None:
    """Store one answer to step `index` with its event. The inspection moves on only if that
    step was the current one (a value scanned out of order leaves the grader where they were),
    and only once the step has the photos its answer needs (dockstation/photos/rules.py)."""
    step = cl.steps[index]
    now = utcnow()
    answers = dict(insp.answers or {})
    if got.stop:  # nothing after this step applies any more
        for later in cl.steps[index + 1:]:
            answers.pop(later.id, None)
    answers[step.id] = answer_row(got, badge, now)
    insp.answers = answers
    if got.stop or index == insp.step_index:
        insp.step_index = next_open(cl, answers, photos, index - 1)
    _derive(insp, cl, bench)
    # Not saved here: the caller saves it after _finish_all_pass, so the row is written once (with
    # the grade when this answer grades the unit).
    events.record(session, bench.station_id, "inspection_answered", operator=badge, lpn=unit.lpn,
                  rma_id=unit.rma_id, at=now, flush=False,
                  payload=answered_payload(insp.id, step, index, got, insp.suggested_grade))


def _grade(session: Session, bench: Bench, badge: str, insp: Row, unit: Row, cl: Checklist,
           grade: str | None = None) -> str:
    """Confirm the suggested grade (None) or another; the unit becomes `graded`. Returns the message."""
    _derive(insp, cl, bench)
    suggested = insp.suggested_grade or _scale(bench)[0]
    chosen = grade or suggested
    if chosen not in _scale(bench):
        raise InspectionError(f"No grade {chosen!r}: the scale is {', '.join(_scale(bench))}")
    now = utcnow()
    insp.status, insp.grade, insp.finished_at, insp.finished_by = "done", chosen, now, badge
    flags = [*(unit.risk_flags or []), *[f for f in insp.flags if f not in (unit.risk_flags or [])]]
    unit.state, unit.grade, unit.risk_flags = "graded", chosen, flags
    unit.inspected_at, unit.inspected_by, unit.updated_at = now, badge, now
    rows.save(session, insp)
    rows.save(session, unit)
    events.record(session, bench.station_id, "unit_graded", operator=badge, lpn=unit.lpn,
                  rma_id=unit.rma_id, at=now,
                  payload={"inspection_id": insp.id, "grade": chosen, "suggested_grade": suggested,
                           "changed": chosen != suggested, "flags": list(insp.flags),
                           "grade_cap": insp.grade_cap, "checklist": cl.key,
                           "checklist_version": cl.version, "category": unit.category,
                           "unit_price": unit.unit_price})
    changed = f" (suggested {suggested})" if chosen != suggested else ""
    return f"{unit.lpn} graded {chosen}{changed}"


def _complete(cl: Checklist, insp: Row) -> bool:
    """Every step answered (or a stop answer ended the checklist): the grade is next."""
    return insp.step_index >= len(cl.steps)


def proposal_if_graded(session: Session, policy: Any, insp: Row, unit: Row, info: UnitInfo) -> Any:
    """The policy's proposal for a unit this transaction graded (`policy` given), else None."""
    if policy is None or insp.status != "done":
        return None
    from dockstation.policy.dispose import Known, proposal_of, rma_created  # here: inspection needs no policy otherwise

    known = Known(info.reason_code, insp, rma_created(session, unit.rma_id))
    return proposal_of(session, policy, unit, insp.finished_at or utcnow(), known)


def _finish_all_pass(session: Session, bench: Bench, badge: str, insp: Row, unit: Row,
                     cl: Checklist, got: Answer | None) -> str | None:
    """After CMD:ALLPASS the answer to the last step it waited for grades the unit at once, unless
    a scanned value failed (a serial that does not match, not found): then the grader sees why,
    at the grade, and confirms it there."""
    answers = insp.answers or {}
    surprise = any(answers.get(s.id, {}).get("result") == "fail" for s in cl.steps if s.kind == "scan")
    if insp.all_pass and _complete(cl, insp) and not surprise and (got is None or got.result != "fail"):
        return _grade(session, bench, badge, insp, unit, cl)
    return None


# -- use cases --------------------------------------------------------------------------------
def answer(store: Store, bench: Bench, operator: Operator | None, inspection_id: int, response: Response,
           checklists: Checklists, *, expect_step: str | None = None, policy: Any = None) -> InspectionView:
    """Answer the current step. InvalidAnswer (an InspectionError) leaves the step where it is.
    `policy`: a unit this answer grades (after CMD:ALLPASS) comes with its proposal."""
    badge = _who(operator)
    with store.write() as session:
        insp, unit, cl, info, photos = _load(session, bench, inspection_id, checklists)
        index = insp.step_index
        if index >= len(cl.steps):
            raise InspectionError("Every step is answered: confirm the grade (Enter / CMD:DONE)")
        step = cl.steps[index]
        if expect_step is not None and step.id != expect_step:
            raise InspectionError(f"This inspection moved on (now at “{step.short}”): look again")
        try:
            got = evaluate(step, response, Expected(info.expected_serial, info.expected_gtin))
        except InvalidAnswer as exc:
            raise InspectionRefused(str(exc)) from None
        _record(session, bench, badge, insp, unit, cl, index, got, photos)
        graded = _finish_all_pass(session, bench, badge, insp, unit, cl, got)
        rows.save(session, insp)
        message = f"{got.message} — {graded}" if graded else got.message + photo_note(cl, insp, photos, index)
        return _view(insp, cl, info, bench, photos, message=message, ok=got.result != "fail",
                     proposal=proposal_if_graded(session, policy, insp, unit, info))


def step_back(store: Store, bench: Bench, operator: Operator | None, inspection_id: int,
              checklists: Checklists) -> InspectionView:
    """Go back to the previous answered step; its answer stays until it is answered again."""
    badge = _who(operator)
    with store.write() as session:
        insp, unit, cl, info, photos = _load(session, bench, inspection_id, checklists)
        answers = insp.answers or {}
        before = [i for i, s in enumerate(cl.steps) if i < insp.step_index and s.id in answers]
        if not before:
            raise InspectionError("Already at the first step")
        came_from = cl.steps[insp.step_index].id if insp.step_index < len(cl.steps) else "grade"
        insp.step_index = before[-1]
        rows.save(session, insp)
        events.record(session, bench.station_id, "inspection_step_back", operator=badge, lpn=unit.lpn,
                      rma_id=unit.rma_id,
                      payload={"inspection_id": insp.id, "from": came_from, "to": cl.steps[insp.step_index].id})
        return _view(insp, cl, info, bench, photos, message=f"Back to “{cl.steps[insp.step_index].short}”")


def set_note(store: Store, bench: Bench, operator: Operator | None, inspection_id: int, note: str,
             checklists: Checklists) -> InspectionView:
    """The grader's note: typed text, kept as data (bounded), never shown as markup."""
    badge = _who(operator)
    text = bounded(note.strip(), NOTE_LIMIT) or None
    with store.write() as session:
        insp, unit, cl, info, photos = _load(session, bench, inspection_id, checklists)
        insp.note = text
        rows.save(session, insp)
        events.record(session, bench.station_id, "inspection_note", operator=badge, lpn=unit.lpn,
                      rma_id=unit.rma_id, payload={"inspection_id": insp.id, "note": text})
        return _view(insp, cl, info, bench, photos, message="Note saved" if text else "Note cleared")


def cancel(store: Store, bench: Bench, operator: Operator | None, inspection_id: int,
           checklists: Checklists) -> InspectionView:
    """Abandon the inspection (answers kept in the row and the events); the unit is `received` again."""
    badge = _who(operator)
    with store.write() as session:
        insp, unit, cl, info, photos = _load(session, bench, inspection_id, checklists)
        now = utcnow()
        insp.status, insp.finished_at, insp.finished_by = "cancelled", now, badge
        unit.state, unit.updated_at = "received", now
        rows.save(session, insp)
        rows.save(session, unit)
        events.record(session, bench.station_id, "inspection_cancelled", operator=badge, lpn=unit.lpn,
                      rma_id=unit.rma_id, at=now,
                      payload={"inspection_id": insp.id, "step_index": insp.step_index,
                               "answered": len(insp.answers or {})})
        return _view(insp, cl, info, bench, photos, message=f"Inspection of {unit.lpn} cancelled")


def steps_left(steps: Sequence[Step], step_index: int, answers: dict[str, Any]) -> str:
    """Why the unit cannot be graded yet: the steps from the current one that have no answer
    (after CMD:ALLPASS only the values it waits for, not every step after the current one)."""
    left = sum(1 for step in steps[step_index:] if step.id not in answers) or 1
    return f"{left} step{'s' if left > 1 else ''} left before the grade"


def finish(store: Store, bench: Bench, operator: Operator | None, inspection_id: int,
           checklists: Checklists, grade: str | None = None, *, policy: Any = None) -> InspectionView:
    """Confirm the suggested grade (grade=None) or another one; the unit becomes `graded`.
    `policy`: the view comes with the policy's proposal, made in the same transaction."""
    badge = _who(operator)
    with store.write() as session:
        insp, unit, cl, info, photos = _load(session, bench, inspection_id, checklists)
        if insp.step_index < len(cl.steps):
            step = cl.steps[insp.step_index]
            if step.id in (insp.answers or {}) and (missing := photos.missing(step, insp.answers[step.id])):
                raise InspectionError(f"“{step.short}” still needs {short_need(step, missing).split(' of ')[0]}: "
                                      "p or CMD:PHOTO takes one (a lead may waive it: w)")
            raise InspectionError(steps_left(cl.steps, insp.step_index, insp.answers or {}))
        message = _grade(session, bench, badge, insp, unit, cl, grade)
        return _view(insp, cl, info, bench, photos, message=message,
                     proposal=proposal_if_graded(session, policy, insp, unit, info))
