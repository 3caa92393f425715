"""Issue 20 at the bench: the age triggers' timer follows the policy in force without a restart —
a changed `age_check_minutes` takes effect, and a new policy version runs a pass at once."""

from __future__ import annotations

from inspection_support import UNGRADED_2D, aged, wait_for
from sqlmodel import select

from dockstation.models import AgeFiring
from dockstation.receiving.core import default_triage
from dockstation.tui.app import BenchApp

TRIGGER = "\n" + UNGRADED_2D

NEXT = """
[[age_triggers]]
id = "ungraded-1d"
state = "received"
after_days = 1
action = "escalate"
reason = "Waiting a day to be graded"
"""


def fired(store) -> set[tuple[str, str]]:
    with store.read() as s:
        return {(f.lpn, f.trigger_id) for f in s.exec(select(AgeFiring))}


async def test_a_changed_check_interval_and_a_new_policy_apply_without_a_restart(home, store, receive):
    policy_file = home / "config" / "policy.toml"
    policy_file.write_text("age_check_minutes = 600\n" + TRIGGER)  # every 10 hours
    first = receive("apparel")
    aged(store, first, 3)
    app = BenchApp(home, store=store, triage=default_triage, start_services=False)
    app.wedge_enabled = False
    app.AGE_TICK_S = 0.05  # the timer looks at the policy often (30 s in use)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.age_minutes == 600, "the timer running by the policy")
        await pilot.pause(0.5)  # ten ticks: none is due under a 10-hour interval
        assert app.age_passes == 0 and fired(store) == set()

        policy_file.write_text("age_check_minutes = 0.005\n" + TRIGGER)  # the same version, every 0.3 s
        await wait_for(pilot, lambda: app.age_passes >= 2, "passes at the new interval")
        assert fired(store) == {(first, "ungraded-2d")}

        # a new version (as a pull from HQ or an edit brings) with a new trigger, back to 10 hours:
        # its pass runs at once, not 10 hours later
        second = receive("apparel")
        aged(store, second, 1.5)
        await wait_for(pilot, lambda: not app.age_running, "the pass in flight done")
        policy_file.write_text('version = "2026.12-reload"\nage_check_minutes = 600\n' + TRIGGER + NEXT)
        await wait_for(pilot, lambda: (second, "ungraded-1d") in fired(store), "the new version's pass")
        assert app.age_version == "2026.12-reload" and app.age_minutes == 600
        await wait_for(pilot, lambda: not app.age_running, "that pass done")
        passes = app.age_passes
        await pilot.pause(0.5)
        assert app.age_passes == passes  # and then by its own interval again
    assert fired(store) == {(first, "ungraded-2d"), (first, "ungraded-1d"), (second, "ungraded-1d")}
