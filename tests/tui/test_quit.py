"""Quitting needs a person's deliberate Y (issue 14, item 2); the real terminal: tests/e2e."""

from __future__ import annotations

from tui_helpers import burst, scan, see, wait_for

from dockstation.tui.quit import QuitScreen


async def test_a_y_before_the_question_is_ready_or_inside_a_burst_does_not_quit(make_app, manifest):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-1001")
        await pilot.press("ctrl+q")  # held for the wedge's gap (a burst could follow), then asks
        await wait_for(pilot, lambda: isinstance(app.screen, QuitScreen), "the question")
        await pilot.press("y")  # too soon: a scanner's burst could have sent it
        await wait_for(pilot, lambda: app.screen.last_key > app.screen.opened, "the Y to arrive")
        assert isinstance(app.screen, QuitScreen) and not app._exit
        await see(pilot, app, "Press Y to quit")
        burst(app, "y\r")  # a Y with a neighbour a few ms away: part of a burst
        await pilot.pause(0.3)
        assert isinstance(app.screen, QuitScreen) and not app._exit
        await scan(pilot, app, "RMA-2026-000001")  # a scan is handled, and the question goes
        assert not isinstance(app.screen, QuitScreen) and app.current_lpn == "B07-00000001"


async def test_n_stays_and_a_lone_y_after_the_pause_quits_and_signs_out(make_app, manifest):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-1001")
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, QuitScreen), "the question")
        await pilot.press("n")
        await wait_for(pilot, lambda: not isinstance(app.screen, QuitScreen), "the question gone")
        await pilot.press("ctrl+q")
        await see(pilot, app, "Press Y to quit")
        await pilot.press("y")
        await wait_for(pilot, lambda: app._exit, "the app to exit")
    assert app.return_code == 0
    from tui_helpers import db

    kinds = [k for (k,) in db(app.home).execute("SELECT kind FROM event ORDER BY seq")]
    assert kinds[-1] == "operator_signed_out"
