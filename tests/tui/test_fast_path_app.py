"""The grader's fast path in the real app: what a unit costs on the screens (bench_flow.py)."""

from __future__ import annotations

import pytest
from tui_helpers import scan, wait_for

from dockstation.policy import dispose as dispose_module
from dockstation.tui import disposition as disposition_module
from dockstation.tui.disposition import DispositionScreen

IMEI = "356938035643809"  # RMA-2026-000001's phone (tests/conftest.py `manifest`)


@pytest.fixture
def proposes(monkeypatch) -> list[str]:
    """Every `propose` the disposition screen makes (a read transaction of its own)."""
    calls: list[str] = []

    def counted(store, bench, lpn, **kw):
        calls.append(lpn)
        return dispose_module.propose(store, bench, lpn, **kw)

    monkeypatch.setattr(disposition_module, "propose", counted)
    return calls


async def test_the_disposition_shows_the_proposal_made_by_the_grading_commit(make_app, manifest, proposes):
    """Without HQ (no pinned policy) too: the value scan that grades the unit gets the policy's
    proposal in its transaction, and the disposition screen reads nothing more."""
    app = make_app()
    assert getattr(app, "policy", None) is None  # no HQ: the home's policy files
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-2001", "RMA-2026-000001", "CMD:ALLPASS", IMEI)
        await wait_for(pilot, lambda: isinstance(app.screen, DispositionScreen) and app.screen.mode == "proposal",
                       "the proposal")
        assert app.screen.proposal is not None and app.screen.proposal.lpn == app.screen.lpn
        assert proposes == []
        await scan(pilot, app, "CMD:DONE")
        await wait_for(pilot, lambda: app.screen is app.receive_screen, "back at receiving")
        assert proposes == []


async def test_a_footer_under_another_screen_does_not_look_at_its_keys_until_shown_again(make_app, manifest,
                                                                                        monkeypatch):
    """The receiving screen's keys change while the unit's inspection is up (the unit in hand
    is graded): nothing is computed for a footer nobody sees; back at receiving it shows the
    keys of now."""
    from dockstation.tui.widgets.footer import BenchFooter

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-2001", "RMA-2026-000001")
        footer = app.receive_screen.query_one(BenchFooter)
        with_hand = footer._text.plain
        await scan(pilot, app, "CMD:ALLPASS")  # the phone's IMEI is still to scan: the inspect screen
        looks: list[object] = []
        real = BenchFooter._shown_now
        monkeypatch.setattr(BenchFooter, "_shown_now", lambda self: (looks.append(self), real(self))[1])
        app.receive_screen.refresh_bindings()
        await scan(pilot, app, IMEI)  # graded: nothing in hand any more (the receiving screen's keys change)
        await wait_for(pilot, lambda: isinstance(app.screen, DispositionScreen), "the disposition")
        assert footer not in looks
        await scan(pilot, app, "CMD:DONE")
        await wait_for(pilot, lambda: app.screen is app.receive_screen, "back at receiving")
        await pilot.pause()
        shown = footer._draw(real(footer))[0].plain
        assert shown != with_hand and footer._text.plain == shown
        assert app.screen._compositor.render_strips()[-1].text.rstrip() == shown


async def test_the_entry_takes_the_focus_back_when_the_receiving_screen_is_shown_not_before(make_app, manifest):
    """Graded on the inspect screen: nothing is in hand any more, but the receiving screen's
    entry is focused (a restyle) only when that screen is shown again — typing works there as
    before, and the grader does not wait for it to see the disposition."""
    from textual.widgets import Input

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-2001", "RMA-2026-000001")
        entry = app.receive_screen.query_one("#entry", Input)
        assert not entry.has_focus  # a unit in hand: keys answer it
        await scan(pilot, app, "CMD:ALLPASS", IMEI)
        await wait_for(pilot, lambda: isinstance(app.screen, DispositionScreen), "the disposition")
        assert app.in_hand is None and app.receive_screen.focused is None
        await scan(pilot, app, "CMD:DONE")
        await wait_for(pilot, lambda: app.screen is app.receive_screen and entry.has_focus, "the entry focused")
        await pilot.press("x")  # a person's key (held a moment by the wedge detector): typed there
        await wait_for(pilot, lambda: entry.value == "x", "x typed into the entry")


async def test_all_pass_on_the_unit_in_hand_draws_the_inspect_screen_once(make_app, manifest, monkeypatch):
    """The screen is loaded with the all-pass result and drawn; showing that same result does not
    draw it again — on the first unit (a new screen) and the next (the screen reused)."""
    from store_helpers import add_rma

    from dockstation.tui.inspect import InspectScreen

    add_rma(manifest, "RMA-2026-000009", [dict(sku="PHN-2", gtin="04006381333931", description="Phone Y",
                                               category="phones", expected_serial=IMEI, reason_code="defective",
                                               unit_price="99.00")])
    draws: list[object] = []
    real = InspectScreen._draw
    monkeypatch.setattr(InspectScreen, "_draw", lambda self: (draws.append(self.view), real(self))[1])
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-2001")
        for rma in ("RMA-2026-000001", "RMA-2026-000009"):
            draws.clear()
            await scan(pilot, app, rma, "CMD:ALLPASS")
            await wait_for(pilot, lambda: isinstance(app.screen, InspectScreen) and app.screen.view.all_pass,
                           "all pass shown")
            assert len(draws) == 1 and draws[0] is app.screen.view
            assert "IMEI" in app.screen.query_one("#i-prompt").visual.plain  # the step left: its value
            await scan(pilot, app, IMEI, "CMD:DONE")
            await wait_for(pilot, lambda: app.screen is app.receive_screen, "back at receiving")
