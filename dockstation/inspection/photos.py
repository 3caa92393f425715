"""Photos in the inspection: a photo for a step (or the unit), and a lead's waiver. Core, no Textual.

`add_photo` stores a processed photo (dockstation/photos: file first, fsynced; then its row and
its `photo_taken` event in one transaction) for the step that was current when the grader asked
for it, and — if that step was waiting for its photos and now has them — moves the inspection
on, grading the unit when CMD:ALLPASS waited only for this. A photo of a unit whose inspection
was finished or cancelled meanwhile is still stored: evidence is never thrown away.

`waive_photos` lets a lead let the current step go on without the photos it asks for: a
`PhotoWaiver` row and a `photo_waived` event (who asked, which lead, how many were missing).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dockstation import events, rows
from dockstation.config import Operator
from dockstation.inspection.checklist import Checklists
from dockstation.inspection.core import (
    InspectionError,
    InspectionView,
    _finish_all_pass,
    _load,
    _view,
    _who,
)
from dockstation.models import Inspection, PhotoWaiver, Unit
from dockstation.photos import store as files
from dockstation.photos.image import Processed
from dockstation.photos.rules import UNIT, next_open, short_need
from dockstation.receiving import Bench
from dockstation.store import Store
from dockstation.types import utcnow


@dataclass(frozen=True)
class PhotoResult:
    lpn: str
    sha256: str
    file: str  # relative to the home
    new: bool  # False: the unit had this very picture already (nothing written)
    message: str
    view: InspectionView | None = None  # the inspection after it, when it is still open


def _step_label(step: str) -> str:
    return f"“{step}”" if step else "the unit"


def add_photo(store: Store, bench: Bench, operator: Operator | None, lpn: str, processed: Processed, *,
              step: str = UNIT, inspection_id: int | None = None, camera: str = "",
              checklists: Checklists | None = None, home: Path | None = None) -> PhotoResult:
    """Store a photo of `lpn` for `step` of inspection `inspection_id` (or of the unit: anyone
    signed in may photograph a unit, e.g. the clerk a parcel that arrived damaged)."""
    if inspection_id is None and operator is not None:
        badge = operator.badge
    else:
        badge = _who(operator)
    home = home or files.home_of(store)
    with store.read() as session:
        if session.get(Unit, lpn) is None:
            raise InspectionError(f"{lpn}: no such unit on this bench")
        dup = files.find(session, lpn, processed.sha256)
    if dup is not None:
        return PhotoResult(lpn, dup.sha256, dup.file, False,
                           f"Same picture as the one taken at {dup.taken_at:%H:%M:%S}: kept once")
    now = utcnow()
    rel = files.file_name(lpn, step, processed.sha256, now)
    files.write_file(home, rel, processed.data)  # on disk before the commit that names it
    with store.write() as session:
        unit = session.get(Unit, lpn)
        assert unit is not None
        if (dup := files.find(session, lpn, processed.sha256)) is not None:  # (a race: keep the first)
            return PhotoResult(lpn, dup.sha256, dup.file, False, "Same picture as one already stored: kept once")
        insp = session.get(Inspection, inspection_id) if inspection_id is not None else None
        files.record(session, bench.station_id, lpn=lpn, rma_id=unit.rma_id, processed=processed, rel=rel,
                     step=step, inspection_id=insp.id if insp is not None else None, camera=camera,
                     badge=badge, at=now)
        if insp is None or insp.status != "open" or checklists is None:
            n = files.state_of(session, lpn, None).count(step)
            return PhotoResult(lpn, processed.sha256, rel, True, f"Photo {n} of {_step_label(step)} stored")
        insp, unit, cl, info, photos = _load(session, bench, insp.id, checklists)  # type: ignore[arg-type]
        index = cl.index_of(step) if step else None
        label = cl.steps[index].short if index is not None else ""
        message = f"Photo {photos.count(step)} of {_step_label(label)} stored"
        if index is not None and index == insp.step_index:
            answers = insp.answers or {}
            missing = photos.missing(cl.steps[index], answers.get(step))
            if missing:
                message += f" — {short_need(cl.steps[index], missing)} still to take"
            elif step in answers:
                insp.step_index = next_open(cl, answers, photos, index - 1)
                graded = _finish_all_pass(session, bench, badge, insp, unit, cl, None)
                rows.save(session, insp)
                if graded:
                    message += f" — {graded}"
                elif insp.step_index < len(cl.steps):
                    message += f" — on to “{cl.steps[insp.step_index].short}”"
                else:
                    message += " — confirm the grade (Enter / CMD:DONE)"
        return PhotoResult(lpn, processed.sha256, rel, True, message, _view(insp, cl, info, bench, photos, message=message))


def waive_photos(store: Store, bench: Bench, operator: Operator | None, inspection_id: int, lead: Operator,
                 checklists: Checklists) -> InspectionView:
    """A lead lets the current step go on without its missing photos (audited)."""
    badge = _who(operator)
    if not lead.can("lead"):
        raise InspectionError(f"{lead.name} is a {lead.role}: only a lead may waive photos")
    with store.write() as session:
        insp, unit, cl, info, photos = _load(session, bench, inspection_id, checklists)
        if insp.step_index >= len(cl.steps):
            raise InspectionError("No step waits for photos: confirm the grade")
        step = cl.steps[insp.step_index]
        answers = insp.answers or {}
        missing = photos.missing(step, answers.get(step.id))
        if not missing:
            raise InspectionError(f"“{step.short}” needs no photo now: nothing to waive")
        session.add(PhotoWaiver(inspection_id=insp.id, lpn=unit.lpn, step=step.id, needed=missing + photos.count(step.id),
                                had=photos.count(step.id), waived_by=lead.badge, asked_by=badge))
        events.record(session, bench.station_id, "photo_waived", operator=badge, lpn=unit.lpn, rma_id=unit.rma_id,
                      payload={"inspection_id": insp.id, "step": step.id, "needed": missing + photos.count(step.id),
                               "had": photos.count(step.id), "waived_by": lead.badge})
        session.flush()
        photos = files.state_of(session, unit.lpn, insp.id)
        message = f"{lead.name} waived {short_need(step, missing)}"
        if step.id in answers:
            insp.step_index = next_open(cl, answers, photos, insp.step_index - 1)
            graded = _finish_all_pass(session, bench, badge, insp, unit, cl, None)
            rows.save(session, insp)
            message += f" — {graded}" if graded else ""
        return _view(insp, cl, info, bench, photos, message=message)
