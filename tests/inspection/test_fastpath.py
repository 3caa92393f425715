"""The grader's fast path in the core: all pass in one transaction, values in any order, the
expected serial always verified, and a site's category map (dockstation/inspection/fastpath.py)."""

from __future__ import annotations

import pytest
from inspection_support import CATEGORIES, GTIN, IMEI, OTHER_GTIN, OTHER_IMEI, SERIAL
from sqlmodel import select

from dockstation import events
from dockstation import inspection as ins
from dockstation.config import ConfigError
from dockstation.models import Event, Inspection, Unit
from dockstation.store import Store


def value_of(step: ins.Step, category: str) -> ins.Scanned:
    """What a scanner gives for a scan step of a unit of `category` (its manifest values)."""
    if step.value == "gtin":
        return ins.Scanned("01" + "0" + GTIN, gtin="0" + GTIN)
    serial = CATEGORIES[category].get("expected_serial") or (IMEI if step.value == "imei" else SERIAL)
    return ins.Scanned(serial)


def kinds(store: Store, lpn: str) -> list[str]:
    with store.read() as s:
        return [e.kind for e in s.exec(select(Event).where(Event.lpn == lpn).order_by(Event.seq))]


@pytest.mark.parametrize("category", list(CATEGORIES))
def test_all_pass_waits_only_for_scanned_values_then_their_scan_grades(store, bench, grader, checklists, receive,
                                                                          category):
    lpn = receive(category)
    view = ins.open_inspection(store, bench, grader, lpn, checklists)
    view = ins.all_pass(store, bench, grader, view.inspection_id, checklists)
    left = [s for s in view.checklist.steps if s.id not in view.answers]
    assert left and all(s.kind == "scan" for s in left), [s.id for s in left]
    assert view.status == "open" and view.all_pass and view.step is left[0]
    assert "now scan the" in view.message
    for step in left:
        view = ins.answer_scan(store, bench, grader, view.inspection_id, value_of(step, category), checklists)
    assert view.status == "done" and view.grade == "A", view.message
    with store.read() as s:
        unit = s.get(Unit, lpn)
        answered = s.exec(select(Event).where(Event.lpn == lpn, Event.kind == "inspection_answered")).all()
    assert unit.state == "graded" and unit.grade == "A"
    assert len(answered) == len(view.checklist.steps)
    assert sum(1 for e in answered if e.payload.get("all_pass")) == len(view.checklist.steps) - len(left)
    assert kinds(store, lpn)[-1] == "unit_graded" and "inspection_all_pass" in kinds(store, lpn)


def test_all_pass_is_one_transaction(store, bench, grader, checklists, receive, monkeypatch):
    lpn = receive("toys")
    view = ins.open_inspection(store, bench, grader, lpn, checklists)
    real, calls = events.record, []

    def failing(*args, **kwargs):
        calls.append(args[2])
        if len(calls) == 3:
            raise RuntimeError("power cut")
        return real(*args, **kwargs)

    monkeypatch.setattr(events, "record", failing)
    with pytest.raises(RuntimeError):
        ins.all_pass(store, bench, grader, view.inspection_id, checklists)
    monkeypatch.setattr(events, "record", real)
    with store.read() as s:
        insp = s.get(Inspection, view.inspection_id)
        assert insp.answers == {} and not insp.all_pass  # none of the answers before the failure stayed
    assert kinds(store, lpn) == ["unit_received", "inspection_started"]


def test_all_pass_keeps_earlier_answers_and_grades_at_once_when_no_value_is_left(store, bench, grader, checklists,
                                                                                   receive):
    lpn = receive("phones")
    view = ins.open_inspection(store, bench, grader, lpn, checklists)
    view = ins.answer(store, bench, grader, view.inspection_id, ins.Response("pass"), checklists)
    view = ins.answer_scan(store, bench, grader, view.inspection_id, ins.Scanned(IMEI), checklists)
    view = ins.answer(store, bench, grader, view.inspection_id, ins.Response("fail"), checklists)  # powers on
    view = ins.all_pass(store, bench, grader, view.inspection_id, checklists)
    assert view.status == "done" and view.grade == "F"  # the suggested grade, capped by the failure
    assert view.answers["powers_on"]["result"] == "fail" and view.answers["battery_health"]["result"] == "na"
    assert view.message.startswith("All pass: ") and "graded F" in view.message


