"""DispositionScreen inside the real BenchApp: scans go through the app's one dispatcher."""

from __future__ import annotations

import time

import pytest

from dockstation.policy import load_policy, make_triage
from dockstation.scan import ScanEvent
from dockstation.tui.app import BenchApp
from dockstation.tui.disposition import DispositionScreen
from dockstation.types import utcnow

from policy_support import decisions_of, events_of, graded, unit


async def dispatch(pilot, app: BenchApp, *codes: str) -> None:
    """Codes into the app's scan queue (as a scanner would), waiting until all were handled."""
    target = app.scans_done + len(codes)
    for code in codes:
        app.enqueue_scan(ScanEvent(code, "test", None, utcnow()))
    deadline = time.monotonic() + 10  # against hanging only; never a timing assertion
    while app.scans_done < target:
        assert time.monotonic() < deadline, "scans not handled"
        await pilot.pause(0.02)
    await pilot.pause()


async def wait_for(pilot, condition, what: str) -> None:
    """Keys typed by a person reach the screen once the wedge detector released them."""
    deadline = time.monotonic() + 10  # against hanging only
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.02)


@pytest.fixture
def app(home, store):
    a = BenchApp(home, store=store, triage=make_triage(load_policy(home)), start_services=False)
    yield a


async def test_cmd_done_disposes_and_the_app_returns_to_receiving(app, store):
    lpn = graded(store, 1, category="apparel", grade="A", price="40.00")
    async with app.run_test(size=(80, 24)) as pilot:
        await dispatch(pilot, app, "OP-2001")
        await app.push_screen(DispositionScreen(lpn))
        await pilot.pause()
        await dispatch(pilot, app, "CMD:DONE")
        await pilot.pause()
        assert app.screen is app.receive_screen
    assert unit(store, lpn).state == "disposed"
    assert [d.kind for d in decisions_of(store, lpn)] == ["policy"]


async def test_a_lead_badge_scanned_while_awaiting_approval_approves(app, store):
    lpn = graded(store, 2, category="apparel", grade="B", price="59.00")
    async with app.run_test(size=(80, 24)) as pilot:
        await dispatch(pilot, app, "OP-2001")
        screen = DispositionScreen(lpn)
        await app.push_screen(screen)
        await pilot.pause()
        await pilot.press("o")
        await wait_for(pilot, lambda: screen.mode == "choose_path", "the path picker")
        await pilot.press("7")
        await wait_for(pilot, lambda: screen.wants_badge, "the badge prompt")
        await dispatch(pilot, app, "OP-9001")
        assert app.operator is not None and app.operator.badge == "2001"  # still the grader
        assert screen.mode == "choose_reason"
        await pilot.press("4")
        await wait_for(pilot, lambda: app.screen is app.receive_screen, "back to receiving")
    assert [d.approved_by for d in decisions_of(store, lpn)] == ["9001"]
    assert "approval_refused" not in [e.kind for e in events_of(store, lpn)]


async def test_enter_typed_by_a_person_accepts_in_the_real_app(app, store):
    lpn = graded(store, 3, category="apparel", grade="A", price="40.00")
    async with app.run_test(size=(80, 24)) as pilot:
        await dispatch(pilot, app, "OP-2001")
        await app.push_screen(DispositionScreen(lpn))
        await pilot.pause()
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is app.receive_screen, "back to receiving")
    assert unit(store, lpn).state == "disposed"
