"""Inspection use cases without Textual: walks, scanned values, flags and caps, events."""

from __future__ import annotations

import pytest
from inspection_support import BAD_IMEI, CATEGORIES, EXPECTED_CHECKLIST, GTIN, IMEI, OTHER_GTIN, OTHER_IMEI, SERIAL, passing
from sqlmodel import select

from dockstation import inspection as ins
from dockstation.inspection import InspectionError, InspectionRefused, Response
from dockstation.models import Event, Inspection, Unit


def events_of(store, lpn):
    with store.read() as s:
        return list(s.exec(select(Event).where(Event.lpn == lpn).order_by(Event.seq)))


def walk(store, bench, op, checklists, lpn, category, overrides=None):
    """Answer every step (passing unless `overrides[step_id]` says otherwise)."""
    view = ins.open_inspection(store, bench, op, lpn, checklists)
    while view.step is not None:
        response = (overrides or {}).get(view.step.id) or passing(view.step, category)
        view = ins.answer(store, bench, op, view.inspection_id, response, checklists, expect_step=view.step.id)
    return view


@pytest.mark.parametrize("category", list(CATEGORIES))
def test_each_default_checklist_walks_to_grade_a_when_everything_passes(store, bench, checklists, grader,
                                                                        receive, category):
    lpn = receive(category)
    view = walk(store, bench, grader, checklists, lpn, category)
    assert view.checklist.key == EXPECTED_CHECKLIST[category]
    assert view.at_grade and view.suggested_grade == "A" and view.flags == () and view.grade_cap is None
    done = ins.finish(store, bench, grader, view.inspection_id, checklists)
    assert done.status == "done" and done.grade == "A"
    with store.read() as s:
        unit = s.get(Unit, lpn)
        assert (unit.state, unit.grade, unit.inspected_by) == ("graded", "A", "2001")
        assert unit.inspected_at is not None
    kinds = [e.kind for e in events_of(store, lpn)]
    n = len(view.checklist.steps)
    assert kinds == ["unit_received", "inspection_started", *["inspection_answered"] * n, "unit_graded"]
    graded = events_of(store, lpn)[-1].payload
    assert graded["grade"] == "A" and graded["changed"] is False and graded["category"] == category
    result = ins.inspection_result(store.read().__enter__(), lpn)
    assert result.grade == "A" and set(result.answers) == {s.id for s in view.checklist.steps}


def test_unknown_category_and_aliases_pick_their_checklist(checklists):
    assert checklists.for_category("garden tools").key == "generic"
    assert checklists.for_category("Smartphones").key == "phones"
    assert checklists.for_category("Health & Beauty").key == "health_beauty"  # normalised to lower_snake
    assert checklists.for_category("").key == "generic"
    assert checklists.for_category("Health_Beauty").key == "health_beauty"


# -- IMEI, serial, GTIN -----------------------------------------------------------------------------
def _at(store, bench, op, checklists, lpn, step_id, category="phones"):
    view = ins.open_inspection(store, bench, op, lpn, checklists)
    while view.step.id != step_id:
        view = ins.answer(store, bench, op, view.inspection_id, passing(view.step, category), checklists)
    return view


def test_imei_that_matches_passes(store, bench, checklists, grader, receive):
    lpn = receive("phones")
    view = _at(store, bench, grader, checklists, lpn, "imei")
    view = ins.answer(store, bench, grader, view.inspection_id, Response("value", "35-693803-564380-9"), checklists)
    assert view.answers["imei"]["result"] == "pass" and view.answers["imei"]["value"] == IMEI
    assert view.flags == () and view.step.id == "powers_on"


def test_imei_mismatch_flags_serial_mismatch_caps_and_continues(store, bench, checklists, grader, receive):
    lpn = receive("phones")
    view = _at(store, bench, grader, checklists, lpn, "imei")
    view = ins.answer(store, bench, grader, view.inspection_id, Response("value", OTHER_IMEI), checklists)
    assert view.answers["imei"]["result"] == "fail" and view.answers["imei"]["expected"] == IMEI
    assert view.flags == ("serial_mismatch",) and view.grade_cap == "D" and view.suggested_grade == "D"
    assert view.step.id == "powers_on"  # the inspection goes on
    assert "does not match" in view.message
    answered = events_of(store, lpn)[-1]
    assert answered.kind == "inspection_answered"
    assert answered.payload["flags"] == ["serial_mismatch"] and answered.payload["grade_cap"] == "D"