def test_a_value_that_does_not_match_after_all_pass_stops_at_the_grade(store, bench, grader, checklists, receive):
    lpn = receive("phones")
    view = ins.open_inspection(store, bench, grader, lpn, checklists)
    view = ins.all_pass(store, bench, grader, view.inspection_id, checklists)
    view = ins.answer_scan(store, bench, grader, view.inspection_id, ins.Scanned(OTHER_IMEI), checklists)
    assert view.status == "open" and view.at_grade and view.flags == ("serial_mismatch",)
    assert view.suggested_grade == "D" and not view.ok
    view = ins.finish(store, bench, grader, view.inspection_id, checklists)
    assert view.grade == "D"


def test_all_pass_after_a_failed_value_stops_at_the_grade(store, bench, grader, checklists, receive):
    lpn = receive("phones")
    view = ins.open_inspection(store, bench, grader, lpn, checklists)
    view = ins.answer(store, bench, grader, view.inspection_id, ins.Response("pass"), checklists)
    view = ins.answer_scan(store, bench, grader, view.inspection_id, ins.Scanned(OTHER_IMEI), checklists)
    view = ins.all_pass(store, bench, grader, view.inspection_id, checklists)
    assert view.status == "open" and view.at_grade and "a scanned value failed" in view.message


def test_a_required_number_is_not_skipped(home, store, bench, grader, receive):
    (home / "config" / "categories").mkdir(parents=True)
    (home / "config" / "categories" / "scales.toml").write_text('''
version = "1"
title = "Scales"
[[steps]]
id = "works"
prompt = "Works?"
kind = "check"
[[steps]]
id = "weight"
prompt = "Weight of the test mass?"
kind = "number"
unit = "kg"
min = 0
max = 50
pass_min = 0.99
pass_max = 1.01
on_fail = { grade_cap = "C" }
''')
    checklists = ins.load_checklists(home, bench.codes)
    lpn = receive("scales", gtin=None)
    view = ins.open_inspection(store, bench, grader, lpn, checklists)
    view = ins.all_pass(store, bench, grader, view.inspection_id, checklists)
    assert view.step.id == "weight" and view.message == "All pass — now give the weight (kg) to finish"
    view = ins.answer(store, bench, grader, view.inspection_id, ins.Response("value", "1.00"), checklists)
    assert view.status == "done" and view.grade == "A"


# -- scanned values, in any order -----------------------------------------------------------------
def test_the_imei_answers_its_step_before_the_checklist_gets_there(store, bench, grader, checklists, receive):
    lpn = receive("phones")
    view = ins.open_inspection(store, bench, grader, lpn, checklists)
    view = ins.answer_scan(store, bench, grader, view.inspection_id, ins.Scanned(IMEI), checklists)
    assert view.answers["imei"]["result"] == "pass" and view.step.id == "item_present"
    assert "(out of order)" in view.message
    view = ins.answer(store, bench, grader, view.inspection_id, ins.Response("pass"), checklists)
    assert view.step.id == "powers_on"  # the IMEI step, answered already, is passed over


def test_a_product_barcode_answers_the_gtin_step_wherever_the_checklist_stands(store, bench, grader, checklists,
                                                                               receive):
    lpn = receive("headphones")
    view = ins.open_inspection(store, bench, grader, lpn, checklists)
    view = ins.answer_scan(store, bench, grader, view.inspection_id, ins.Scanned("0105901234123457",
                                                                                 gtin="05901234123457"), checklists)
    assert view.answers["gtin"]["result"] == "fail" and view.flags == ("wrong_item",)  # another product
    assert view.step.id == "item_present"


