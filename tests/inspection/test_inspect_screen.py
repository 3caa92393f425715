"""The inspect screen in the real bench app (Textual Pilot): keys, command barcodes, switching, resume."""

from __future__ import annotations

import pytest
from inspection_support import BAD_IMEI, CATEGORIES, EXPECTED_CHECKLIST, GTIN, IMEI, SERIAL, scan, screen_text, wait_for
from sqlmodel import func, select

from dockstation.models import Event, Inspection, Unit
from dockstation.receiving.core import default_triage
from dockstation.tui.app import BenchApp
from dockstation.tui.disposition import DispositionScreen
from dockstation.tui.inspect import InspectScreen
from dockstation.tui.receive import ReceiveScreen


@pytest.fixture
def make_app(home, store):
    def make() -> BenchApp:
        app = BenchApp(home, store=store, triage=default_triage, start_services=False)
        app.wedge_enabled = False  # keys straight to the screen; scans go to the dispatcher (see `scan`)
        return app

    return make


def value_for(step, category: str) -> str:
    """What the scanner reads for a scan step (a GTIN as a GS1 element string, to be parsed)."""
    fields = CATEGORIES[category]
    if step.value == "gtin":
        return "01" + "0" + GTIN
    return fields.get("expected_serial") or (IMEI if step.value == "imei" else SERIAL)


async def open_unit(pilot, app, lpn: str) -> InspectScreen:
    await scan(pilot, app, "OP-2001", lpn)
    await wait_for(pilot, lambda: isinstance(app.screen, InspectScreen) and app.screen.view is not None, "inspect")
    return app.screen


async def press(pilot, screen: InspectScreen, *keys: str) -> None:
    """Keys a person presses; waits until the last one's answer is committed and drawn."""
    before = (screen.view.step_index, screen.view.status, screen.message)
    await pilot.press(*keys)
    await wait_for(pilot, lambda: (screen.view.step_index, screen.view.status, screen.message) != before
                   or not screen.is_current, f"keys {keys}")


def graded(store, lpn: str) -> Unit:
    with store.read() as s:
        return s.get(Unit, lpn)


@pytest.mark.parametrize("category", list(CATEGORIES))
async def test_each_default_checklist_walked_to_a_grade_by_keys(make_app, store, receive, category):
    lpn = receive(category)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_unit(pilot, app, lpn)
        assert screen.view.checklist.key == EXPECTED_CHECKLIST[category]
        while screen.view.step is not None:
            step = screen.view.step
            if step.kind in ("check", "choice"):
                await press(pilot, screen, "1")
            elif step.kind == "number":
                await pilot.press("9")
                await press(pilot, screen, "1", "enter")
            else:  # typed by hand: `e`, the value, Enter (goes through the dispatcher as a keyboard scan)
                await pilot.press("e", *value_for(step, category))
                await press(pilot, screen, "enter")
            assert screen.message and screen.view.answers[step.id]["result"] == "pass", screen.message
        assert "GRADE A" in screen_text(app).replace("\n", " ") or "Grade A" in screen_text(app)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DispositionScreen), "the disposition screen")
    unit = graded(store, lpn)
    assert unit.state in ("graded", "disposed", "awaiting_approval") and unit.grade == "A"


@pytest.mark.parametrize("category", list(CATEGORIES))
async def test_each_default_checklist_walked_to_a_grade_by_command_barcodes(make_app, store, receive, category):
    lpn = receive(category)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_unit(pilot, app, lpn)
        codes = []
        for step in screen.view.checklist.steps:
            codes.append(value_for(step, category) if step.kind == "scan" else
                         "CMD:NA" if step.kind == "number" else "CMD:PASS")
        codes.append("CMD:DONE")  # one scan per step, plus one to confirm: nothing else in the way
        await scan(pilot, app, *codes)
        await wait_for(pilot, lambda: isinstance(app.screen, DispositionScreen), "the disposition screen")
    unit = graded(store, lpn)
    assert unit.grade == "A" and unit.inspected_by == "2001"
    with store.read() as s:
        answered = s.exec(select(func.count()).select_from(Event)
                          .where(Event.lpn == lpn, Event.kind == "inspection_answered")).one()
    assert answered == len(codes) - 1


async def test_invalid_imei_check_digit_is_shown_and_the_step_stays(make_app, store, receive):
    lpn = receive("phones")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_unit(pilot, app, lpn)
        await scan(pilot, app, "CMD:PASS", BAD_IMEI)
        assert screen.view.step.id == "imei"
        assert "check digit is wrong" in screen_text(app)
        assert app.sound.history[-1] == "error"
        await scan(pilot, app, "490154203237518")  # a valid IMEI, but another phone's
        assert screen.view.step.id == "powers_on" and screen.view.flags == ("serial_mismatch",)
        text = screen_text(app)
        assert "⚑ serial_mismatch" in text and "So far: grade D" in text


