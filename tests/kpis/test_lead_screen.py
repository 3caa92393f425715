"""The lead screen in Textual's Pilot: figures on screen, exception actions by key and by scan,
refused for a clerk, and snapshots at 80x24 and 160x50 (fixed clock, fixed data, UTC).

Update the snapshots after a deliberate change with
`pytest tests/kpis/test_lead_screen.py --snapshot-update` and review the SVGs.
"""

from __future__ import annotations

import time

import pytest
from bench_seed import NOW, seed
from sqlmodel import select

from dockstation.models import Event, ScanException
from dockstation.receiving.core import default_triage
from dockstation.scan import ScanEvent
from dockstation.tui.app import BenchApp
from dockstation.tui.lead import LeadScreen

DEADLINE_S = 10.0


@pytest.fixture
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def lead_app(home, store, utc):
    seed(store)
    apps = []

    def make():
        app = BenchApp(home, store=store, triage=default_triage, clock=lambda: NOW, start_services=False)
        apps.append(app)
        return app

    yield make


async def wait_for(pilot, condition, what="condition"):
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


async def scan(pilot, app, code):
    done = app.scans_done + 1
    app.enqueue_scan(ScanEvent(code, "test", None, NOW))
    await wait_for(pilot, lambda: app.scans_done >= done, f"scan {code}")
    await pilot.pause()


async def open_lead(pilot, app, badge="9001"):
    await wait_for(pilot, lambda: app.receive_screen.is_mounted, "receive screen mounted")
    await pilot.pause()
    await scan(pilot, app, f"OP-{badge}")
    await pilot.press("f3")
    await wait_for(pilot, lambda: isinstance(app.screen, LeadScreen) and app.screen.refreshes >= 1, "lead refresh")
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()
    return app.screen


async def press(pilot, *keys):
    """Keys as a person types them: the app's wedge detector holds keys for a few tens of ms to
    tell a person from a scanner, so give it time to release them to the screen."""
    for key in keys:
        await pilot.press(key)
        await pilot.pause(0.1)
    await pilot.wait_for_scheduled_animations()  # the tab underline slides: let it arrive
    await pilot.pause()


def text_of(app) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def test_lead_screen_shows_queue_breaches_and_kpis(lead_app):
    app = lead_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lead(pilot, app)
        shown = text_of(app)
        assert "open 7" in shown and "✖ 4 past SLA" in shown and "exceptions 2" in shown
        assert "express" in shown and "✖" in shown and "Not disposed: ≤30d 6  30–60d 1" in shown
        queue = screen.query_one("#queue")
        assert queue.row_count == 7 and str(queue.get_row_at(0)[1]) == "B07-00000006"
        # scanned/manifest text is shown literally, never as markup or escapes
        assert "[@click=app.quit]evil" in str(queue.get_row_at(0)[6]) and "\x1b" not in shown
        await press(pilot, "4")
        shown = text_of(app)
        assert "P50    2.0 h   P90   21.0 h" in shown and "restock" in shown
        await press(pilot, "3")
        assert "Casey Clerk" in text_of(app)


