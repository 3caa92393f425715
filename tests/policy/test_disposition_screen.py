"""DispositionScreen driven by Textual's Pilot in a tiny host app (the real app provides the same
attributes: store, bench, config, operator, beep)."""

from __future__ import annotations

from datetime import UTC, datetime

from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widgets import Static

from dockstation.config import load_bench_config
from dockstation.scan import ScanEvent, classify
from dockstation.tui.disposition import DispositionScreen
from dockstation.tui.widgets import BigText

from policy_support import decisions_of, events_of, graded, operator, unit


class Receive(Screen[None]):
    def compose(self) -> ComposeResult:
        yield Static("receive")


class Host(App[None]):
    def __init__(self, home, store, bench, lpn, role="grader") -> None:
        super().__init__()
        self.store, self.bench, self.config = store, bench, load_bench_config(home)
        self.operator = operator(bench, role)
        self.lpn = lpn
        self.beeps: list[bool] = []

    def beep(self, ok: bool) -> None:
        self.beeps.append(ok)

    def on_mount(self) -> None:
        self.push_screen(Receive())
        self.push_screen(DispositionScreen(self.lpn))


async def scan(app: Host, code: str) -> bool:
    c = classify(code, app.bench.codes.patterns)
    return await app.screen.handle_scan(ScanEvent(code, "test", None, datetime.now(UTC)), c)


def text_of(app: Host, selector: str) -> str:
    if selector == "#path":  # the big text: its plain text (state symbol and path)
        return app.screen.query_one(selector, BigText).text
    return str(app.screen.query_one(selector, Static).render())


async def test_accept_disposes_queues_and_goes_back_to_receive(home, store, bench):
    lpn = graded(store, 1, category="apparel", grade="A", price="40.00")
    app = Host(home, store, bench, lpn)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, DispositionScreen)
        assert text_of(app, "#path") == "✔ RESTOCK"  # the state symbol, then the path
        body = text_of(app, "#body")
        assert "Rule restock-a: Like new and complete" in body and "→ Sellable stock" in body
        assert "Recovery estimate 38.00" in body and "Refund: FULL 40.00" in body
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, Receive)
        assert app.beeps == [True]
        assert unit(store, lpn).disposition == "restock"
        assert any("restock" in n.message for n in app._notifications)


async def test_override_needs_a_lead_badge_clerk_refused_then_lead_accepted(home, store, bench):
    lpn = graded(store, 2, category="apparel", grade="B", price="59.00")
    app = Host(home, store, bench, lpn)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("o")
        assert "Override: pick the path" in text_of(app, "#body")
        await pilot.press("7")  # donate (paths in their standard order)
        screen = app.screen
        assert screen.mode == "await_badge" and screen.pending_path == "donate"
        assert "Lead: scan your badge" in text_of(app, "#body") and "DONATE" in text_of(app, "#path")
        assert await scan(app, "OP-1001") is True  # a clerk's badge: consumed, refused, audited
        await pilot.pause()
        assert "only a lead can approve" in text_of(app, "#status") and app.beeps == [False]
        assert [e.kind for e in events_of(store, lpn)] == ["approval_refused"]
        assert screen.mode == "await_badge"
        assert await scan(app, "OP-9001") is True
        await pilot.pause()
        assert screen.mode == "choose_reason" and "Local demand" in text_of(app, "#body")
        await pilot.press("4")  # local_demand
        await pilot.pause()
        assert isinstance(app.screen, Receive)
    [d] = decisions_of(store, lpn)
    assert (d.kind, d.path, d.approved_by, d.approval_reason) == ("override", "donate", "9001", "local_demand")
    assert [e.kind for e in events_of(store, lpn)] == ["approval_refused", "unit_disposed", "refund_recommended",
                                                       "label_queued"]


async def test_a_policy_path_that_needs_a_lead_waits_for_the_badge(home, store, bench):
    lpn = graded(store, 3, category="home", grade="D", price="399.00")
    app = Host(home, store, bench, lpn)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "Needs a lead" in text_of(app, "#body") and text_of(app, "#path") == "! LIQUIDATE"
        assert await scan(app, "CMD:DONE") is True
        assert app.screen.mode == "await_badge"
        assert await scan(app, "CMD:CANCEL") is True
        assert app.screen.mode == "proposal"
        assert await scan(app, "OP-2001") is False  # not a lead's badge: a sign-in for the app
        await pilot.press("escape")  # leaving asks first
        await pilot.pause()
        assert app.screen.mode == "confirm_leave" and "without a decision" in text_of(app, "#body")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, Receive)
        assert any("left graded, no disposition" in n.message for n in app._notifications)
    assert unit(store, lpn).state == "graded" and events_of(store, lpn) == []


async def test_untrusted_text_is_shown_literally_and_errors_are_shown(home, store, bench):
    lpn = graded(store, 4, category="apparel", grade="A")
    with store.write() as s:
        from dockstation.models import Unit

        u = s.get(Unit, lpn)
        u.description = "[@click=app.quit]Shirt[/] \x1b]2;PWNED\x07"
        s.add(u)
    app = Host(home, store, bench, lpn)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        head = text_of(app, "#unit")
        assert "[@click=app.quit]Shi" in head and "\x1b" not in head  # literal (cut to the width)
    missing = Host(home, store, bench, "B07-99999999")
    async with missing.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "unknown unit" in text_of(missing, "#status")
