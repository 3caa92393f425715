"""A step that needs a photo is not finished until it has one (or a lead waives it); each photo's
SHA-256 is in its event; the file is under the home before the row that names it. Core only."""

from __future__ import annotations

import hashlib

import pytest
from photo_support import picture, receive_unit
from sqlmodel import select

from dockstation import inspection as ins
from dockstation.inspection import InspectionError, Response
from dockstation.inspection.photos import add_photo, waive_photos
from dockstation.models import Event, Photo, PhotoWaiver, Unit
from dockstation.photos.image import process


def events_of(store, lpn, kind=None):
    with store.read() as s:
        rows = s.exec(select(Event).where(Event.lpn == lpn).order_by(Event.seq)).all()
    return [e for e in rows if kind is None or e.kind == kind]


def snap(seed=0):
    return process(picture(seed=seed))


def take(store, bench, op, view, checklists, seed=0, step=None):
    step = view.step.id if step is None else step
    return add_photo(store, bench, op, view.lpn, snap(seed), step=step, inspection_id=view.inspection_id,
                     camera="desk", checklists=checklists)


def test_a_step_that_needs_a_photo_waits_for_it(store, bench, checklists, grader, home):
    lpn = receive_unit(store, bench)
    view = ins.open_inspection(store, bench, grader, lpn, checklists)
    assert view.step.id == "label" and view.photos_missing == 1
    view = ins.answer(store, bench, grader, view.inspection_id, Response("pass"), checklists)
    assert view.step.id == "label" and view.answers["label"]["result"] == "pass"  # answered, not finished
    assert "1 photo of “Label”" in view.message and view.photos_missing == 1
    with pytest.raises(InspectionError, match="“Label” still needs 1 photo: p or CMD:PHOTO"):
        ins.finish(store, bench, grader, view.inspection_id, checklists)
    result = take(store, bench, grader, view, checklists)
    assert result.new and result.view.step.id == "screen" and "on to “Screen”" in result.message
    assert result.view.photos.count("label") == 1
    # The photo is on disk, where its row says, with the hash its event carries.
    with store.read() as s:
        photo = s.exec(select(Photo).where(Photo.lpn == lpn)).one()
    data = (home / photo.file).read_bytes()
    assert photo.file.startswith(f"photos/{lpn}/") and photo.file.endswith(".jpg")
    assert hashlib.sha256(data).hexdigest() == photo.sha256 == result.sha256
    [ev] = events_of(store, lpn, "photo_taken")
    assert ev.payload["sha256"] == photo.sha256 and ev.payload["step"] == "label"
    assert ev.payload["inspection_id"] == view.inspection_id and ev.operator == "2001" and ev.seq == photo.event_seq
    assert ev.payload["bytes"] == len(data) and ev.payload["file"] == photo.file


def test_a_photo_taken_before_the_answer_counts(store, bench, checklists, grader):
    lpn = receive_unit(store, bench)
    view = ins.open_inspection(store, bench, grader, lpn, checklists)
    result = take(store, bench, grader, view, checklists)
    assert result.view.step.id == "label"  # the photo alone does not answer the step
    view = ins.answer(store, bench, grader, view.inspection_id, Response("pass"), checklists)
    assert view.step.id == "screen"


def test_a_fail_branch_needs_its_photo_and_a_pass_does_not(store, bench, checklists, grader):
    lpn = receive_unit(store, bench)
    view = ins.open_inspection(store, bench, grader, lpn, checklists)
    take(store, bench, grader, view, checklists)
    view = ins.answer(store, bench, grader, view.inspection_id, Response("pass"), checklists)
    assert view.step.id == "screen" and view.photos_missing == 0  # a pass would need none
    view = ins.answer(store, bench, grader, view.inspection_id, Response("fail"), checklists)
    assert view.step.id == "screen" and view.photos_missing == 1 and view.grade_cap == "C"
    view = ins.answer(store, bench, grader, view.inspection_id, Response("pass"), checklists)  # changed mind
    assert view.step.id == "cosmetic"
    view = ins.answer(store, bench, grader, view.inspection_id, Response("option", "damaged"), checklists)
    assert view.step.id == "cosmetic" and view.photos_missing == 2
    result = take(store, bench, grader, view, checklists, seed=1)
    assert result.view.step.id == "cosmetic" and "1 photo of “Cosmetic” still to take" in result.message
    result = take(store, bench, grader, view, checklists, seed=2)
    assert result.view.step.id == "works"


def test_the_same_picture_twice_is_stored_once(store, bench, checklists, grader, home):
    lpn = receive_unit(store, bench)
    view = ins.open_inspection(store, bench, grader, lpn, checklists)
    first = take(store, bench, grader, view, checklists)
    again = take(store, bench, grader, view, checklists)
    assert first.new and not again.new and again.file == first.file
    assert len(events_of(store, lpn, "photo_taken")) == 1
    assert len(list((home / "photos" / lpn).glob("*.jpg"))) == 1