async def test_clerk_is_refused(lead_app):
    app = lead_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.receive_screen.is_mounted, "receive screen mounted")
        await pilot.pause()
        await scan(pilot, app, "OP-1001")
        await press(pilot, "f3")
        assert not isinstance(app.screen, LeadScreen)
        assert "LEADS ONLY" in text_of(app) or "lead's badge" in text_of(app)
        # pushed directly (another route to it), the screen refuses and loads nothing
        await app.push_screen(LeadScreen())
        await pilot.pause()
        assert "needs a lead's badge" in text_of(app) and app.screen.refreshes == 0
        await press(pilot, "m", "escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, LeadScreen), "back")


async def test_void_match_and_quarantine_by_key_and_scan(lead_app, store, manifest):
    app = lead_app()
    with store.write() as s:  # a third open exception, recorded after the seeded two
        s.add(ScanException(kind="unknown_code", code="???", station_id="B07", at=NOW, operator="1001"))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lead(pilot, app)
        await press(pilot, "v", "enter")  # from the queue tab; no reason: refused, still asking
        assert screen.mode == "void" and screen.target == 1
        await press(pilot, *"mis-scan", "enter")
        await wait_for(pilot, lambda: screen.mode is None, "void done")
        await wait_for(pilot, lambda: screen.snapshot.exceptions_open == 2, "refresh")
        await press(pilot, "m")
        await scan(pilot, app, "RMA-2026-000002")  # the scan picks the RMA, not the receiving screen
        assert isinstance(app.screen, LeadScreen) and screen.mode == "match_line"
        await press(pilot, "2")  # line 2
        await wait_for(pilot, lambda: screen.mode is None, "match done")
        await wait_for(pilot, lambda: screen.snapshot.exceptions_open == 1, "refresh")
        await press(pilot, "q", "enter")
        await wait_for(pilot, lambda: screen.snapshot.exceptions_open == 0, "quarantine done")
    with store.read() as s:
        rows = {x.kind: x for x in s.exec(select(ScanException))}
        assert rows["unknown_rma"].resolution == "mis-scan" and rows["unknown_rma"].state == "voided"
        assert rows["duplicate"].state == "matched" and rows["duplicate"].lpn
        assert rows["unknown_code"].state == "quarantined" and rows["unknown_code"].resolved_by == "9001"
        kinds = [e.kind for e in s.exec(select(Event).where(Event.operator == "9001").order_by(Event.seq))]
    assert kinds[-5:] == ["exception_resolved", "unit_received", "label_queued",  # the matched unit's receipt label
                          "exception_resolved", "exception_resolved"]


def test_lead_screen_snapshot_80x24(snap_compare, lead_app):
    app = lead_app()

    async def run_before(pilot):
        await open_lead(pilot, app)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_lead_screen_snapshot_160x50(snap_compare, lead_app):
    app = lead_app()

    async def run_before(pilot):
        await open_lead(pilot, app)

    assert snap_compare(app, terminal_size=(160, 50), run_before=run_before)


def test_lead_exceptions_tab_snapshot_80x24(snap_compare, lead_app):
    app = lead_app()

    async def run_before(pilot):
        await open_lead(pilot, app)
        await press(pilot, "2")

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_lead_kpis_tab_snapshot_80x24(snap_compare, lead_app):
    app = lead_app()

    async def run_before(pilot):
        await open_lead(pilot, app)
        await press(pilot, "4")

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_lead_approvals_tab_snapshot_80x24(snap_compare, lead_app, store):
    from datetime import timedelta

    from dockstation.models import ApprovalRequest

    with store.write() as s:  # the seeded unit awaiting approval, as a grader left it
        s.add(ApprovalRequest(lpn="B07-00000007", path="donate", policy_path="liquidate", rule_id="r",
                              kind="override", why=["path donate instead of the policy's liquidate"],
                              requested_at=NOW - timedelta(hours=2), requested_by="2001"))
    app = lead_app()

    async def run_before(pilot):
        await open_lead(pilot, app)
        await press(pilot, "5")

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_lead_holds_tab_snapshot_80x24(snap_compare, lead_app, store, bench):
    """The Holds tab: one past its deadline (its default proposed), one held, one a manifest
    matched automatically."""
    from datetime import timedelta

    from dockstation.policy import load_policy
    from dockstation.receiving.holds import match_holds, receive_held
    from store_helpers import add_rma

    hold = load_policy(None).hold
    clerk = next(o for o in bench.operators.operators if o.badge == "1001") if bench.operators.operators else None
    if clerk is None:
        from dockstation.config import Operator

        clerk = Operator(badge="1001", name="Casey Clerk", role="clerk")
    receive_held(store, bench, clerk, code="9400111201080805483016", hold=hold, now=NOW - timedelta(days=15))
    receive_held(store, bench, clerk, code="", order_id="O-[b]77", note="blue box", hold=hold,
                 now=NOW - timedelta(days=2))
    receive_held(store, bench, clerk, code="1Z999AA10123456784", hold=hold, now=NOW - timedelta(days=3))
    add_rma(store, "RMA-HOLD-1", [dict(sku="LMP-1", description="Lamp", category="home")], tracking="1Z999AA10123456784")
    assert len(match_holds(store, bench, now=NOW - timedelta(hours=1))) == 1
    app = lead_app()

    async def run_before(pilot):
        await open_lead(pilot, app)
        await press(pilot, "7")

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