@pytest.mark.parametrize("raw, why", [(BAD_IMEI, "check digit is wrong"), ("35693803564380", "without its check digit"),
                                      ("ABCDEF", "Not an IMEI"), ("12345", "Not an IMEI")])
def test_invalid_imei_is_refused_and_the_step_stays(store, bench, checklists, grader, receive, raw, why):
    lpn = receive("phones")
    view = _at(store, bench, grader, checklists, lpn, "imei")
    before = len(events_of(store, lpn))
    with pytest.raises(InspectionRefused, match=why):
        ins.answer(store, bench, grader, view.inspection_id, Response("value", raw), checklists)
    assert len(events_of(store, lpn)) == before  # nothing written
    again = ins.open_inspection(store, bench, grader, lpn, checklists)
    assert again.step.id == "imei" and "imei" not in again.answers


def test_imei_not_found_on_the_unit_raises_the_same_flag(store, bench, checklists, grader, receive):
    lpn = receive("phones")
    view = _at(store, bench, grader, checklists, lpn, "imei")
    view = ins.answer(store, bench, grader, view.inspection_id, Response("fail"), checklists)
    assert view.answers["imei"]["value"] == "missing" and view.flags == ("serial_mismatch",)


def test_imei_without_expected_serial_is_recorded_unverified(store, bench, checklists, grader, receive):
    lpn = receive("phones", expected_serial=None)
    view = _at(store, bench, grader, checklists, lpn, "imei")
    view = ins.answer(store, bench, grader, view.inspection_id, Response("value", OTHER_IMEI), checklists)
    assert view.answers["imei"]["result"] == "info" and view.flags == () and view.grade_cap is None


def test_serial_compares_trimmed_and_case_insensitive_and_takes_a_gs1_serial(store, bench, checklists, grader,
                                                                              receive):
    lpn = receive("laptops")
    view = _at(store, bench, grader, checklists, lpn, "serial", "laptops")
    view = ins.answer(store, bench, grader, view.inspection_id,
                      Response("value", "]C1...", gtin=GTIN, serial=f"  {SERIAL.lower()} "), checklists)
    assert view.answers["serial"]["result"] == "pass"
    lpn2 = receive("laptops")
    view = _at(store, bench, grader, checklists, lpn2, "serial", "laptops")
    with pytest.raises(InspectionRefused, match="GTIN"):  # a product barcode is not the serial
        ins.answer(store, bench, grader, view.inspection_id, Response("value", "", gtin=GTIN), checklists)
    view = ins.answer(store, bench, grader, view.inspection_id, Response("value", "C02XK1ABJGH6"), checklists)
    assert view.flags == ("serial_mismatch",) and view.grade_cap == "D"


def test_gtin_is_compared_as_fourteen_digits_and_a_mismatch_is_wrong_item(store, bench, checklists, grader,
                                                                          receive):
    lpn = receive("headphones")  # the manifest has the GTIN-14 0+GTIN; the box shows the GTIN-13
    view = _at(store, bench, grader, checklists, lpn, "gtin", "headphones")
    view = ins.answer(store, bench, grader, view.inspection_id, Response("value", GTIN, gtin=GTIN), checklists)
    assert view.answers["gtin"]["result"] == "pass"
    lpn2 = receive("headphones")
    view = _at(store, bench, grader, checklists, lpn2, "gtin", "headphones")
    with pytest.raises(InspectionRefused, match="check digit"):
        ins.answer(store, bench, grader, view.inspection_id, Response("value", "4006381333932"), checklists)
    view = ins.answer(store, bench, grader, view.inspection_id, Response("value", OTHER_GTIN), checklists)
    assert view.flags == ("wrong_item",) and view.grade_cap == "D"