def test_a_lead_waives_the_missing_photo_and_it_is_audited(store, bench, checklists, grader, lead):
    lpn = receive_unit(store, bench)
    view = ins.open_inspection(store, bench, grader, lpn, checklists)
    view = ins.answer(store, bench, grader, view.inspection_id, Response("pass"), checklists)
    with pytest.raises(InspectionError, match="only a lead"):
        waive_photos(store, bench, grader, view.inspection_id, grader, checklists)
    view = waive_photos(store, bench, grader, view.inspection_id, lead, checklists)
    assert view.step.id == "screen" and "Lee Lead waived 1 photo" in view.message
    [ev] = events_of(store, lpn, "photo_waived")
    assert ev.operator == "2001" and ev.payload == {"inspection_id": view.inspection_id, "step": "label",
                                                    "needed": 1, "had": 0, "waived_by": "9001"}
    with store.read() as s:
        assert s.exec(select(PhotoWaiver)).one().waived_by == "9001"
    with pytest.raises(InspectionError, match="needs no photo"):
        waive_photos(store, bench, grader, view.inspection_id, lead, checklists)


def test_all_pass_stops_at_a_step_that_needs_a_photo_and_says_so(store, bench, checklists, grader):
    lpn = receive_unit(store, bench)
    view = ins.open_inspection(store, bench, grader, lpn, checklists)
    view = ins.all_pass(store, bench, grader, view.inspection_id, checklists)
    assert view.status == "open" and view.all_pass and view.step.id == "label"
    assert set(view.answers) == {"label", "screen", "cosmetic", "works"}
    assert view.message == "All pass — now take 1 photo of “Label” to finish"
    [ev] = events_of(store, lpn, "inspection_all_pass")
    assert ev.payload["waiting"] == ["label"]
    result = take(store, bench, grader, view, checklists)
    assert f"{lpn} graded A" in result.message and result.view.status == "done"
    with store.read() as s:
        assert s.get(Unit, lpn).state == "graded"


def test_all_pass_waits_for_a_value_and_a_photo(store, bench, checklists, grader, home):
    from photo_support import write_checklist

    write_checklist(home, "serialised", '''
version = "t-1"
title = "Serialised"
[[steps]]
id = "ok"
prompt = "OK?"
kind = "check"
[[steps]]
id = "serial"
prompt = "Scan the serial"
kind = "scan"
value = "serial"
photos = 1
''')
    checklists = ins.load_checklists(home, bench.codes)
    lpn = receive_unit(store, bench, "serialised")
    view = ins.open_inspection(store, bench, grader, lpn, checklists)
    view = ins.all_pass(store, bench, grader, view.inspection_id, checklists)
    assert view.message == "All pass — now scan the Serial number (+1 photo) to finish"
    view = ins.answer_scan(store, bench, grader, view.inspection_id, ins.Scanned("SN-123", loose=True), checklists)
    assert view.status == "open" and view.step.id == "serial" and "take 1 photo of “Serial”" in view.message
    result = take(store, bench, grader, view, checklists)
    assert result.view.status == "done"


def test_a_photo_for_a_finished_inspection_is_still_kept(store, bench, checklists, grader):
    lpn = receive_unit(store, bench)
    view = ins.open_inspection(store, bench, grader, lpn, checklists)
    ins.cancel(store, bench, grader, view.inspection_id, checklists)
    result = take(store, bench, grader, view, checklists)
    assert result.new and result.view is None and "stored" in result.message
    assert len(events_of(store, lpn, "photo_taken")) == 1


def test_checklist_photo_settings_are_validated(home, bench):
    from photo_support import write_checklist

    from dockstation.config import ConfigError

    write_checklist(home, "bad", '''
version = "1"
title = "Bad"
[[steps]]
id = "c"
prompt = "C?"
kind = "choice"
on_fail = { photos = 1 }
options = [{ key = "a", label = "A" }, { key = "b", label = "B" }]
''')
    with pytest.raises(ConfigError, match="photos on its options"):
        ins.load_checklists(home, bench.codes)
    write_checklist(home, "bad", 'version = "1"\ntitle = "Bad"\n[[steps]]\nid = "c"\nprompt = "C?"\nkind = "check"\nphotos = -1\n')
    with pytest.raises(ConfigError, match="steps.0.photos"):
        ins.load_checklists(home, bench.codes)


def test_a_bench_database_from_before_photos_gets_the_photo_tables(home, bench):
    from photo_support import receive_unit as receive
    from store_helpers import rewind_schema

    from dockstation.store import LATEST, Store

    path = home / "dockstation.sqlite3"
    store = Store(path)
    lpn = receive(store, bench)
    store.close()
    rewind_schema(path, 6)  # as the release before photos left it: no photo tables
    store = Store(path)
    try:
        assert store.schema_version() == LATEST >= 11
        op = bench.operators.by_badge("1001")
        result = add_photo(store, bench, op, lpn, snap(), camera="desk")
        assert result.new and len(events_of(store, lpn, "photo_taken")) == 1
    finally:
        store.close()
