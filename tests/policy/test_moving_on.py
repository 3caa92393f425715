"""Moving on accepts; nothing is dropped (issue 13, item 4) — the real BenchApp in Pilot.

The next parcel or LPN scanned on the disposition screen commits the decision shown, then does
what it does; a decision that needs a lead waits in the lead's queue and is approved there;
Esc, stray commands and sign-outs never leave a unit half-done silently.
"""

from __future__ import annotations

import time

import pytest
from sqlmodel import select

from dockstation.models import ApprovalRequest, PrintJob, Unit
from dockstation.policy import load_policy, make_triage
from dockstation.scan import ScanEvent
from dockstation.tui.app import BenchApp
from dockstation.tui.disposition import DispositionScreen
from dockstation.tui.lead import LeadScreen
from dockstation.types import utcnow

from policy_support import add_rma, decisions_of, events_of, graded, unit


async def dispatch(pilot, app: BenchApp, *codes: str) -> None:
    """Codes into the app's scan queue (as a scanner would), waiting until all were handled."""
    target = app.scans_done + len(codes)
    for code in codes:
        app.enqueue_scan(ScanEvent(code, "test", None, utcnow()))
    await wait_for(pilot, lambda: app.scans_done >= target, "scans handled")
    await pilot.pause()


async def wait_for(pilot, condition, what: str) -> None:
    deadline = time.monotonic() + 10  # against hanging only; never a timing assertion
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.02)


async def press(pilot, *keys: str) -> None:
    """Keys as a person types them (the wedge detector holds a key a few tens of ms)."""
    for key in keys:
        await pilot.press(key)
        await pilot.pause(0.1)


def log_rows(app: BenchApp) -> list[str]:
    return [" ".join(c.plain for c in row) for row in app.receive_screen.query_one("#log").rows]


async def open_disposition(pilot, app: BenchApp, lpn: str) -> DispositionScreen:
    await dispatch(pilot, app, lpn)  # a grader scans the graded unit's LPN: its disposition
    await wait_for(pilot, lambda: isinstance(app.screen, DispositionScreen) and app.screen.mode == "proposal",
                   "the disposition screen")
    return app.screen  # type: ignore[return-value]


@pytest.fixture
def app(home, store):
    a = BenchApp(home, store=store, triage=make_triage(load_policy(home)), start_services=False)
    yield a


async def test_the_next_parcel_commits_the_shown_decision_then_is_received(app, store):
    lpn = graded(store, 101, category="apparel", grade="A", price="40.00")
    add_rma(store, "RMA-2026-000777", [dict(sku="TOY-7", description="Robot", category="toys")])
    async with app.run_test(size=(80, 24)) as pilot:
        await dispatch(pilot, app, "OP-2001")
        await open_disposition(pilot, app, lpn)
        await dispatch(pilot, app, "RMA-2026-000777")
        assert app.screen is app.receive_screen
        rows = log_rows(app)
        assert any(lpn in r and "disposed → restock" in r for r in rows)  # the decision, logged
        assert "Received B07-00000001" in str(app.receive_screen.query_one("#state").visual)  # then the parcel
    u = unit(store, lpn)
    assert (u.state, u.disposition) == ("disposed", "restock")
    assert [d.kind for d in decisions_of(store, lpn)] == ["policy"]
    kinds = [e.kind for e in events_of(store)]
    # the disposition committed (with its label) before the parcel's receipt
    assert kinds.index("unit_disposed") < kinds.index("unit_received")
    with store.read() as s:
        labels = [(j.lpn, j.label) for j in s.exec(select(PrintJob).order_by(PrintJob.id))]
    assert labels == [(lpn, "disposition"), ("B07-00000001", "receipt")]


async def test_the_next_lpn_commits_the_shown_decision_then_opens_that_unit(app, store):
    first = graded(store, 102, category="apparel", grade="A", price="40.00")
    second = graded(store, 103, category="apparel", grade="A", price="40.00")
    async with app.run_test(size=(80, 24)) as pilot:
        await dispatch(pilot, app, "OP-2001")
        screen = await open_disposition(pilot, app, first)
        await dispatch(pilot, app, first)  # its own LPN again: not moving on, nothing done
        assert app.screen is screen and unit(store, first).state == "graded"
        await dispatch(pilot, app, second)
        await wait_for(pilot, lambda: isinstance(app.screen, DispositionScreen) and app.screen.lpn == second,
                       "the next unit's disposition")
    assert unit(store, first).state == "disposed" and unit(store, second).state == "graded"


