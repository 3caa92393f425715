"""The lead screen's Triggers tab (issue 20): its refresh applies the age triggers, and the tab
lists the units they moved today and why; a unit mid-inspection waits until it is free."""

from __future__ import annotations

from bench_seed import NOW
from test_lead_screen import lead_app, open_lead, press, text_of, utc, wait_for  # noqa: F401  (fixtures)

from sqlmodel import select

from dockstation.models import AgeFiring, Event, Unit

TRIGGERS = """
[[age_triggers]]
id = "bulk-waits"
state = "received"
after_hours = 24
when = { lane = "bulk" }
action = "lane"
lane = "express"
reason = "Waited a day in bulk: grade it next"

[[age_triggers]]
id = "express-late"
state = "received"
after_hours = 1
when = { lane = "express" }
action = "escalate"
reason = "Express unit not graded within the hour"
"""


def with_triggers(home):
    (home / "config" / "policy.toml").write_text(TRIGGERS)


async def test_refresh_applies_triggers_and_the_tab_lists_them(home, store, lead_app):
    with_triggers(home)
    app = lead_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lead(pilot, app)
        await wait_for(pilot, lambda: screen.moved_count == 3, "three firings")
        await press(pilot, "7")
        shown = text_of(app)
        # B07-00000005 moved to express, where the express trigger then raised it to the lead too
        assert "3 moved today" in shown and "1 wait: unit busy" in shown
        assert "B07-00000005" in shown and "→ express" in shown and "▲ lead" in shown and "B07-00000001" in shown
        assert "0005: Express unit not graded within the" in shown  # the newest, selected (cut at 80)
        screen.query_one("#triggers").focus()
        await press(pilot, "down", "down")  # the lane move: what it had, and why
        assert "0005 (was bulk): Waited a day in bulk" in text_of(app)
    with store.read() as s:
        assert s.get(Unit, "B07-00000005").lane == "express"
        # B07-00000002 is mid-inspection: deferred, untouched, no event
        firing = s.exec(select(AgeFiring).where(AgeFiring.lpn == "B07-00000002")).one()
        assert firing.status == "deferred" and firing.trigger_id == "express-late"
        fired = list(s.exec(select(Event).where(Event.kind == "age_trigger_fired")))
    assert "B07-00000002" not in {e.lpn for e in fired}
    assert sorted((e.lpn, e.payload["trigger_id"]) for e in fired) == [
        ("B07-00000001", "express-late"), ("B07-00000005", "bulk-waits"), ("B07-00000005", "express-late")]
    assert all(e.at.replace(tzinfo=None) == NOW.replace(tzinfo=None) for e in fired)


def test_lead_triggers_tab_snapshot_80x24(snap_compare, home, lead_app):
    with_triggers(home)
    app = lead_app()

    async def run_before(pilot):
        screen = await open_lead(pilot, app)
        await wait_for(pilot, lambda: screen.moved_count == 3, "three firings")
        await press(pilot, "7")

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