# -- each failure's flag and cap --------------------------------------------------------------------
def _failures(checklists):
    """Every answer of every default checklist that implies something: (checklist, step, response, impact)."""
    out = []
    for key, cl in sorted(checklists.by_key.items()):
        for step in cl.steps:
            if step.kind == "choice":
                out += [(key, step.id, Response("option", o.key), o.impact) for o in step.options if not o.impact.empty]
            elif step.kind == "number":
                out.append((key, step.id, Response("value", str(int(step.pass_min) - 1)), step.on_fail))
            elif step.kind == "scan":
                other = OTHER_IMEI if step.value == "imei" else OTHER_GTIN if step.value == "gtin" else "NOT-IT"
                out.append((key, step.id, Response("value", other, gtin=other if step.value == "gtin" else None),
                            step.on_fail))
            else:
                out.append((key, step.id, Response("fail"), step.on_fail))
    return out


def test_every_default_failure_raises_its_flag_and_cap(store, bench, checklists, grader, receive):
    category_of = {v: k for k, v in EXPECTED_CHECKLIST.items()}
    cases = _failures(checklists)
    assert len(cases) > 50
    for key, step_id, response, impact in cases:
        category = category_of[key]
        lpn = receive(category)
        view = walk(store, bench, grader, checklists, lpn, category, {step_id: response})
        answer = view.answers[step_id]
        assert tuple(answer["flags"]) == tuple(impact.flags), (key, step_id)
        assert answer["grade_cap"] == impact.grade_cap, (key, step_id)
        assert view.flags == tuple(impact.flags) and view.grade_cap == impact.grade_cap, (key, step_id)
        assert view.suggested_grade == (impact.grade_cap or "A"), (key, step_id)
        done = ins.finish(store, bench, grader, view.inspection_id, checklists)
        with store.read() as s:
            unit = s.get(Unit, lpn)
            assert unit.grade == done.grade == view.suggested_grade
            assert all(f in unit.risk_flags for f in impact.flags)


@pytest.mark.parametrize("key, step_id, flag, cap", [
    ("phones", "imei", "serial_mismatch", "D"), ("laptops", "serial", "serial_mismatch", "D"),
    ("headphones", "gtin", "wrong_item", "D"), ("footwear", "pair", "wrong_item", "D"),
    ("generic", "item_present", "empty_box", "F"), ("phones", "account_lock", "activation_locked", "D"),
    ("health_beauty", "hygiene_seal", "hygiene_seal_broken", "F"), ("toys", "parts", "missing_accessories", "C"),
    ("toys", "safety", "safety_risk", "F"), ("home", "parts", "missing_accessories", "C"),
])
def test_the_documented_flags_and_caps_of_the_defaults(checklists, key, step_id, flag, cap):
    step = checklists.get(key).steps[checklists.get(key).index_of(step_id)]
    assert flag in step.on_fail.flags and step.on_fail.grade_cap == cap


def test_empty_box_stops_the_checklist_and_goes_to_grade_f(store, bench, checklists, grader, receive):
    lpn = receive("phones")
    view = ins.open_inspection(store, bench, grader, lpn, checklists)
    view = ins.answer(store, bench, grader, view.inspection_id, Response("fail"), checklists)
    assert view.at_grade and view.suggested_grade == "F" and view.flags == ("empty_box",)
    # Going back and passing it walks the rest as usual, and the cap goes with the answer.
    view = ins.step_back(store, bench, grader, view.inspection_id, checklists)
    assert view.step.id == "item_present"
    view = ins.answer(store, bench, grader, view.inspection_id, Response("pass"), checklists)
    assert view.step.id == "imei" and view.flags == () and view.suggested_grade == "A"


def test_the_lowest_cap_wins_and_a_changed_answer_uncaps(store, bench, checklists, grader, receive):
    lpn = receive("phones")
    view = _at(store, bench, grader, checklists, lpn, "screen")
    view = ins.answer(store, bench, grader, view.inspection_id, Response("fail"), checklists)  # cap C
    assert view.suggested_grade == "C"
    view = ins.answer(store, bench, grader, view.inspection_id, Response("option", "damaged"), checklists)  # cap D
    assert view.suggested_grade == "D" and view.grade_cap == "D"
    view = ins.answer(store, bench, grader, view.inspection_id, Response("value", "90"), checklists)  # battery
    assert view.suggested_grade == "D" and view.step.id == "packaging"
    view = ins.step_back(store, bench, grader, view.inspection_id, checklists)
    view = ins.step_back(store, bench, grader, view.inspection_id, checklists)
    assert view.step.id == "cosmetic"
    view = ins.answer(store, bench, grader, view.inspection_id, Response("option", "2"), checklists)  # light wear: B
    assert view.suggested_grade == "C" and view.step.id == "packaging"  # battery already answered: skipped


