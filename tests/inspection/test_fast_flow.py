"""The grader's fast path in the real bench app (Textual Pilot): parcel scan → disposition committed
and its label queued in at most (scanned values + 2) inputs, by command barcodes and by keys."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from inspection_support import CATEGORIES, GTIN, IMEI, SERIAL, scan, screen_text, wait_for
from sqlmodel import select

from dockstation.inspection import load_checklists
from dockstation.models import Event, Inspection, PrintJob, Rma, RmaLine, Unit
from dockstation.policy import load_policy, make_triage
from dockstation.tui.app import BenchApp
from dockstation.tui.disposition import DispositionScreen
from dockstation.tui.inspect import InspectScreen
from dockstation.types import utcnow


@pytest.fixture
def make_app(home, store):
    def make() -> BenchApp:
        app = BenchApp(home, store=store, triage=make_triage(load_policy(home)), start_services=False)
        app.wedge_enabled = False  # keys straight to the screen; scans go to the dispatcher (see `scan`)
        return app

    return make


def parcel(store, n: int, category: str, **line: object) -> str:
    """An open RMA of one line of `category` (its manifest values from CATEGORIES); its id."""
    rma_id, now = f"RMA-FAST-{n:05d}", utcnow()
    fields = {"unit_price": Decimal("120.00"), **CATEGORIES.get(category, {}), **line}
    with store.write() as s:
        s.add(Rma(rma_id=rma_id, order_id=f"O-F{n}", created_at=now - timedelta(days=2),
                  expires_at=now + timedelta(days=30), status="open", updated_at=now))
        s.add(RmaLine(rma_id=rma_id, line_no=1, sku=f"SKU-{category}", description=f"A {category} item",
                      category=category, **fields))
    return rma_id


def values_of(home, bench_codes, category: str, **line: object) -> list[str]:
    """What the scanner reads for each scan step of the unit's checklist (the all-pass unit's)."""
    fields = {**CATEGORIES.get(category, {}), **line}
    cl = load_checklists(home, bench_codes).for_unit(category, fields.get("expected_serial"))
    out = []
    for step in cl.steps:
        if step.kind == "scan":
            out.append("01" + "0" + GTIN if step.value == "gtin" else
                       fields.get("expected_serial") or (IMEI if step.value == "imei" else SERIAL))
    return out


def disposed(store, lpn: str) -> bool:
    with store.read() as s:
        unit = s.get(Unit, lpn)
        jobs = s.exec(select(PrintJob).where(PrintJob.lpn == lpn, PrintJob.kind == "label",
                                             PrintJob.label == "disposition")).all()
    return unit is not None and unit.state == "disposed" and len(jobs) == 1


async def proposal_shown(pilot, app) -> DispositionScreen:
    await wait_for(pilot, lambda: isinstance(app.screen, DispositionScreen) and app.screen.mode == "proposal",
                   "the disposition")
    return app.screen


@pytest.mark.parametrize("by", ["commands", "keys"])
@pytest.mark.parametrize("category", list(CATEGORIES))
async def test_every_default_category_all_pass_in_scanned_values_plus_two_inputs(make_app, home, store, category,
                                                                                 by):
    rma = parcel(store, 1, category)
    app = make_app()
    values = values_of(home, app.config.codes, category)
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-2001", rma)  # the parcel scan: the unit is received, and in hand
        lpn = app.in_hand
        assert lpn is not None and not app.receive_screen.query_one("#entry").has_focus
        inputs = 0
        if by == "commands":
            await scan(pilot, app, "CMD:ALLPASS")
        else:
            await pilot.press("a")
            await wait_for(pilot, lambda: isinstance(app.screen, InspectScreen) and app.screen.view is not None
                           and app.screen.view.all_pass, "all pass by key")
        inputs += 1
        screen = app.screen
        assert isinstance(screen, InspectScreen) and screen.view.all_pass
        assert "now scan the" in screen.message and "ALL PASS" in screen_text(app)  # what it still needs
        for value in values:
            await scan(pilot, app, value)
            inputs += 1
        await proposal_shown(pilot, app)
        if by == "commands":
            await scan(pilot, app, "CMD:DONE")
        else:
            await pilot.press("enter")
        inputs += 1
        await wait_for(pilot, lambda: disposed(store, lpn), "the disposition committed and its label queued")
        await wait_for(pilot, lambda: app.screen is app.receive_screen, "back to receiving")
    assert inputs <= len(values) + 2
    with store.read() as s:
        unit = s.get(Unit, lpn)
        kinds = [e.kind for e in s.exec(select(Event).where(Event.lpn == lpn).order_by(Event.seq))]
    assert unit.grade == "A" and unit.inspected_by == "2001" and unit.received_by == "2001"
    assert kinds[0] == "unit_received" and "inspection_all_pass" in kinds and "unit_graded" in kinds
    assert kinds[-1] in ("unit_disposed", "refund_recommended", "label_queued") or "unit_disposed" in kinds


async def test_the_values_first_then_all_pass_finishes_the_unit(make_app, store):
    rma = parcel(store, 2, "laptops")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-2001", rma, SERIAL)  # the serial answers its step from the receiving screen
        lpn = app.screen.lpn
        view = app.screen.view
        assert view.answers["serial"]["result"] == "pass" and view.step.id == "item_present"  # out of order
        await scan(pilot, app, "CMD:ALLPASS")
        screen = await proposal_shown(pilot, app)
        assert screen.lpn == lpn
    with store.read() as s:
        assert s.get(Unit, lpn).grade == "A"


async def test_scanned_values_answer_their_step_in_any_order_mid_checklist(make_app, store):
    rma = parcel(store, 3, "electronics", expected_serial="SN-777", gtin="0" + GTIN)  # generic + a serial step
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-2001", rma, "CMD:PASS")  # opens it: item in parcel
        screen = app.screen
        assert screen.view.step.id == "serial"
        await scan(pilot, app, "01" + "0" + GTIN)  # the product barcode first
        assert screen.view.answers["gtin"]["result"] == "pass" and screen.view.step.id == "serial"
        assert "(out of order)" in screen.message
        await scan(pilot, app, "SN-777")
        assert screen.view.step.id == "works"


async def test_an_expected_serial_is_asked_for_and_a_wrong_one_flagged(make_app, store):
    rma = parcel(store, 4, "electronics", expected_serial="SN-12345", gtin="0" + GTIN)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-2001", rma, "CMD:ALLPASS")
        screen = app.screen
        assert screen.view.step.id == "serial" and screen.view.checklist.key == "generic"
        text = screen_text(app)
        assert "Scan the serial number" in text and "Serial number and the Product (GTIN)" in text
        await scan(pilot, app, "SN-99999", "01" + "0" + GTIN)
        assert screen.view.at_grade and "serial_mismatch" in screen.view.flags
        assert "⚑ serial_mismatch" in screen_text(app) and "So far: grade D" in screen_text(app)
        await scan(pilot, app, "CMD:DONE")
        await proposal_shown(pilot, app)
    with store.read() as s:
        unit = s.exec(select(Unit).where(Unit.rma_id == rma)).one()
    assert unit.grade == "D" and "serial_mismatch" in unit.risk_flags


async def test_a_parcel_tracking_number_is_never_taken_for_the_imei_of_the_unit_in_hand(make_app, store):
    rma = parcel(store, 5, "phones", expected_serial=None)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-2001", rma)
        lpn = app.in_hand
        await scan(pilot, app, IMEI)  # a valid IMEI is also a FedEx-shaped number: received as a parcel
        assert app.screen is app.receive_screen and app.in_hand is None
    with store.read() as s:
        assert s.get(Unit, lpn).state == "received"


# -- feedback: started, kept, cancelled, graded on screen and in the scan log -----------------------
def log_rows(app) -> list[str]:
    return [" ".join(str(c) for c in row) for row in app.receive_screen.query_one("#log").rows]


async def test_leaving_and_cancelling_say_so_on_screen_and_in_the_log(make_app, store):
    rma = parcel(store, 6, "home")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-2001", rma)
        lpn = app.in_hand
        await pilot.press("1")  # the unit in hand: opens its inspection, item in parcel passes
        await wait_for(pilot, lambda: isinstance(app.screen, InspectScreen) and app.screen.view.step_index == 1,
                       "the first answer")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.receive_screen, "back to receiving")
        text = screen_text(app)
        assert "KEPT" in text.replace(" ", "") or "kept open at step 2/6" in text
        assert f"Inspection of {lpn} kept open at step 2/6" in text and lpn not in app.receive_screen._big.text
        assert app.in_hand == lpn  # still in hand: a key resumes it
        await pilot.press("1")  # resumes where it stopped (the GTIN step takes no "pass": refused there)
        await wait_for(pilot, lambda: isinstance(app.screen, InspectScreen), "resumed")
        await scan(pilot, app, "CMD:CANCEL")
        await wait_for(pilot, lambda: app.screen is app.receive_screen, "back to receiving")
        assert f"Inspection of {lpn} cancelled" in screen_text(app) and app.in_hand is None
        rows = log_rows(app)
    assert any("inspection started" in r for r in rows) and any("kept open" in r for r in rows)
    assert any("Resumed at step 2/6" in r for r in rows) and any("cancelled" in r for r in rows)
    with store.read() as s:
        assert s.get(Unit, lpn).state == "received"
        assert s.exec(select(Inspection).where(Inspection.lpn == lpn)).one().status == "cancelled"


async def test_graded_is_in_the_log(make_app, store):
    rma = parcel(store, 7, "toys")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-2001", rma, "CMD:ALLPASS", "01" + "0" + GTIN)
        await proposal_shown(pilot, app)
        assert any("graded A" in r for r in log_rows(app)), log_rows(app)


async def test_a_grade_asked_before_the_last_value_is_refused_on_screen_and_in_the_log(make_app, store):
    rma = parcel(store, 10, "laptops")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-2001", rma, "CMD:ALLPASS")
        await wait_for(pilot, lambda: isinstance(app.screen, InspectScreen) and app.screen.view.all_pass, "all pass")
        await scan(pilot, app, "CMD:DONE")  # the serial is still to scan: one step, not the rest of the list
        await wait_for(pilot, lambda: "1 step left before the grade" in screen_text(app), "the refusal on screen")
        assert isinstance(app.screen, InspectScreen) and app.screen.view.status == "open"
        assert any("1 step left before the grade" in r for r in log_rows(app)), log_rows(app)


async def test_a_key_that_is_no_binding_types_into_the_entry_and_f2_still_works(make_app, store):
    rma = parcel(store, 8, "home")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-2001", rma)
        entry = app.receive_screen.query_one("#entry")
        assert app.in_hand and not entry.has_focus
        await pilot.press("R", "M")
        await wait_for(pilot, lambda: entry.value == "RM", "typing")
        assert entry.has_focus and isinstance(app.screen, type(app.receive_screen))
        await pilot.press("escape")  # (the app's Esc: nothing to go back to)
        app.receive_screen.set_focus(None)
        await pilot.press("f2", "1")
        await wait_for(pilot, lambda: entry.value == "RM1", "F2 then a digit types it")
        assert app.screen is app.receive_screen


async def test_a_clerk_has_no_unit_in_hand(make_app, store):
    rma = parcel(store, 9, "home")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-1001", rma)
        assert app.in_hand is None and app.receive_screen.query_one("#entry").has_focus
        await scan(pilot, app, "CMD:ALLPASS")
        assert app.screen is app.receive_screen
