"""Faults between bench and HQ: afterwards HQ holds exactly the bench's events, once each.

Each fault is real: HQ stopped, a loopback proxy that cuts the connection mid-request or drops
HQ's answer after HQ committed, an HQ process killed (SIGKILL) inside its transaction, pushes
racing each other. Run on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from netfaults import FaultProxy, HQServer, free_port
from sqlalchemy import func, select

from sync.hq.app import create_app
from sync.hq.db import HqEvent, HqRma
from sync.hq.manifest_import import import_rmas
from sync.station_store import ACKED, kv_get

from sync_support import assert_hq_holds_exactly, bench_events, hq_events

HERE = Path(__file__).resolve().parent


def hq_count(db) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(HqEvent.__table__)).scalar_one()


def add_rmas(db, n: int, start: int = 1) -> None:
    t = datetime(2026, 11, 1, tzinfo=UTC)
    rmas = {f"RMA-2026-{i:06d}": (f"O-{i}", t, t + timedelta(days=30), "open") for i in range(start, start + n)}
    lines = {rid: [(rid, 1, f"SKU-{rid[-3:]}", None, "Thing", "home", 1, "10.00", "USD", None, "changed_mind", None, None)]
             for rid in rmas}
    import_rmas(db, rmas, lines)


def test_hq_down_then_back(hq_db, make_bench, tmp_path):
    port = free_port()
    bench = make_bench(url=f"http://127.0.0.1:{port}")
    bench.record(120)
    report = bench.client(batch_size=50).sync_once()
    assert (report.outcome, report.exit_code, report.pending) == ("partial", 2, 120)
    assert "unreachable" in report.message and hq_count(hq_db) == 0
    server = HQServer(create_app(hq_db), port=port).start()
    try:
        report = bench.client(batch_size=50).sync_once()
    finally:
        server.stop()
    assert (report.outcome, report.pending) == ("ok", 0)
    assert_hq_holds_exactly(hq_db, bench)


def test_connection_cut_mid_batch_stores_nothing_of_that_batch(hq_db, proxy, make_bench):
    bench = make_bench(url=proxy.url)
    bench.record(120)
    proxy.fail_next("cut_request", skip=1)  # the second batch is cut half-way through its body
    client = bench.client(batch_size=50)
    report = client.sync_once()
    assert proxy.fired["cut_request"] == 1 and report.outcome == "partial"
    assert [e[0] for e in hq_events(hq_db, "B07")] == list(range(1, 51))  # batch 1 whole, batch 2 not at all
    assert int(kv_get(bench.store, ACKED)) == 50
    report = client.sync_once()
    assert (report.outcome, report.pending) == ("ok", 0)
    assert_hq_holds_exactly(hq_db, bench)


def test_answer_lost_after_hq_committed_is_not_stored_twice(hq_db, proxy, make_bench):
    bench = make_bench(url=proxy.url)
    bench.record(80)
    proxy.fail_next("drop_response")
    client = bench.client(batch_size=100)
    report = client.sync_once()
    assert proxy.fired["drop_response"] == 1 and report.outcome == "partial"
    assert hq_count(hq_db) == 80  # HQ committed the batch...
    assert int(kv_get(bench.store, ACKED, "0")) == 0  # ...and the bench never heard
    report = client.sync_once()  # sends the same batch again
    assert (report.outcome, report.pending) == ("ok", 0)
    assert_hq_holds_exactly(hq_db, bench)


def test_manifest_page_lost_or_cut_mid_pull_then_complete(hq_db, proxy, make_bench):
    add_rmas(hq_db, 250)
    bench = make_bench(url=proxy.url)
    client = bench.client(page_limit=100)
    proxy.fail_next("drop_response", match=b"GET /api/v1/manifest", skip=1)  # page 2's answer never arrives
    assert client.sync_once().outcome == "partial"
    with bench.store.read() as s:
        from dockstation.models import Rma

        assert len(s.exec(select(Rma)).scalars().all()) == 100  # page 1 committed with its cursor
    report = client.sync_once()
    assert report.outcome == "ok"
    with bench.store.read() as s:
        ids = sorted(r.rma_id for r in s.exec(select(Rma)).scalars().all())
    with hq_db.read() as conn:
        assert ids == sorted(conn.execute(select(HqRma.__table__.c.rma_id)).scalars())
    assert_hq_holds_exactly(hq_db, bench)  # including the manifest_synced events of each page


def test_duplicate_concurrent_pushes_from_one_bench(hq_db, hq, make_bench):
    bench = make_bench(url=hq.url)
    bench.record(1500)
    clients = [bench.client(batch_size=100) for _ in range(3)]  # e.g. the TUI loop and `dockstation sync`
    barrier = threading.Barrier(len(clients))
    reports = []

    def go(client) -> None:
        barrier.wait()
        reports.append(client.sync_once())

    threads = [threading.Thread(target=go, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.outcome for r in reports] == ["ok"] * 3
    final = clients[0].sync_once()
    assert (final.outcome, final.pending) == ("ok", 0)
    assert_hq_holds_exactly(hq_db, bench)


def test_hq_killed_mid_batch_and_restarted(hq_db, db_url, make_bench, tmp_path):
    port, hold = free_port(), tmp_path / "hold"
    bench = make_bench(url=f"http://127.0.0.1:{port}")
    bench.record(60)
    reached = Path(f"{hold}.reached")

    def start() -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, str(HERE / "hq_proc.py"), db_url, str(port), str(hold)],
                                env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    return proc
            except httpx.TransportError:
                time.sleep(0.05)
        proc.kill()
        raise RuntimeError("HQ process did not start")

    proc = start()
    try:
        hold.write_text("hold")
        result = {}
        worker = threading.Thread(target=lambda: result.setdefault("r", bench.client(batch_size=100).sync_once()))
        worker.start()
        for _ in range(400):  # HQ has inserted the batch and is about to commit
            if reached.exists():
                break
            time.sleep(0.05)
        assert reached.exists(), "HQ never reached its commit"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        worker.join(60)
        assert result["r"].outcome == "partial"
        assert hq_count(hq_db) == 0  # the dead transaction left nothing
        hold.unlink()
        proc = start()
        report = bench.client(batch_size=100).sync_once()
        assert (report.outcome, report.pending) == ("ok", 0)
        assert_hq_holds_exactly(hq_db, bench)
    finally:
        proc.kill()
        proc.wait(10)


def test_bench_clock_hours_off_changes_nothing_but_the_claimed_times(hq_db, hq, make_bench, monkeypatch):
    import dockstation.events
    import sync.client

    fast = timedelta(hours=5)
    real = dockstation.events.utcnow
    monkeypatch.setattr(dockstation.events, "utcnow", lambda: real() + fast)
    monkeypatch.setattr(sync.client, "utcnow", lambda: real() + fast)
    add_rmas(hq_db, 10)
    bench = make_bench(url=hq.url)
    bench.record(40)
    report = bench.client().sync_once()
    assert (report.outcome, report.pending) == ("ok", 0)
    assert report.clock_skew_s is not None and abs(report.clock_skew_s - fast.total_seconds()) < 600
    assert_hq_holds_exactly(hq_db, bench)
    with hq_db.read() as conn:
        rows = conn.execute(select(HqEvent.__table__.c.at, HqEvent.__table__.c.received_at)).all()
    assert all(at - received > timedelta(hours=4) for at, received in rows)  # HQ kept its own clock
    # Now the clock is 3 hours slow: new HQ changes still arrive (the cursor is not a time).
    slow = -timedelta(hours=3)
    monkeypatch.setattr(dockstation.events, "utcnow", lambda: real() + slow)
    monkeypatch.setattr(sync.client, "utcnow", lambda: real() + slow)
    add_rmas(hq_db, 5, start=100)
    bench.record(8)
    report = bench.client().sync_once()
    assert report.outcome == "ok" and report.rmas_changed == 5
    assert_hq_holds_exactly(hq_db, bench)
    assert [e[0] for e in bench_events(bench)] == list(range(1, len(bench_events(bench)) + 1))


@pytest.mark.parametrize("kind", ["reset", "drop_response"])
def test_every_fault_leaves_the_bench_able_to_finish(hq_db, proxy: FaultProxy, make_bench, kind):
    """Faults on each route in turn (events, manifest, config): the next sync completes."""
    add_rmas(hq_db, 30)
    bench = make_bench(url=proxy.url)
    bench.record(30)
    client = bench.client(batch_size=20, page_limit=10)
    for match in (b"POST /api/v1/events", b"GET /api/v1/manifest", b"GET /api/v1/config"):
        proxy.fail_next(kind, match=match)
        report = client.sync_once()
        assert report.outcome == "partial", (match, report)
        bench.record(3)
    assert proxy.fired[kind] == 3
    report = client.sync_once()
    assert (report.outcome, report.pending) == ("ok", 0)
    assert_hq_holds_exactly(hq_db, bench)