async def test_a_decision_left_for_a_lead_waits_in_the_lead_queue_and_is_approved_there(app, store):
    lpn = graded(store, 104, category="home", grade="D", price="399.00")  # liquidate above the threshold
    async with app.run_test(size=(80, 24)) as pilot:
        await dispatch(pilot, app, "OP-2001")
        screen = await open_disposition(pilot, app, lpn)
        assert screen.needs_lead and screen.query_one("#path").text == "! LIQUIDATE"
        await dispatch(pilot, app, "CMD:DONE")  # a lead could approve right here …
        assert screen.mode == "await_badge"
        await dispatch(pilot, app, "RMA-2026-000999")  # … but the grader moves on
        assert app.screen is app.receive_screen
        assert unit(store, lpn).state == "awaiting_approval"
        assert any(lpn in r and "awaits a lead: LIQUIDATE" in r for r in log_rows(app))
        assert any("lead's approval" in n.message for n in app._notifications)  # the grader is told

        await dispatch(pilot, app, "OP-9001")  # the lead comes by
        await press(pilot, "f3")
        await wait_for(pilot, lambda: isinstance(app.screen, LeadScreen) and app.screen.refreshes >= 1, "lead view")
        lead = app.screen
        assert lead.waiting_count == 1 and lead.waiting[0].lpn == lpn and lead.waiting[0].graded_by == "2001"
        await press(pilot, "5")
        await wait_for(pilot, lambda: lead.query_one("#approvals").row_count == 1, "the approvals tab")
        await press(pilot, "a")
        assert lead.mode == "approve_reason"
        await press(pilot, "1")  # inspection_error
        await wait_for(pilot, lambda: unit(store, lpn).state == "disposed", "the approval")
        await wait_for(pilot, lambda: lead.waiting_count == 0, "the queue emptied on refresh")
        assert any(lpn in r and "approved" in r for r in log_rows(app))
    [d] = decisions_of(store, lpn)
    assert (d.path, d.decided_by, d.approved_by, d.approval_reason) == ("liquidate", "2001", "9001", "inspection_error")
    with store.read() as s:
        [req] = s.exec(select(ApprovalRequest)).all()
        assert (req.state, req.resolved_by) == ("approved", "9001")
        assert s.exec(select(PrintJob).where(PrintJob.lpn == lpn)).one().label == "disposition"
    kinds = [e.kind for e in events_of(store, lpn)]
    assert kinds == ["approval_requested", "unit_disposed", "refund_recommended", "label_queued"]


async def test_a_lead_changes_the_path_of_a_waiting_override(app, store):
    lpn = graded(store, 105, category="apparel", grade="B", price="59.00")
    async with app.run_test(size=(80, 24)) as pilot:
        await dispatch(pilot, app, "OP-2001")
        screen = await open_disposition(pilot, app, lpn)
        await press(pilot, "o", "7")  # donate instead of open box: needs a lead
        await wait_for(pilot, lambda: screen.mode == "await_badge", "the badge prompt")
        await press(pilot, "enter")  # Enter again: into the lead's queue
        await wait_for(pilot, lambda: app.screen is app.receive_screen, "back to receiving")
        assert unit(store, lpn).state == "awaiting_approval"
        assert "AWAITS LEAD" in app.receive_screen.query_one("#big").text
        await dispatch(pilot, app, "OP-9001")
        await press(pilot, "f3")
        await wait_for(pilot, lambda: isinstance(app.screen, LeadScreen) and app.screen.refreshes >= 1, "lead view")
        lead = app.screen
        assert lead.waiting[0].path == "donate" and lead.waiting[0].policy_path == "open_box"
        await dispatch(pilot, app, lpn)  # the lead holds the unit: its LPN selects its row
        assert isinstance(app.screen, LeadScreen) and lead.query_one("#tabs").active == "tab-approvals"
        await press(pilot, "c")  # change: the paths, then the reason
        assert lead.mode == "change_path"
        keys = lead.query_one("#approval-pick").keys
        await press(pilot, str(keys.index("recycle") + 1), "4")  # recycle, local_demand
        await wait_for(pilot, lambda: unit(store, lpn).state == "disposed", "the change")
    [d] = decisions_of(store, lpn)
    assert (d.kind, d.path, d.decided_by, d.approved_by) == ("override", "recycle", "9001", "9001")


