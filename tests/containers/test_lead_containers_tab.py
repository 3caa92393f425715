"""The lead screen's Containers tab (Pilot, 80x24): open containers with fill, age and value;
closed today; units waiting to be sorted with their age; `n` opens one, `u` reopens (a reason)."""

from __future__ import annotations

import time

import pytest
from containers_support import disposed, events_of, operator

from dockstation import containers as ct
from dockstation.policy import load_policy, make_triage
from dockstation.scan import ScanEvent
from dockstation.tui.app import BenchApp
from dockstation.tui.lead import LeadScreen
from dockstation.types import utcnow


async def wait_for(pilot, condition, what):
    deadline = time.monotonic() + 10  # against hanging only
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.02)


async def press(pilot, *keys):
    for key in keys:  # a person's keys: the wedge detector releases them after a few tens of ms
        await pilot.press(key)
        await pilot.pause(0.1)
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


def text_of(app) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


@pytest.fixture
def app(home, store):
    return BenchApp(home, store=store, triage=make_triage(load_policy(home)), start_services=False)


async def test_the_containers_tab(app, store, bench, policy):
    box = ct.open_container(store, "B07", "9001", policy=policy, paths=["liquidate"]).id
    done = ct.open_container(store, "B07", "9001", policy=policy, paths=["liquidate"]).id
    a = disposed(store, bench, policy, 1, grade="C", price="40.00")
    b = disposed(store, bench, policy, 2, grade="C", price="40.00")
    waiting = disposed(store, bench, policy, 3, grade="D", price="30.00")
    ct.put(store, "B07", "2001", a, box, policy=policy)
    ct.put(store, "B07", "2001", b, done, policy=policy)
    ct.close(store, "B07", operator(bench, "grader"), done)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.receive_screen.is_mounted, "receive screen")
        n = app.scans_done
        app.enqueue_scan(ScanEvent("OP-9001", "test", None, utcnow()))
        await wait_for(pilot, lambda: app.scans_done > n, "sign-in")
        await press(pilot, "f3")
        await wait_for(pilot, lambda: isinstance(app.screen, LeadScreen) and app.screen.refreshes >= 1, "lead")
        await press(pilot, "6")
        text = text_of(app)
        assert "1 open · value 10.00 · 1 closed today" in text
        assert box in text and "1/400" in text and done in text
        assert "1 disposed, not sorted" in text and waiting in text

        screen = app.screen
        await press(pilot, "n")
        assert screen.mode == "container_path"
        paths = list(policy.paths)
        await press(pilot, str(paths.index("recycle") + 1))
        await wait_for(pilot, lambda: screen.mode is None and len(ct.containers(store, state="open")) == 2,
                       "the new container")
        new = [c for c in ct.containers(store, state="open") if c.id != box][0]
        assert new.paths == ["recycle"] and new.opened_by == "9001"

        await wait_for(pilot, lambda: new.id in text_of(app), "the refresh")
        table = screen.query_one("#containers")
        table.move_cursor(row=table.get_row_index(done))
        await press(pilot, "u")
        assert screen.mode == "container_reason"
        await press(pilot, *"room left", "enter")
        await wait_for(pilot, lambda: ct.get(store, done).state == "open", "reopened")
    assert events_of(store, kind="container_reopened")[-1].payload["reason"] == "room left"


def test_containers_tab_snapshot_80x24(snap_compare, home, store, bench, policy):
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    box = ct.open_container(store, "B07", "9001", policy=policy, paths=["liquidate"], now=now - timedelta(hours=5)).id
    rtv = ct.open_container(store, "B07", "9001", policy=policy, paths=["vendor_return"], vendor="soundco",
                            now=now - timedelta(hours=30)).id
    done = ct.open_container(store, "B07", "9001", policy=policy, paths=["donate"], now=now - timedelta(hours=9)).id
    for i, grade in enumerate("CCD", 1):
        lpn = disposed(store, bench, policy, i, grade=grade, price="40.00")
        ct.put(store, "B07", "2001", lpn, box, policy=policy, now=now - timedelta(hours=4))
    ct.put(store, "B07", "2001", disposed(store, bench, policy, 4, category="headphones", grade="D", price="90.00",
                                           reason_code="defective"), rtv, policy=policy, now=now - timedelta(hours=3))
    ct.put(store, "B07", "2001", disposed(store, bench, policy, 5, category="toys", grade="C", price="9.00"),
           done, policy=policy, now=now - timedelta(hours=3))
    ct.close(store, "B07", operator(bench, "grader"), done, now=now - timedelta(hours=1))
    from dockstation.models import Unit

    waiting = [disposed(store, bench, policy, i, grade="C", price="40.00") for i in (6, 7)]
    with store.write() as s:  # two units disposed, not sorted yet: ages from a fixed disposal time
        for i, lpn in zip((6, 7), waiting, strict=True):
            u = s.get(Unit, lpn)
            u.disposed_at = now - timedelta(hours=i)
            s.add(u)
    app = BenchApp(home, store=store, triage=make_triage(policy), clock=lambda: now, start_services=False)

    async def run_before(pilot):
        await wait_for(pilot, lambda: app.receive_screen.is_mounted, "receive screen")
        n = app.scans_done
        app.enqueue_scan(ScanEvent("OP-9001", "test", None, now))
        await wait_for(pilot, lambda: app.scans_done > n, "sign-in")
        await press(pilot, "f3")
        await wait_for(pilot, lambda: isinstance(app.screen, LeadScreen) and app.screen.refreshes >= 1, "lead")
        await press(pilot, "6")

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