def test_choice_and_number_answers(store, bench, checklists, grader, receive):
    lpn = receive("phones")
    view = _at(store, bench, grader, checklists, lpn, "battery_health")
    for bad in ("abc", "101", "-1"):
        with pytest.raises(InspectionRefused):
            ins.answer(store, bench, grader, view.inspection_id, Response("value", bad), checklists)
    with pytest.raises(InspectionRefused, match="Type the number"):
        ins.answer(store, bench, grader, view.inspection_id, Response("pass"), checklists)
    view = ins.answer(store, bench, grader, view.inspection_id, Response("value", "79,5"), checklists)
    assert view.answers["battery_health"]["label"] == "79.5%" and view.suggested_grade == "C"
    with pytest.raises(InspectionRefused, match="Pick one"):
        ins.answer(store, bench, grader, view.inspection_id, Response("option", "9"), checklists)
    view = ins.answer(store, bench, grader, view.inspection_id, Response("na"), checklists)  # CMD:NA: no packaging
    assert view.answers["packaging"]["value"] == "none" and view.at_grade


def test_required_step_refuses_na(store, bench, checklists, grader, receive):
    lpn = receive("phones")
    view = ins.open_inspection(store, bench, grader, lpn, checklists)
    with pytest.raises(InspectionRefused, match="n.a. is not allowed"):
        ins.answer(store, bench, grader, view.inspection_id, Response("na"), checklists)


# -- grading, cancel, notes, roles -----------------------------------------------------------------
def test_a_changed_grade_is_recorded(store, bench, checklists, grader, receive):
    lpn = receive("toys")
    view = walk(store, bench, grader, checklists, lpn, "toys")
    with pytest.raises(InspectionError, match="No grade"):
        ins.finish(store, bench, grader, view.inspection_id, checklists, grade="Z")
    ins.finish(store, bench, grader, view.inspection_id, checklists, grade="C")
    ev = events_of(store, lpn)[-1]
    assert ev.kind == "unit_graded"
    assert ev.payload["grade"] == "C" and ev.payload["suggested_grade"] == "A" and ev.payload["changed"] is True
    with store.read() as s:
        assert ins.inspection_result(s, lpn).changed is True


def test_finish_needs_every_step(store, bench, checklists, grader, receive):
    lpn = receive("toys")
    view = ins.open_inspection(store, bench, grader, lpn, checklists)
    with pytest.raises(InspectionError, match="6 steps left"):
        ins.finish(store, bench, grader, view.inspection_id, checklists)


def test_cancel_puts_the_unit_back_to_received_and_a_new_inspection_starts(store, bench, checklists, grader,
                                                                          receive):
    lpn = receive("home")
    view = _at(store, bench, grader, checklists, lpn, "works", "home")
    ins.cancel(store, bench, grader, view.inspection_id, checklists)
    with store.read() as s:
        assert s.get(Unit, lpn).state == "received"
        assert s.get(Inspection, view.inspection_id).status == "cancelled"
    assert events_of(store, lpn)[-1].kind == "inspection_cancelled"
    again = ins.open_inspection(store, bench, grader, lpn, checklists)
    assert again.inspection_id != view.inspection_id and again.step_index == 0 and not again.resumed


def test_note_is_stored_as_data(store, bench, checklists, grader, receive):
    lpn = receive("home")
    view = ins.open_inspection(store, bench, grader, lpn, checklists)
    note = "[@click=app.quit]x[/] \x1b]2;PWNED\x07" + "y" * 600
    view = ins.set_note(store, bench, grader, view.inspection_id, note, checklists)
    assert view.note.startswith("[@click=app.quit]x[/] \x1b]2;PWNED\x07") and len(view.note) < 560
    assert events_of(store, lpn)[-1].payload["note"] == view.note