async def test_stray_commands_and_esc_never_leave_a_unit_half_done_silently(app, store):
    lpn = graded(store, 106, category="apparel", grade="A", price="40.00")
    async with app.run_test(size=(80, 24)) as pilot:
        await dispatch(pilot, app, "OP-2001")
        screen = await open_disposition(pilot, app, lpn)
        for stray in ("CMD:PASS", "CMD:GRADE:A", "04006381333931", "???"):
            app.sound.history.clear()
            await dispatch(pilot, app, stray)
            assert app.screen is screen and screen.mode == "proposal"  # refused there, nothing changed
            assert list(app.sound.history) == ["error"]
            assert "nothing done" in str(screen.query_one("#status").render())
            assert any(stray[:12] in r and "nothing done" in r for r in log_rows(app))
        assert unit(store, lpn).state == "graded" and events_of(store, lpn) == []
        await press(pilot, "escape")  # Esc asks first
        assert app.screen is screen and screen.mode == "confirm_leave"
        await press(pilot, "enter")  # … and Enter accepts after all
        await wait_for(pilot, lambda: app.screen is app.receive_screen, "back to receiving")
    assert unit(store, lpn).state == "disposed"


async def test_esc_twice_leaves_the_unit_graded_and_says_so(app, store):
    lpn = graded(store, 107, category="apparel", grade="A", price="40.00")
    async with app.run_test(size=(80, 24)) as pilot:
        await dispatch(pilot, app, "OP-2001")
        await open_disposition(pilot, app, lpn)
        app.sound.history.clear()
        await press(pilot, "escape", "escape")
        await wait_for(pilot, lambda: app.screen is app.receive_screen, "back to receiving")
        assert "NOT DISPOSED" in app.receive_screen.query_one("#big").text
        assert any(lpn in r and "left graded" in r for r in log_rows(app))
        assert "attention" in app.sound.history
    assert unit(store, lpn).state == "graded" and events_of(store, lpn) == []


async def test_signing_out_or_another_badge_settles_the_decision_first(app, store):
    a = graded(store, 108, category="apparel", grade="A", price="40.00")
    b = graded(store, 109, category="home", grade="D", price="399.00")
    async with app.run_test(size=(80, 24)) as pilot:
        await dispatch(pilot, app, "OP-2001")
        await open_disposition(pilot, app, a)
        await dispatch(pilot, app, "CMD:LOGOUT")
        assert app.operator is None and app.screen is app.receive_screen
        await dispatch(pilot, app, "OP-2001")
        await open_disposition(pilot, app, b)
        await dispatch(pilot, app, "OP-1001")  # a clerk takes over the bench: not a lead's badge
        assert app.operator is not None and app.operator.badge == "1001"
    assert unit(store, a).state == "disposed"
    assert unit(store, b).state == "awaiting_approval"
    assert events_of(store, b)[0].operator == "2001"  # parked by the grader, before the clerk signed in


async def test_a_lead_badge_on_a_decision_that_needs_one_approves_on_the_spot(app, store):
    lpn = graded(store, 1010, category="home", grade="D", price="399.00")
    async with app.run_test(size=(80, 24)) as pilot:
        await dispatch(pilot, app, "OP-2001")
        screen = await open_disposition(pilot, app, lpn)
        await dispatch(pilot, app, "OP-9001")  # the lead is right here: no Enter needed first
        assert app.operator.badge == "2001" and screen.mode == "choose_reason"
        await press(pilot, "1")
        await wait_for(pilot, lambda: app.screen is app.receive_screen, "back to receiving")
    assert [d.approved_by for d in decisions_of(store, lpn)] == ["9001"]