def test_values_of_another_kind_are_not_taken_for_this_unit(store, bench, grader, checklists, receive):
    lpn = receive("laptops")
    view = ins.open_inspection(store, bench, grader, lpn, checklists)
    with pytest.raises(ins.InspectionError, match="is not this unit's Serial number"):
        ins.answer_scan(store, bench, grader, view.inspection_id, ins.Scanned("WRONG123", loose=True), checklists)
    view = ins.answer(store, bench, grader, view.inspection_id, ins.Response("pass"), checklists)
    assert view.step.id == "serial"
    with pytest.raises(ins.InspectionError, match="product barcode"):  # no GTIN step on laptops
        ins.answer_scan(store, bench, grader, view.inspection_id, ins.Scanned("01" + "0" + GTIN, gtin="0" + GTIN),
                        checklists)
    assert ins.answer_scan(store, bench, grader, view.inspection_id, ins.Scanned("RMA-X"), checklists,
                           strict=True) is None


@pytest.mark.parametrize(("category", "scanned", "fits"), [
    ("phones", ins.Scanned(IMEI), True),  # the manifest's IMEI (it classifies as a tracking number)
    ("phones", ins.Scanned(OTHER_IMEI), False),  # a valid IMEI, or a 15-digit FedEx parcel: not taken
    ("phones", ins.Scanned("01" + "0" + GTIN, gtin="0" + GTIN), False),  # phones have no GTIN step
    ("headphones", ins.Scanned("01" + "0" + OTHER_GTIN, gtin="0" + OTHER_GTIN), True),
    ("laptops", ins.Scanned(SERIAL, loose=True), True),
    ("laptops", ins.Scanned("C02OTHER", loose=True), False),
    ("home", ins.Scanned("C02OTHER", loose=True), False),  # no serial expected, no serial step
])
def test_a_value_fits_the_unit_in_hand_only_by_the_strict_rule(store, bench, checklists, receive, category, scanned,
                                                               fits):
    lpn = receive(category)
    assert ins.scan_fits(store, bench, lpn, checklists, scanned) is fits


def test_a_serial_with_nothing_to_compare_fits_a_serial_step(store, bench, checklists, receive):
    lpn = receive("laptops", expected_serial=None)
    assert ins.scan_fits(store, bench, lpn, checklists, ins.Scanned("ANY123", loose=True))
    assert not ins.scan_fits(store, bench, lpn, checklists, ins.Scanned("ANY123"))  # a known kind of code


# -- an expected serial is always verified ----------------------------------------------------------
def test_an_expected_serial_adds_a_serial_step_to_a_checklist_without_one(store, bench, grader, checklists, receive):
    lpn = receive("electronics", expected_serial="SN-12345", gtin="0" + GTIN)  # falls to generic
    view = ins.open_inspection(store, bench, grader, lpn, checklists)
    ids = [s.id for s in view.checklist.steps]
    assert view.checklist.key == "generic" and view.checklist.version.endswith("+serial")
    assert ids[:3] == ["item_present", "serial", "gtin"]
    view = ins.all_pass(store, bench, grader, view.inspection_id, checklists)
    assert view.step.id == "serial" and "Serial number and the Product (GTIN)" in view.message
    with pytest.raises(ins.InspectionRefused, match="needs an answer"):
        ins.answer(store, bench, grader, view.inspection_id, ins.Response("na"), checklists)
    view = ins.answer_scan(store, bench, grader, view.inspection_id, ins.Scanned("SN-99999", loose=True), checklists)
    assert view.flags == ("serial_mismatch",) and view.answers["serial"]["expected"] == "SN-12345"
    view = ins.answer_scan(store, bench, grader, view.inspection_id, ins.Scanned(GTIN, gtin="0" + GTIN), checklists)
    assert view.at_grade and view.suggested_grade == "D"  # the mismatch stops at the grade
    again = ins.open_inspection(store, bench, grader, lpn, checklists)
    assert again.resumed and again.message.startswith("Resumed")  # same effective version
    view = ins.finish(store, bench, grader, view.inspection_id, checklists)
    with store.read() as s:
        unit = s.get(Unit, lpn)
        graded = s.exec(select(Event).where(Event.lpn == lpn, Event.kind == "unit_graded")).one()
    assert "serial_mismatch" in unit.risk_flags and graded.payload["checklist_version"].endswith("+serial")


