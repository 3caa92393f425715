"""The TUI's background loop (`SyncClient.run`) and the `dockstation sync` / `hq` commands."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from netfaults import FaultProxy, HQServer, free_port
from sqlalchemy import select

from dockstation.cli import main
from sync import client as client_mod
from sync import loop
from sync.hq import app as hq_app
from sync.hq.app import create_app
from sync.hq.db import HQDatabase, HqStation, hash_token
from sync_support import assert_hq_holds_exactly

CSV_HEAD = ("rma_id,order_id,created_at,expires_at,status,line_no,sku,gtin,description,category,qty,"
            "unit_price,currency,expected_serial,reason_code,carrier,tracking_number\n")


class Statuses:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []
        self.cond = threading.Condition()

    def __call__(self, text: str, level: str) -> None:
        with self.cond:
            self.items.append((text, level))
            self.cond.notify_all()

    def wait_for(self, pred: Callable[[str, str], bool], after: int = 0, timeout: float = 30) -> tuple[str, str]:
        with self.cond:
            ok = self.cond.wait_for(lambda: any(pred(*s) for s in self.items[after:]), timeout)
            assert ok, f"no such status; last ones: {self.items[-5:]}"
            return next(s for s in self.items[after:] if pred(*s))

    def wait_count(self, n: int, timeout: float = 30) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.items) >= n, timeout)


@pytest.fixture
def fast_loop(monkeypatch):
    monkeypatch.setattr(loop, "REFRESH_S", 0.05)

    class FastBackoff(client_mod.Backoff):
        def __init__(self) -> None:
            super().__init__(base=0.1, cap=0.5)

    monkeypatch.setattr(client_mod, "Backoff", FastBackoff)


def run_in_thread(client) -> tuple[threading.Event, Statuses, threading.Thread]:
    stop, statuses = threading.Event(), Statuses()
    thread = threading.Thread(target=client.run, args=(stop, statuses), daemon=True)
    thread.start()
    return stop, statuses, thread


def test_loop_shows_online_and_pending_and_pushes_new_events(hq_db, hq, make_bench, fast_loop):
    bench = make_bench(url=hq.url)
    stop, statuses, thread = run_in_thread(bench.client())
    try:
        statuses.wait_for(lambda t, lv: t == "HQ online · 0 pending" and lv == "ok")
        mark = len(statuses.items)
        bench.record(7)
        statuses.wait_for(lambda t, lv: t == "HQ online · 7 pending", after=mark)  # shown between syncs
        statuses.wait_for(lambda t, lv: t == "HQ online · 0 pending", after=len(statuses.items))
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    assert_hq_holds_exactly(hq_db, bench)


def test_loop_offline_backs_off_then_catches_up(hq_db, make_bench, fast_loop):
    port = free_port()
    bench = make_bench(url=f"http://127.0.0.1:{port}")
    bench.record(12)
    stop, statuses, thread = run_in_thread(bench.client())
    server = None
    try:
        text, level = statuses.wait_for(lambda t, lv: t.startswith("HQ offline · 12 pending (retry in"))
        assert level == "warn"
        server = HQServer(create_app(hq_db), port=port).start()
        statuses.wait_for(lambda t, lv: t == "HQ online · 0 pending" and lv == "ok")
    finally:
        stop.set()
        thread.join(10)
        if server:
            server.stop()
    assert_hq_holds_exactly(hq_db, bench)


def test_loop_refused_by_hq_does_not_retry_until_the_token_changes(hq_db, hq, make_bench, fast_loop):
    proxy = FaultProxy(hq.port)
    bench = make_bench(url=proxy.url)
    good = bench.token
    bench.set_hq(proxy.url, "wrong-token")
    bench.record(3)
    client = bench.client()
    stop, statuses, thread = run_in_thread(client)
    try:
        text, level = statuses.wait_for(lambda t, lv: t.startswith("refused by HQ"))
        assert level == "error" and "401" in text and "3 pending" in text and "station.toml" in text
        mark = len(statuses.items)
        for _ in range(5):
            client.poke()  # even asked to, the loop does not hammer HQ with a refused token
        statuses.wait_count(mark + 40)  # ~40 header refreshes later
        assert sum(proxy.seen.values()) == 1
        bench.set_hq(proxy.url, good)  # the lead fixes the token: picked up without a restart
        statuses.wait_for(lambda t, lv: t == "HQ online · 0 pending", after=mark)
    finally:
        stop.set()
        thread.join(10)
        proxy.close()
    assert_hq_holds_exactly(hq_db, bench)


def test_loop_header_warns_of_a_bench_clock_hours_off(hq_db, hq, make_bench, fast_loop, monkeypatch):
    real = client_mod.utcnow
    monkeypatch.setattr(client_mod, "utcnow", lambda: real() + timedelta(hours=5, minutes=30))
    bench = make_bench(url=hq.url)
    stop, statuses, thread = run_in_thread(bench.client())
    try:
        text, level = statuses.wait_for(lambda t, lv: t.startswith("HQ online"))
    finally:
        stop.set()
        thread.join(10)
    assert level == "warn" and re.fullmatch(r"HQ online · 0 pending · bench clock 5h(29|30)m ahead", text), text


def test_loop_without_hq_settings_waits_quietly(make_bench, fast_loop):
    bench = make_bench(register=False)
    bench.record(2)
    stop, statuses, thread = run_in_thread(bench.client())
    try:
        assert statuses.wait_for(lambda t, lv: t.startswith("HQ not set")) == ("HQ not set · 2 pending", "off")
    finally:
        stop.set()
        thread.join(10)


# -- dockstation sync -------------------------------------------------------------------------
def sync_cli(bench, *args: str):
    return CliRunner().invoke(main, ["--home", str(bench.home), "sync", *args])


def test_sync_command_exit_codes(hq_db, hq, make_bench, monkeypatch, tmp_path):
    bench = make_bench(url=hq.url)
    bench.record(5)
    ok = sync_cli(bench)
    assert ok.exit_code == 0, ok.output
    assert "pushed" in ok.stdout and "0 pending" in ok.stdout
    bench.set_hq(f"http://127.0.0.1:{free_port()}", bench.token)  # HQ unreachable
    bench.record(1)
    assert sync_cli(bench).exit_code == 2
    bench.set_hq(hq.url, "not-the-token")
    refused = sync_cli(bench)
    assert refused.exit_code == 3 and "refused by HQ" in refused.stderr
    bench.set_hq("", "")
    assert sync_cli(bench).exit_code == 1
    # a config HQ should not have sent: refused at the bench, exit 4
    bad = tmp_path / "bad-config"
    bad.mkdir()
    (bad / "codes.toml").write_text("grades = []\n")
    monkeypatch.setattr(hq_app, "check_bundle", lambda bundle, _label: bundle)
    server = HQServer(create_app(hq_db, config_dir=bad)).start()
    try:
        bench.set_hq(server.url, bench.token)
        refused = sync_cli(bench, "--full")
        assert refused.exit_code == 4 and "config refused" in refused.stderr
    finally:
        server.stop()
    assert_hq_holds_exactly(hq_db, bench)


# -- dockstation hq ----------------------------------------------------------------------------
def test_add_station_prints_the_token_once_and_keeps_only_its_hash(db_url, hq_db):
    runner = CliRunner()
    first = runner.invoke(main, ["hq", "add-station", "B07", "--db", db_url, "--site", "DC1"])
    assert first.exit_code == 0, first.output
    token = first.stdout.strip()
    assert len(token) >= 40 and "\n" not in token
    with hq_db.read() as conn:
        row = conn.execute(select(HqStation.__table__)).one()
    assert row.token_hash == hash_token(token) and row.site == "DC1"
    again = runner.invoke(main, ["hq", "add-station", "B07", "--db", db_url])
    assert again.exit_code == 1 and "already" in again.stderr and token not in again.output
    rotated = runner.invoke(main, ["hq", "add-station", "B07", "--db", db_url, "--rotate"])
    assert rotated.exit_code == 0 and rotated.stdout.strip() != token
    assert runner.invoke(main, ["hq", "add-station", "b07!", "--db", db_url]).exit_code == 1


def test_import_manifest_reports_bad_rows_and_is_idempotent(db_url, hq_db, tmp_path):
    csv = tmp_path / "m.csv"
    csv.write_text(CSV_HEAD
                   + "RMA-2026-000001,O-1,2026-11-01T10:00:00+00:00,2026-12-31T10:00:00+00:00,open,1,PHN-1,,Phone,phones,1,699.00,USD,,defective,,\n"
                   + "RMA-2026-000002,O-2,yesterday,2026-12-31T10:00:00+00:00,open,1,TSH-M,,Shirt,apparel,1,19.90,EUR,,wrong_size,,\n")
    runner = CliRunner()
    first = runner.invoke(main, ["hq", "import-manifest", str(csv), "--db", db_url])
    assert first.exit_code == 2 and "line 3" in first.stderr and "new 1" in first.stdout
    again = runner.invoke(main, ["hq", "import-manifest", str(csv), "--db", db_url])
    assert "new 0, changed 0, unchanged 1" in again.stdout
    missing = runner.invoke(main, ["hq", "import-manifest", str(tmp_path / "nope.csv"), "--db", db_url])
    assert missing.exit_code != 0


def test_hq_serve_runs_the_api(tmp_path):
    port = free_port()
    db = f"sqlite:///{tmp_path / 'hq.sqlite3'}"
    proc = subprocess.Popen([str(Path(sys.executable).parent / "dockstation"), "hq", "serve", "--db", db,
                             "--port", str(port), "--log-level", "warning"], stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        assert health.json()["status"] == "ok"
        assert httpx.get(f"http://127.0.0.1:{port}/openapi.json").status_code == 200
    finally:
        proc.terminate()
        proc.wait(15)
    assert HQDatabase(db).dialect == "sqlite"  # the file it created opens as an HQ database
