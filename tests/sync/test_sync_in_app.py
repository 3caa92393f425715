"""The bench TUI runs the sync client in the background: scans reach HQ, the header says so."""

from __future__ import annotations

import time

from sync_support import bench_events, hq_events

from dockstation.receiving.core import default_triage
from dockstation.scan import ScanEvent
from dockstation.tui.app import BenchApp


async def wait(pilot, condition, what: str, deadline_s: float = 15.0) -> None:
    deadline = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.05)


async def test_events_of_the_bench_reach_hq_while_it_runs(hq, hq_db, make_bench):
    bench = make_bench(url=hq.url)
    app = BenchApp(bench.home, store=bench.store, triage=default_triage, start_services=True)
    async with app.run_test(size=(80, 24)) as pilot:
        app.enqueue_scan(ScanEvent("OP-1001", "keyboard", None, app.clock()))
        await wait(pilot, lambda: app.operator is not None, "sign-in")
        await wait(pilot, lambda: len(hq_events(hq_db, "B07")) == len(bench_events(bench)) > 0,
                   "HQ holding the bench's events")
        await wait(pilot, lambda: app.slots["sync"].level == "ok", "sync slot ok")
        assert "0 pending" in app.slots["sync"].text or "online" in app.slots["sync"].text
    assert [e[0] for e in hq_events(hq_db, "B07")] == [e[0] for e in bench_events(bench)]


async def test_a_refused_token_shows_in_the_header_and_the_bench_keeps_receiving(hq, make_bench):
    bench = make_bench(url=hq.url, token="not-a-token")
    app = BenchApp(bench.home, store=bench.store, triage=default_triage, start_services=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait(pilot, lambda: app.slots["sync"].level == "error", "sync slot error")
        app.enqueue_scan(ScanEvent("OP-1001", "keyboard", None, app.clock()))
        await wait(pilot, lambda: app.operator is not None, "sign-in while HQ refuses")
