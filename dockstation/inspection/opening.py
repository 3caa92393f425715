"""Opening an inspection: start one for a received unit, or resume its open one where it stopped.

`open_in` runs in the caller's write transaction, so a use case that opens the inspection and
answers it on ONE input (fastpath.all_pass_unit: CMD:ALLPASS on the unit in hand) commits once.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from dockstation import events, rows
from dockstation.config import Operator
from dockstation.inspection.checklist import Checklist, Checklists
from dockstation.inspection.core import (
    INSPECTABLE,
    InspectionError,
    InspectionView,
    UnitInfo,
    _derive,
    info_of,
    LINE_COLUMNS,
    LINE_JOIN,
    _scale,
    _view,
    _who,
)
from dockstation.models import Inspection, Unit
from dockstation.photos.rules import PhotoState, next_open
from dockstation.photos.store import state_of
from dockstation.receiving import Bench
from dockstation.rows import Row
from dockstation.store import Store
from dockstation.types import utcnow


def open_inspection(store: Store, bench: Bench, operator: Operator | None, lpn: str,
                    checklists: Checklists) -> InspectionView:
    """Start the inspection of a unit, or resume its open one at the step where it stopped."""
    badge = _who(operator)
    with store.write() as session:
        insp, _, cl, info, photos, shown = open_in(session, bench, badge, lpn, checklists)
        return _view(insp, cl, info, bench, photos, **shown)


# The unit, its line and the id of its open inspection (a received unit has none), in one query.
_UNIT = (f"SELECT {rows.columns(Unit, 'u')}, {LINE_COLUMNS}, (SELECT id FROM inspection WHERE lpn = u.lpn AND "
         f"status = 'open' ORDER BY id DESC LIMIT 1) FROM unit u {LINE_JOIN} WHERE u.lpn = ?")


def open_in(session: Session, bench: Bench, badge: str, lpn: str, checklists: Checklists
            ) -> tuple[Row, Row, Checklist, UnitInfo, PhotoState, dict[str, Any]]:
    """open_inspection in the caller's write transaction: the open inspection, its unit (plain
    rows, dockstation/rows.py), checklist, unit info and photos, and what the view says about it
    (message, resumed)."""
    session.flush()  # rows the ORM still holds back (what session.get saw)
    raw = rows.first(session, _UNIT, (lpn,))
    if raw is None:
        raise InspectionError(f"{lpn}: no such unit on this bench")
    split = rows.width(Unit)
    unit = rows.from_raw(session, Unit, raw[:split])
    info = info_of(bench, unit, raw[split:split + 3])
    open_id = raw[-1]
    insp = rows.get(session, Inspection, open_id) if open_id is not None else None
    if insp is not None:
        base = checklists.get(insp.checklist) or checklists.for_category(unit.category)
        cl = checklists.effective(base, info.expected_serial)
        photos = state_of(session, lpn, insp.id)
        if (cl.key, cl.version) == (insp.checklist, insp.checklist_version):
            return insp, unit, cl, info, photos, {
                "resumed": True,
                "message": f"Resumed at step {min(insp.step_index + 1, len(cl.steps))}/{len(cl.steps)}"}
        # The checklist changed while this unit was open: keep the answers to steps that still
        # exist and continue at the first step without one.
        old = (insp.checklist, insp.checklist_version)
        keep = {s.id for s in cl.steps}
        insp.answers = {k: v for k, v in (insp.answers or {}).items() if k in keep}
        insp.checklist, insp.checklist_version = cl.key, cl.version
        insp.step_index = next_open(cl, insp.answers, photos)
        _derive(insp, cl, bench)
        rows.save(session, insp)
        events.record(session, bench.station_id, "inspection_started", operator=badge, lpn=lpn,
                      rma_id=unit.rma_id,
                      payload={"inspection_id": insp.id, "checklist": cl.key, "checklist_version": cl.version,
                               "resumed": True, "previous": f"{old[0]} {old[1]}"})
        return insp, unit, cl, info, photos, {
            "resumed": True, "message": f"Checklist updated to version {cl.version}: answers kept where steps remain"}
    if unit.state not in INSPECTABLE:
        graded = f" (grade {unit.grade})" if unit.grade else ""
        raise InspectionError(f"{lpn} is {unit.state}{graded}: nothing to inspect")
    cl = checklists.for_unit(unit.category, info.expected_serial)
    now = utcnow()
    insp = rows.insert(session, Inspection, lpn=lpn, checklist=cl.key, checklist_version=cl.version, status="open",
                       step_index=0, answers={}, flags=[], suggested_grade=_scale(bench)[0],
                       started_at=now, started_by=badge)
    unit.state, unit.updated_at = "inspecting", now
    rows.save(session, unit)
    events.record(session, bench.station_id, "inspection_started", operator=badge, lpn=lpn,
                  rma_id=unit.rma_id, at=now,
                  payload={"inspection_id": insp.id, "checklist": cl.key, "checklist_version": cl.version})
    return insp, unit, cl, info, state_of(session, lpn, insp.id), {
        "message": f"{cl.title} checklist, {len(cl.steps)} steps"}
