"""Snapshots of the disposition screen (pytest-textual-snapshot) at 80x24 and 120x40.

Deterministic: a fixed clock, UTC, graded units written straight to the store. Update after a
deliberate change with `pytest tests/policy/test_disposition_snapshot.py --snapshot-update` and
review the SVGs.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from dockstation.receiving.core import default_triage
from dockstation.scan import ScanEvent
from dockstation.tui.app import BenchApp
from dockstation.tui.disposition import DispositionScreen

from policy_support import graded

FIXED = datetime(2026, 11, 23, 9, 30, 0, tzinfo=UTC)
DEADLINE_S = 10.0


@pytest.fixture
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def wait_for(pilot, condition, what):
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.02)


def make(home, store) -> BenchApp:
    return BenchApp(home, store=store, triage=default_triage, clock=lambda: FIXED, start_services=False)


async def show(pilot, app: BenchApp, lpn: str) -> None:
    for code in ("OP-2001", lpn):
        done = app.scans_done + 1
        app.enqueue_scan(ScanEvent(code, "test", None, FIXED))
        await wait_for(pilot, lambda: app.scans_done >= done, code)
    await wait_for(pilot, lambda: isinstance(app.screen, DispositionScreen) and app.screen.mode == "proposal",
                   "the disposition screen")
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_restock_proposal(snap_compare, home, store, utc, size):
    lpn = graded(store, 101, category="apparel", grade="A", price="40.00", at=FIXED)
    app = make(home, store)

    async def run_before(pilot) -> None:
        await show(pilot, app, lpn)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_a_decision_that_needs_a_lead_with_a_long_description(snap_compare, home, store, utc, size):
    """The header keeps the LPN, price, grade and category whatever the description's length."""
    lpn = graded(store, 102, category="home", grade="D", price="1399.00", at=FIXED)
    with store.write() as s:
        from dockstation.models import Unit

        u = s.get(Unit, lpn)
        u.description = "Cordless stick vacuum cleaner with wall dock, two batteries and a very long name " * 2
        s.add(u)
    app = make(home, store)

    async def run_before(pilot) -> None:
        await show(pilot, app, lpn)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