async def test_stray_commands_are_refused_on_the_receive_and_lead_screens(app, store):
    async with app.run_test(size=(80, 24)) as pilot:
        app.sound.history.clear()
        await dispatch(pilot, app, "CMD:PASS")  # nobody signed in, receive screen
        assert list(app.sound.history) == ["error"] and "REFUSED" in app.receive_screen.query_one("#big").text
        await dispatch(pilot, app, "OP-9001", "CMD:DONE")
        assert "CMD:DONE" in log_rows(app)[-1] and "means nothing" in log_rows(app)[-1]
        await press(pilot, "f3")
        await wait_for(pilot, lambda: isinstance(app.screen, LeadScreen) and app.screen.refreshes >= 1, "lead view")
        app.sound.history.clear()
        await dispatch(pilot, app, "CMD:FAIL")
        assert isinstance(app.screen, LeadScreen) and list(app.sound.history) == ["error"]
        assert "nothing done (lead screen)" in log_rows(app)[-1]
    with store.read() as s:
        assert s.exec(select(Unit)).all() == []
    assert [e.kind for e in events_of(store)] == ["operator_signed_in"]


async def test_a_stray_command_during_a_line_pick_is_refused_and_the_pick_goes_on(app, store):
    add_rma(store, "RMA-2026-000888", [dict(sku="A", description="A", category="toys"),
                                       dict(sku="B", description="B", category="toys")])
    async with app.run_test(size=(80, 24)) as pilot:
        await dispatch(pilot, app, "OP-1001", "RMA-2026-000888")
        assert app.receive_screen.picking
        app.sound.history.clear()
        await dispatch(pilot, app, "CMD:PASS")
        assert app.receive_screen.picking and list(app.sound.history) == ["error"]
        assert "means nothing here" in str(app.receive_screen.query_one("#state").visual)
    with store.read() as s:
        assert s.exec(select(Unit)).all() == []


async def test_one_disposition_screen_serves_every_unit_and_keeps_nothing_of_the_last(app, store):
    """The bench reuses its disposition screen (building one per unit was most of the UI's time,
    bench_flow.py): the next unit's decision shows with none of the last unit's mode, status,
    override or outcome, and its own "shown" line in the scan log."""
    first = graded(store, 107, category="home", grade="D", price="399.00")  # needs a lead
    second = graded(store, 108, category="apparel", grade="A", price="40.00")
    async with app.run_test(size=(80, 24)) as pilot:
        await dispatch(pilot, app, "OP-2001")
        screen = await open_disposition(pilot, app, first)
        await dispatch(pilot, app, "CMD:DONE")  # a lead could approve here: waits for a badge
        assert screen.mode == "await_badge" and screen.needs_lead
        await dispatch(pilot, app, "CMD:PASS")  # refused: a status line of the first unit
        assert "nothing done" in str(screen.query_one("#status").render())
        await dispatch(pilot, app, "CMD:DONE")  # parked in the lead's queue; back to receiving
        await wait_for(pilot, lambda: app.screen is app.receive_screen, "back to receiving")
        assert screen.outcome is not None and screen.outcome.status == "awaiting_approval"
        again = await open_disposition(pilot, app, second)
        assert again is screen and again.lpn == second  # the same screen, the next unit
        assert (again.mode, again.pending_path, again.lead, again.outcome) == ("proposal", None, None, None)
        assert not again.needs_lead and again.query_one("#path").text == "✔ RESTOCK"
        assert str(again.query_one("#status").render()).strip() == ""
        assert second in str(again.query_one("#unit").render()) and first not in str(again.query_one("#unit").render())
        assert any(second in r and "graded → RESTOCK shown" in r for r in log_rows(app))
        await dispatch(pilot, app, "CMD:DONE")
        await wait_for(pilot, lambda: app.screen is app.receive_screen, "back to receiving")
    assert unit(store, first).state == "awaiting_approval"
    assert (unit(store, second).state, unit(store, second).disposition) == ("disposed", "restock")
