"""Sorting at the bench in the real BenchApp (Textual Pilot): scan sequences through the one
dispatcher — put, refusals with the error sound and nothing stored, a move, CMD:CLOSE, an RTV
box's authorisation, a preprinted container opened on a second scan, a lead's redisposition."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from containers_support import events_of, graded
from sqlmodel import select

from dockstation import containers as ct
from dockstation.models import ContainerUnit, Event
from dockstation.policy import load_policy, make_triage
from dockstation.scan import ScanEvent
from dockstation.tui.app import BenchApp
from dockstation.tui.disposition import DispositionScreen
from dockstation.types import utcnow

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tui"))
from tui_helpers import state_line  # noqa: E402


async def dispatch(pilot, app: BenchApp, *codes: str) -> None:
    target = app.scans_done + len(codes)
    for code in codes:
        app.enqueue_scan(ScanEvent(code, "test", None, utcnow()))
    deadline = time.monotonic() + 10  # against hanging only
    while app.scans_done < target:
        assert time.monotonic() < deadline, "scans not handled"
        await pilot.pause(0.02)
    await pilot.pause()


async def wait_for(pilot, condition, what: str) -> None:
    deadline = time.monotonic() + 10  # against hanging only
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.02)


def where(store, lpn):
    with store.read() as s:
        row = s.get(ContainerUnit, lpn)
        return row.container_id if row else None


def n_events(store) -> int:
    with store.read() as s:
        return len(s.exec(select(Event)).all())


@pytest.fixture
def app(home, store):
    return BenchApp(home, store=store, triage=make_triage(load_policy(home)), start_services=False)


async def test_dispose_then_put_refuse_move_and_close(app, store, policy):
    liq1 = ct.open_container(store, "B07", "9001", policy=policy, paths=["liquidate"]).id
    restock = ct.open_container(store, "B07", "9001", policy=policy, paths=["restock"]).id
    liq2 = ct.open_container(store, "B07", "9001", policy=policy, paths=["liquidate"]).id
    lpn = graded(store, 1, category="home", grade="C", price="40.00")  # liquidate-c-d
    async with app.run_test(size=(80, 24)) as pilot:
        await dispatch(pilot, app, "OP-2001")
        await app.push_screen(DispositionScreen(lpn))
        await pilot.pause()
        await dispatch(pilot, app, liq1)  # moving on accepts, then the unit goes in
        assert app.screen is app.receive_screen
        assert where(store, lpn) == liq1
        assert f"{lpn} → {liq1}" in state_line(app) and app.sound.history[-1] == "ok"

        before = n_events(store)
        await dispatch(pilot, app, restock)  # another path: refused, nothing stored
        assert app.sound.history[-1] == "error" and "nothing stored" in state_line(app)
        assert where(store, lpn) == liq1 and n_events(store) == before

        await dispatch(pilot, app, lpn, liq2)  # the unit, then another container: moved
        assert where(store, lpn) == liq2
        assert events_of(store, lpn, "unit_moved")[-1].payload["from"] == liq1

        await dispatch(pilot, app, "CMD:CLOSE", liq2)
        assert ct.get(store, liq2).state == "closed"
        assert "lot grade C" in state_line(app)
        assert (app.home / "containers" / f"{liq2}-manifest.pdf").is_file()

        other = graded(store, 2, category="home", grade="D", price="30.00")
        await app.push_screen(DispositionScreen(other))
        await pilot.pause()
        await dispatch(pilot, app, "CMD:DONE")
        await wait_for(pilot, lambda: liq1 in state_line(app), "the container named after the disposition")
        before = n_events(store)
        await dispatch(pilot, app, liq2)  # closed: refused
        assert app.sound.history[-1] == "error" and "closed" in state_line(app)
        assert where(store, other) is None and n_events(store) == before
        await dispatch(pilot, app, liq1)
        assert where(store, other) == liq1


async def test_an_rtv_box_asks_for_the_authorisation_when_closed(app, store, policy):
    box = ct.open_container(store, "B07", "9001", policy=policy, paths=["vendor_return"]).id
    lpn = graded(store, 1, category="headphones", grade="D", price="90.00", reason_code="defective")
    async with app.run_test(size=(80, 24)) as pilot:
        await dispatch(pilot, app, "OP-2001")
        await app.push_screen(DispositionScreen(lpn))
        await pilot.pause()
        await dispatch(pilot, app, box)
        assert where(store, lpn) == box
        await dispatch(pilot, app, "CMD:CLOSE", box)
        assert ct.get(store, box).state == "open" and "authorisation" in state_line(app)
        await dispatch(pilot, app, lpn)  # a unit's LPN is never taken for the RA: the close is off
        assert ct.get(store, box).state == "open" and app.closing is None
        await dispatch(pilot, app, "CMD:CLOSE", box)
        await dispatch(pilot, app, "RA-SC-7781")  # scanned (or typed) next: the RA number
        c = ct.get(store, box)
        assert c.state == "closed" and c.authorisation == "RA-SC-7781" and c.vendor == "soundco"


async def test_a_preprinted_container_is_opened_on_the_second_scan(home, store):
    (home / "config" / "codes.toml").write_text("[patterns]\ncontainer_preprinted = '^GL[0-9]{6}$'\n")
    app = BenchApp(home, store=store, triage=make_triage(load_policy(home)), start_services=False)
    lpn = graded(store, 1, category="home", grade="C", price="40.00")
    async with app.run_test(size=(80, 24)) as pilot:
        await dispatch(pilot, app, "OP-2001")
        await app.push_screen(DispositionScreen(lpn))
        await pilot.pause()
        await dispatch(pilot, app, "GL000123")
        assert ct.get(store, "GL000123") is None and "scan it again" in state_line(app)
        await dispatch(pilot, app, "GL000123")
        c = ct.get(store, "GL000123")
        assert c is not None and c.paths == ["liquidate"] and where(store, lpn) == "GL000123"


async def test_a_lead_redisposes_a_sorted_unit_and_it_leaves_its_container(app, store, policy):
    box = ct.open_container(store, "B07", "9001", policy=policy, paths=["liquidate"]).id
    lpn = graded(store, 1, category="home", grade="C", price="40.00")
    async with app.run_test(size=(80, 24)) as pilot:
        await dispatch(pilot, app, "OP-2001")
        await app.push_screen(DispositionScreen(lpn))
        await pilot.pause()
        await dispatch(pilot, app, box)
        assert where(store, lpn) == box
        await dispatch(pilot, app, "OP-9001", lpn)  # the lead scans the unit: its disposition again
        screen = app.screen
        assert isinstance(screen, DispositionScreen)
        await wait_for(pilot, lambda: screen.proposal is not None, "the proposal")
        assert screen.proposal.kind == "redisposition"
        await pilot.press("o")
        await wait_for(pilot, lambda: screen.mode == "choose_path", "the path picker")
        donate = [o.path for o in screen.proposal.options].index("donate") + 1
        await pilot.press(str(donate))
        await wait_for(pilot, lambda: screen.wants_badge, "the badge prompt")
        await dispatch(pilot, app, "OP-9001")
        await wait_for(pilot, lambda: screen.mode == "choose_reason", "the reason")
        await pilot.press("4")
        await wait_for(pilot, lambda: app.screen is app.receive_screen, "back to receiving")
    assert where(store, lpn) is None and ct.get(store, box).units == 0
    kinds = [e.kind for e in events_of(store, lpn)]
    assert "unit_unsorted" in kinds and kinds.count("unit_disposed") == 2


async def test_a_container_scan_never_sorts_a_unit_put_down_earlier(app, store, bench, policy):
    box = ct.open_container(store, "B07", "9001", policy=policy, paths=["liquidate"]).id
    lpn = graded(store, 1, category="home", grade="C", price="40.00")
    other = graded(store, 2, category="home", grade="C", price="40.00")
    async with app.run_test(size=(80, 24)) as pilot:
        await dispatch(pilot, app, "OP-2001")
        await app.push_screen(DispositionScreen(lpn))
        await pilot.pause()
        await dispatch(pilot, app, "CMD:DONE")
        await wait_for(pilot, lambda: app.screen is app.receive_screen, "back to receiving")
        app.current_lpn = other  # another unit received or opened since
        before = n_events(store)
        await dispatch(pilot, app, box)
        assert where(store, lpn) is None and n_events(store) == before
        assert "LPN first" in state_line(app)