def test_no_serial_step_is_added_where_the_checklist_has_one_or_nothing_is_expected(checklists):
    assert checklists.for_unit("laptops", "X").version == checklists.get("laptops").version
    assert checklists.for_unit("phones", "X").version == checklists.get("phones").version
    assert checklists.for_unit("electronics", None) is checklists.get("generic")


# -- the site's category map ----------------------------------------------------------------------
def test_a_site_maps_its_own_category_names_without_copying_files(home, bench):
    (home / "config" / "category_map.toml").write_text('[categories]\nElectronics = "laptops"\n"Skin Care" = "health_beauty"\n')
    checklists = ins.load_checklists(home, bench.codes)
    assert checklists.for_category("electronics").key == "laptops"
    assert checklists.for_category("ELECTRONICS").key == "laptops"
    assert checklists.for_category("Skin-care").key == "health_beauty"
    assert checklists.for_category("phones").key == "phones"


@pytest.mark.parametrize(("body", "key", "reason"), [
    ('[categories]\nelectronics = "laptop"\n', "categories.electronics", "no checklist 'laptop'"),
    ('[categories]\nphones = "generic"\n', "categories.phones", "is the checklist phones.toml itself"),
    ('[categories]\nelectronics = 3\n', "categories.electronics", "string"),
    ('[categories]\n"--" = "generic"\n', "categories.--", "needs a letter or a digit"),
    ('cats = {}\n', "cats", "Extra inputs"),
])
def test_a_bad_category_map_is_refused_with_file_key_and_reason(home, bench, body, key, reason):
    path = home / "config" / "category_map.toml"
    path.write_text(body)
    with pytest.raises(ConfigError) as err:
        ins.load_checklists(home, bench.codes)
    assert err.value.file == str(path) and err.value.key == key and reason in err.value.reason


# -- the store remembers CMD:ALLPASS from an older release on -------------------------------------
def test_a_v4_database_gains_inspection_all_pass(home, store, bench, grader, checklists, receive):
    from store_helpers import rewind_schema

    lpn = receive("home")
    view = ins.open_inspection(store, bench, grader, lpn, checklists)
    path = store.path
    store.close()
    rewind_schema(path, 4)
    again = Store(path)
    try:
        assert again.schema_version() >= 5
        with again.read() as s:
            assert s.get(Inspection, view.inspection_id).all_pass is False
        view = ins.all_pass(again, bench, grader, view.inspection_id, checklists)
        assert view.all_pass
    finally:
        again.close()


def test_after_all_pass_a_grade_asked_too_early_counts_only_the_values_still_waited_for(
        store, bench, grader, checklists, receive):
    """CMD:DONE on the inspect screen before the last value: the refusal counts the steps without
    an answer (1: the serial), not every step after the current one (found at the demo bench)."""
    lpn = receive("laptops")
    view = ins.open_inspection(store, bench, grader, lpn, checklists)
    view = ins.all_pass(store, bench, grader, view.inspection_id, checklists)
    assert len(view.checklist.steps) - view.step_index > 1  # the old count would say more than one
    with pytest.raises(ins.InspectionError, match=r"^1 step left before the grade$"):
        ins.finish(store, bench, grader, view.inspection_id, checklists)
    assert ins.steps_left(view.checklist.steps, view.step_index, view.answers) == "1 step left before the grade"
