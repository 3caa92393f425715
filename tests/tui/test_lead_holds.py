"""Pilot: the lead screen's Holds tab (issue 16). A blind receipt that a manifest import matches
automatically is shown to the lead as such; a hold past its deadline (a fake clock: the app's
`clock` fifteen days on, no sleeps) is proposed its default action, which a lead confirms with a
second Enter — Esc keeps it held, a hold not yet due is refused — all audited."""

from __future__ import annotations

import csv
from datetime import timedelta

from sqlmodel import select

from dockstation.manifest import import_manifest
from dockstation.manifest_csv import COLUMNS
from dockstation.models import Decision, Event, Hold, Unit
from dockstation.policy import load_policy
from dockstation.receiving import sign_in
from dockstation.receiving.holds import receive_held
from dockstation.scan import ScanEvent
from dockstation.tui.lead import LeadScreen
from dockstation.types import utcnow

from tui_helpers import scan, screen_text, see, wait_for

POLICY = load_policy(None)
TRACKING = "9101026837331000039521"  # USPS IMpb


def _hold(store, bench, code: str, **kw) -> str:
    clerk = sign_in(store, bench, ScanEvent("OP-1001", "t", None, utcnow()), "1001").operator
    return receive_held(store, bench, clerk, code=code, hold=POLICY.hold, **kw).lpn


def _manifest(path, rma_id: str, tracking: str):
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        w.writerow([rma_id, "O-1", "2026-11-01T10:00:00+00:00", "2099-12-01T10:00:00+00:00", "open", 1, "SKU-1",
                    "", "Item 1", "apparel", "1", "25.00", "USD", "", "wrong_size", "usps", tracking])
    return path


async def _holds_tab(pilot, app) -> LeadScreen:
    await wait_for(pilot, lambda: app.receive_screen.is_mounted, "receive screen")
    await scan(pilot, app, "OP-9001")
    await pilot.press("f3")
    await wait_for(pilot, lambda: isinstance(app.screen, LeadScreen) and app.screen.refreshes >= 1, "lead view")
    screen = app.screen
    await pilot.press("8")
    await wait_for(pilot, lambda: screen.query_one("#tabs").active == "tab-holds", "the Holds tab")
    await pilot.wait_for_scheduled_animations()
    return screen


async def _refresh(pilot, screen: LeadScreen) -> None:
    done = screen.refreshes
    await pilot.press("r")
    await wait_for(pilot, lambda: screen.refreshes > done, "a refresh")
    await pilot.pause()


async def test_a_blind_receipt_matched_after_a_manifest_import_is_shown_as_matched_automatically(
        make_app, store, bench, tmp_path):
    lpn = _hold(store, bench, "420221539101026837331000039521")
    now = utcnow()
    app = make_app(clock=lambda: now)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _holds_tab(pilot, app)
        await see(pilot, app, lpn, "held", "1 held")
        assert "matched automatically" not in screen_text(app)
        report = import_manifest(store, "B07", _manifest(tmp_path / "m.csv", "RMA-H-1", TRACKING))
        assert report.holds_matched == [(lpn, "RMA-H-1", 1)]
        await _refresh(pilot, screen)
        shown = await see(pilot, app, "matched automatically → RMA-H-1", "1 matched automatically this week")
        assert "0 held" in shown
        row = screen.query_one("#holds").get_row(lpn)
        assert str(row[2]) == "matched"


async def test_the_deadline_proposes_the_default_and_a_second_enter_confirms(make_app, store, bench):
    due = _hold(store, bench, "9400111201080805483016")
    later = _hold(store, bench, "", order_id="O-NOT-YET", now=utcnow() + timedelta(days=10))
    clock = utcnow() + timedelta(days=15)  # past the first hold's 14 days, not the second's
    app = make_app(clock=lambda: clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _holds_tab(pilot, app)
        await see(pilot, app, "DUE", "1 past deadline")
        table = screen.query_one("#holds")
        assert [str(table.get_row_at(i)[1]) for i in range(2)] == [due, later]  # soonest deadline first
        table.focus()
        await pilot.press("down", "enter")  # the one not yet due: refused, nothing proposed
        await pilot.pause()
        assert screen.mode is None
        await pilot.press("up", "enter")
        await wait_for(pilot, lambda: screen.mode == "hold_confirm", "the proposal")
        await see(pilot, app, "Liquidate it now?", "Enter confirms")
        with store.read() as s:
            assert s.get(Hold, due).state == "open"  # a proposal only: nothing done yet
        await pilot.press("escape")  # kept held
        await wait_for(pilot, lambda: screen.mode is None, "cancelled")
        assert isinstance(app.screen, LeadScreen)
        with store.read() as s:
            assert s.get(Hold, due).state == "open"
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.mode == "hold_confirm", "the proposal again")
        await pilot.press("enter")  # confirmed
        await wait_for(pilot, lambda: screen.mode is None and screen._hold(due) is not None
                       and screen._hold(due).state == "defaulted", "the default applied and refreshed")
    with store.read() as s:
        unit = s.get(Unit, due)
        assert (unit.state, unit.disposition, unit.rule_id) == ("disposed", "liquidate", "hold-default")
        assert s.get(Hold, due).resolved_by == "9001" and s.get(Hold, later).state == "open"
        decision = s.exec(select(Decision).where(Decision.lpn == due)).one()
        assert (decision.kind, decision.approved_by) == ("hold_default", "9001")
        kinds = [(e.kind, e.operator) for e in s.exec(select(Event).where(Event.lpn == due).order_by(Event.seq))]
    assert ("hold_defaulted", "9001") in kinds and ("unit_disposed", "9001") in kinds


async def test_scanning_a_held_units_lpn_proposes_its_default(make_app, store, bench):
    lpn = _hold(store, bench, "9400111201080805483016")
    clock = utcnow() + timedelta(days=15)
    app = make_app(clock=lambda: clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.receive_screen.is_mounted, "receive screen")
        await scan(pilot, app, "OP-9001")
        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, LeadScreen) and app.screen.refreshes >= 1, "lead")
        screen = app.screen
        await scan(pilot, app, lpn)  # from the queue tab: the Holds tab opens on its row
        await wait_for(pilot, lambda: screen.mode == "hold_confirm" and screen.hold_target == lpn, "proposal")
        assert screen.query_one("#tabs").active == "tab-holds"