def test_only_graders_and_leads_inspect(store, bench, checklists, grader, receive):
    lpn = receive("home")
    with pytest.raises(InspectionError, match="Nobody is signed in"):
        ins.open_inspection(store, bench, None, lpn, checklists)
    with pytest.raises(InspectionError, match="only a grader or a lead"):
        ins.open_inspection(store, bench, bench.operators.by_badge("1001"), lpn, checklists)
    assert ins.open_inspection(store, bench, bench.operators.by_badge("9001"), lpn, checklists).step_index == 0
    with pytest.raises(InspectionError, match="no such unit"):
        ins.open_inspection(store, bench, grader, "B07-99999999", checklists)


def test_a_graded_unit_is_not_inspected_again_and_a_stale_answer_is_refused(store, bench, checklists, grader,
                                                                           receive):
    lpn = receive("home")
    view = ins.open_inspection(store, bench, grader, lpn, checklists)
    ins.answer(store, bench, grader, view.inspection_id, Response("pass"), checklists)
    with pytest.raises(InspectionError, match="moved on"):
        ins.answer(store, bench, grader, view.inspection_id, Response("pass"), checklists, expect_step="item_present")
    view = walk(store, bench, grader, checklists, lpn, "home")
    ins.finish(store, bench, grader, view.inspection_id, checklists)
    with pytest.raises(InspectionError, match="graded"):
        ins.open_inspection(store, bench, grader, lpn, checklists)


def test_reopening_an_open_inspection_resumes_it(store, bench, checklists, grader, receive):
    lpn = receive("phones")
    view = _at(store, bench, grader, checklists, lpn, "powers_on")
    again = ins.open_inspection(store, bench, grader, lpn, checklists)
    assert again.resumed and again.inspection_id == view.inspection_id and again.step.id == "powers_on"
    assert set(again.answers) == {"item_present", "imei"}
    with store.read() as s:
        assert len(list(s.exec(select(Inspection).where(Inspection.lpn == lpn)))) == 1
        assert s.get(Unit, lpn).state == "inspecting"


def test_each_answer_is_one_event_in_the_same_transaction(store, bench, checklists, grader, receive):
    lpn = receive("phones")
    view = ins.open_inspection(store, bench, grader, lpn, checklists)
    view = ins.answer(store, bench, grader, view.inspection_id, Response("pass"), checklists)
    ev = events_of(store, lpn)[-1]
    assert ev.kind == "inspection_answered" and ev.operator == "2001"
    assert ev.payload == {"inspection_id": view.inspection_id, "step": "item_present", "index": 0, "value": "pass",
                          "result": "pass", "flags": [], "grade_cap": None, "suggested_grade": "A"}
    with store.read() as s:
        assert s.get(Inspection, view.inspection_id).answers["item_present"]["by"] == "2001"


def test_a_checklist_changed_while_open_keeps_the_answers_of_steps_that_remain(home, store, bench, checklists,
                                                                               grader, receive):
    lpn = receive("toys")
    view = _at(store, bench, grader, checklists, lpn, "parts", "toys")  # item_present, gtin, safety answered
    site = home / "config" / "categories"
    site.mkdir(parents=True)
    (site / "toys.toml").write_text(
        'version = "site-2"\n'
        '[[steps]]\nid = "item_present"\nprompt = "In the parcel?"\nkind = "check"\n'
        '[[steps]]\nid = "safety"\nprompt = "Safe?"\nkind = "check"\n'
        '[[steps]]\nid = "batteries"\nprompt = "Batteries removed?"\nkind = "check"\n')
    changed = ins.load_checklists(home, bench.codes)
    again = ins.open_inspection(store, bench, grader, lpn, changed)
    assert again.inspection_id == view.inspection_id and again.checklist.version == "site-2"
    assert set(again.answers) == {"item_present", "safety"} and again.step.id == "batteries"
    ev = events_of(store, lpn)[-1]
    assert ev.kind == "inspection_started" and ev.payload["resumed"] is True
    assert ev.payload["previous"] == "toys 2026.11-1"
