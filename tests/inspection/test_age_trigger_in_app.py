"""Issue 20 at the bench: the app applies the age triggers on its own timer, and a unit a grader
has open — mid-inspection, then on the disposition screen — is untouched until they are done."""

from __future__ import annotations

from inspection_support import GTIN, UNGRADED_2D, aged, scan, wait_for
from sqlmodel import select

from dockstation.models import AgeFiring, Event, Unit
from dockstation.receiving.core import default_triage
from dockstation.tui.app import BenchApp
from dockstation.tui.disposition import DispositionScreen
from dockstation.tui.inspect import InspectScreen
from dockstation.tui.receive import ReceiveScreen

POLICY = "\nage_check_minutes = 0.005\n\n" + UNGRADED_2D


def firings(store, lpn: str) -> list[AgeFiring]:
    with store.read() as s:
        return list(s.exec(select(AgeFiring).where(AgeFiring.lpn == lpn)))


async def test_the_timer_applies_triggers_but_not_to_the_unit_in_the_graders_hands(home, store, receive):
    (home / "config" / "policy.toml").write_text(POLICY)
    busy, idle = receive("apparel"), receive("apparel")
    aged(store, busy, 3)
    app = BenchApp(home, store=store, triage=default_triage, start_services=False)
    app.wedge_enabled = False
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-2001", busy)
        await wait_for(pilot, lambda: isinstance(app.screen, InspectScreen) and app.screen.view is not None, "inspect")
        aged(store, idle, 3)  # now due too, and nobody has it
        passes = app.age_passes
        await wait_for(pilot, lambda: app.age_passes >= passes + 2, "two passes of the timer")
        assert [f.status for f in firings(store, idle)] == ["fired"]
        assert [f.status for f in firings(store, busy)] == ["deferred"]
        with store.read() as s:
            assert s.get(Unit, idle).lane == "express" and s.get(Unit, busy).lane != "express"
        await scan(pilot, app, "CMD:ALLPASS", "01" + "0" + GTIN)  # graded: on to its decision, still in hand
        await wait_for(pilot, lambda: isinstance(app.screen, DispositionScreen), "disposition")
        passes = app.age_passes
        await wait_for(pilot, lambda: app.age_passes >= passes + 2, "two more passes")
        assert [f.status for f in firings(store, busy)] == ["deferred"]
        await pilot.press("escape")
        await pilot.press("escape")  # leave it graded, undecided: put down
        await wait_for(pilot, lambda: isinstance(app.screen, ReceiveScreen), "back to receiving")
        await wait_for(pilot, lambda: [f.status for f in firings(store, busy)] == ["fired"], "applied after")
    with store.read() as s:
        u = s.get(Unit, busy)
        assert u.state == "graded" and u.lane == "express"
        (ev,) = s.exec(select(Event).where(Event.kind == "age_trigger_fired", Event.lpn == busy)).all()
    assert ev.payload["deferred"] is True and ev.payload["unit_state"] == "graded"