async def test_grade_changed_by_command_barcode_is_recorded(make_app, store, receive):
    lpn = receive("toys")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_unit(pilot, app, lpn)
        await scan(pilot, app, "CMD:PASS", "0104006381333931", "CMD:PASS", "CMD:PASS", "CMD:PASS", "CMD:PASS")
        assert screen.view.at_grade and screen.view.suggested_grade == "A"
        await scan(pilot, app, "CMD:GRADE:C")
        assert "changed: suggested A, chosen C" in screen_text(app)
        await scan(pilot, app, "CMD:DONE")
        await wait_for(pilot, lambda: isinstance(app.screen, DispositionScreen), "the disposition screen")
    with store.read() as s:
        ev = s.exec(select(Event).where(Event.lpn == lpn, Event.kind == "unit_graded")).one()
    assert ev.payload["grade"] == "C" and ev.payload["suggested_grade"] == "A" and ev.payload["changed"] is True


async def test_grade_letter_key_then_enter(make_app, store, receive):
    lpn = receive("footwear")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_unit(pilot, app, lpn)
        await press(pilot, screen, "2")  # empty box: straight to the grade
        assert screen.view.at_grade and screen.view.suggested_grade == "F"
        assert "empty_box" in screen_text(app)
        await press(pilot, screen, "d")
        assert screen.chosen == "D"
        await pilot.press("enter")
        await wait_for(pilot, lambda: not screen.is_current, "the grade")
    assert graded(store, lpn).grade == "D" and "empty_box" in graded(store, lpn).risk_flags


async def test_another_lpn_asks_before_switching_and_the_first_stays_open(make_app, store, receive):
    first, second = receive("home"), receive("toys")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_unit(pilot, app, first)
        await scan(pilot, app, "CMD:PASS", second)
        assert app.screen is screen and f"Switch to {second}?" in screen_text(app)
        await pilot.press("n")
        assert screen.switch_to is None and app.screen is screen
        await scan(pilot, app, second, second)  # scanning it again confirms
        await wait_for(pilot, lambda: isinstance(app.screen, InspectScreen) and app.screen.lpn == second, "switch")
    with store.read() as s:
        insp = s.exec(select(Inspection).where(Inspection.lpn == first)).one()
        assert insp.status == "open" and insp.step_index == 1  # saved, resumable


async def test_an_rma_scan_mid_inspection_receives_nothing(make_app, store, receive, manifest):
    lpn = receive("home")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_unit(pilot, app, lpn)
        with store.read() as s:
            units = s.exec(select(func.count()).select_from(Unit)).one()
        await scan(pilot, app, "RMA-2026-000001", "1Z999AA10123456784")
        assert app.screen is screen and screen.message == "Finish or cancel this inspection before receiving"
        assert "✖ Finish or cancel" in screen_text(app) and app.sound.history[-1] == "error"
        with store.read() as s:
            assert s.exec(select(func.count()).select_from(Unit)).one() == units


async def test_leave_and_resume_at_the_step_with_the_answers(make_app, store, receive):
    lpn = receive("phones")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_unit(pilot, app, lpn)
        await scan(pilot, app, "CMD:PASS", IMEI)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ReceiveScreen), "back to receiving")
        screen = await open_unit(pilot, app, lpn)
        assert screen.view.resumed and screen.view.step.id == "powers_on"
        text = screen_text(app)
        assert "Resumed at step 3/8" in text and "Step 3/8" in text
        assert "✔ Item in parcel" in text and "✔ IMEI" in text


async def test_back_note_and_cancel(make_app, store, receive):
    lpn = receive("apparel")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_unit(pilot, app, lpn)
        await press(pilot, screen, "1")
        await press(pilot, screen, "b")
        assert screen.view.step.id == "item_present" and "was: ✔ Pass" in screen_text(app)
        await pilot.press("n", *"[b]odd[/b] smell", "enter")
        await wait_for(pilot, lambda: screen.view.note is not None, "the note")
        assert screen.view.note == "[b]odd[/b] smell" and "[b]odd[/b] smell" in screen_text(app)
        await scan(pilot, app, "CMD:CANCEL")
        await wait_for(pilot, lambda: isinstance(app.screen, ReceiveScreen), "back to receiving")
    unit = graded(store, lpn)
    assert unit.state == "received" and unit.grade is None


async def test_a_clerk_cannot_open_the_inspect_screen_directly(make_app, store, receive):
    lpn = receive("home")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-1001")
        screen = InspectScreen(lpn)
        await app.push_screen(screen)
        await wait_for(pilot, lambda: "Cannot inspect" in screen_text(app), "the refusal")
        assert "only a grader or a lead may inspect" in screen.message and screen.view is None
    assert graded(store, lpn).state == "received"


def test_inspect_screen_snapshot_80x24(snap_compare, home, store, receive):
    lpn = receive("phones")
    app = BenchApp(home, store=store, triage=default_triage, start_services=False)
    app.wedge_enabled = False

    async def run_before(pilot) -> None:
        await open_unit(pilot, app, lpn)
        await scan(pilot, app, "CMD:PASS", IMEI, "CMD:PASS")
        app.sound.history.clear()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_all_pass_waiting_for_the_imei_snapshot_80x24(snap_compare, home, store, receive):
    """The new footer (the step's keys, from the bindings) and what all pass still needs."""
    lpn = receive("phones")
    app = BenchApp(home, store=store, triage=default_triage, start_services=False)
    app.wedge_enabled = False

    async def run_before(pilot) -> None:
        await open_unit(pilot, app, lpn)
        await scan(pilot, app, "CMD:ALLPASS")
        app.sound.history.clear()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
