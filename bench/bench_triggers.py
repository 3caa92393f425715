"""Age triggers: a trigger pass over 100k open units, and a scan's latency while one runs.

    .venv/bin/python bench/bench_triggers.py [--open 100000] [--repeat 30] [--scans 300] [--rmas 20000]

A demo-like bench home (its manifest: `--rmas` generated RMAs, imported) gets `--open` open units
(received, inspecting, graded, awaiting approval — with their approval requests — and held;
five categories, four lanes, ages up to 120 days) and the policy's example triggers (the ones
commented out in config/policy.toml, switched on). Then:

1. first pass: every trigger is due for a large part of the backlog at once (tens of thousands
   of firings: what a bench sees the day the triggers are switched on), timed whole;
2. steady passes (the target: under 200 ms): the clock moves one minute between passes, as the
   bench's timer does; `--repeat` passes, median and p99 (wall and CPU) of `run_pass` (reading
   from where the last pass got to), and of the full read every trigger does on its first pass,
   after a change and at a restart (`due` without cursors), and of a pass in which one trigger
   reads its whole range (the hourly safety net, one trigger a pass); the floor: one raw read
   of the open units;
3. a scan's latency (`handle_scan`: classify + one receiving transaction, synchronous=FULL):
   alone, then while a thread runs trigger passes back to back — steady ones, and a first pass
   firing thousands of units in batches (what the app does: the read in a thread, the writes in
   batches of `policy.triggers.BATCH` units, each its own short transaction, the next batch
   queued only when no scan waits). The ratio to the
   scan alone is the figure: a pass must never hold a scan up for more than a batch.

Figures only: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import queue
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dockstation.demo import build_demo_home, generate_manifest  # noqa: E402
from dockstation.manifest import import_manifest  # noqa: E402
from dockstation.policy.config import load_policy  # noqa: E402
from dockstation.policy.triggers import BATCH, apply, db_time, due, load_cursors, run_pass, save_cursors  # noqa: E402
from dockstation.store import Store  # noqa: E402
from dockstation.tui.age_triggers import YIELD_S  # noqa: E402

NOW = datetime.now(UTC).replace(microsecond=0)
LANES = {"express": 8.0, "standard": 24.0, "specialist": 24.0, "bulk": 72.0}
STATES = ["received"] * 5 + ["inspecting", "graded", "graded", "awaiting_approval", "held"]
CATS = [("phones", "399.00"), ("apparel", "29.90"), ("home", "59.00"), ("laptops", "899.00"), ("toys", "19.99")]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def line(name: str, ms: list[float], base: list[float] | None = None) -> str:
    p50, p99 = pct(ms, 50), pct(ms, 99)
    extra = f"   x{p50 / pct(base, 50):5.1f} / x{p99 / pct(base, 99):5.1f} {BASE}" if base else ""
    return f"  {name:34} p50 {p50:8.2f} ms   p99 {p99:8.2f} ms   max {max(ms):8.2f} ms{extra}"


BASE = "alone"


def example_triggers() -> str:
    """The example triggers of the shipped policy.toml, uncommented."""
    text = (ROOT / "config" / "policy.toml").read_text()
    start = text.index("# [[age_triggers]]")
    end = text.index("# -- end of age trigger examples")
    return "\n".join(l[2:] if l.startswith("# ") else l for l in text[start:end].splitlines()
                     if l.startswith("# ") or not l.strip())


def make_home(work: Path, n_open: int, rmas: int, seed: int) -> Path:
    home = work / "home"
    build_demo_home(home, rmas=10, seed=seed)
    csv_path = work / "manifest.csv"
    generate_manifest(csv_path, rmas=rmas, seed=seed, now=NOW)
    store = Store.in_home(home)
    import_manifest(store, "B07", csv_path)
    csv_path.unlink()
    policy_file = home / "config" / "policy.toml"
    site = policy_file.read_text() if policy_file.exists() else ""
    policy_file.write_text(site + "\n" + example_triggers() + "\n")
    rng = random.Random(seed)
    conn = store.raw_connection()
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN")
    conn.execute("INSERT INTO rma (rma_id, order_id, created_at, expires_at, status, updated_at) "
                 "VALUES ('RMA-BENCH', 'O', ?, ?, 'open', ?)", (db_time(NOW), db_time(NOW), db_time(NOW)))
    conn.execute("INSERT INTO rma_line (rma_id, line_no, sku, description, category, qty, unit_price, currency, "
                 "reason_code, received_qty) VALUES ('RMA-BENCH', 1, 'SKU', 'Item', 'phones', 1000000000, '99', "
                 "'USD', 'changed_mind', 0)")
    units, requests, holds = [], [], []
    for i in range(n_open):
        lpn = f"B07-9{i:07d}"
        cat, price = rng.choice(CATS)
        lane = rng.choice(list(LANES))
        hours = rng.expovariate(1 / 24) if rng.random() < 0.1 else rng.uniform(0, 24 * 120)
        received = NOW - timedelta(hours=min(hours, 24 * 120))
        state = rng.choice(STATES)
        inspected = received + (NOW - received) * rng.random() if state in ("graded", "awaiting_approval") else None
        units.append((lpn, "RMA-BENCH" if state != "held" else None, 1 if state != "held" else 0, cat, price, state,
                      lane if state != "held" else "hold", db_time(received + timedelta(hours=LANES[lane])),
                      db_time(received), db_time(inspected) if inspected else None,
                      "B" if inspected else None, db_time(inspected or received)))
        if state == "awaiting_approval":
            requests.append((lpn, db_time(inspected + (NOW - inspected) * rng.random())))
        if state == "held":
            holds.append((lpn, db_time(received + timedelta(days=14))))
    conn.executemany(
        "INSERT INTO unit (lpn, rma_id, line_no, station_id, sku, category, description, unit_price, currency, "
        "state, lane, sla_due_at, risk_flags, received_at, inspected_at, grade, received_by, source, reprints, "
        "updated_at) VALUES (?, ?, ?, 'B07', 'SKU', ?, 'Item', ?, 'USD', ?, ?, ?, '[]', ?, ?, ?, '1001', 'bench', 0, ?)",
        units)
    conn.executemany("INSERT INTO approval_request (lpn, path, policy_path, rule_id, kind, why, requested_at, "
                     "requested_by, state) VALUES (?, 'liquidate', 'liquidate', 'r', 'policy', '[]', ?, '2001', "
                     "'open')", requests)
    conn.executemany("INSERT INTO hold (lpn, code, note, deadline_at, default_path, state) "
                     "VALUES (?, 'X', '', ?, 'liquidate', 'open')", holds)
    conn.execute("COMMIT")
    conn.close()
    store.close()
    return home


def raw_floor(home: Path, repeat: int) -> list[float]:
    conn = sqlite3.connect(home / "dockstation.sqlite3")
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        conn.execute("SELECT lpn, state, category, lane, unit_price, received_at FROM unit "
                     "WHERE state NOT IN ('disposed', 'voided')").fetchall()
        times.append((time.perf_counter() - t0) * 1000)
    conn.close()
    return times


def scan_codes(home: Path, n: int, seed: int) -> list[str]:
    conn = sqlite3.connect(home / "dockstation.sqlite3")
    codes = [r for (r,) in conn.execute(
        "SELECT l.rma_id FROM rma_line l JOIN rma r USING (rma_id) WHERE r.status = 'open' AND r.expires_at > ? "
        "AND l.line_no = 1 AND l.received_qty = 0 AND r.rma_id != 'RMA-BENCH' AND NOT EXISTS "
        "(SELECT 1 FROM rma_line m WHERE m.rma_id = l.rma_id AND m.line_no = 2) LIMIT ?", (db_time(NOW), n))]
    conn.close()
    random.Random(seed).shuffle(codes)
    return codes


class Dispatcher:
    """The bench app's spine, without the screen: ONE consumer runs scans and the trigger pass's
    write batches in arrival order (tui/age_triggers.py enqueues each batch as a dispatcher job),
    while the pass's read half runs in a thread. Scans arrive every `gap_s` from a producer
    thread; a scan's latency is from its arrival to its commit, so waiting behind a batch counts."""

    def __init__(self, home: Path) -> None:
        from dockstation.config import load_bench_config
        from dockstation.receiving import Bench, sign_in
        from dockstation.scan import ScanEvent
        from dockstation.tui.app import load_triage
        from dockstation.types import utcnow

        self.cfg = load_bench_config(home)
        self.bench = Bench(self.cfg.station.station_id, self.cfg.codes, self.cfg.operators,
                           self.cfg.station.return_grace_days, load_triage(home, self.cfg))
        self.store = Store.in_home(home)
        self.op = sign_in(self.store, self.bench, ScanEvent("OP-1001", "bench", None, utcnow()), "1001").operator

    def run(self, codes: list[str], passes: Callable[[queue.Queue[Any], threading.Event], None] | None = None,
            gap_s: float = 0.02) -> tuple[list[float], int]:
        from dockstation.receiving import handle_scan
        from dockstation.scan import ScanEvent, classify
        from dockstation.types import utcnow

        q: queue.Queue[Any] = queue.Queue()
        stop = threading.Event()

        def produce() -> None:
            for code in codes:
                q.put(("scan", time.perf_counter(), code))
                time.sleep(gap_s)
            q.put(("end",))

        threads = [threading.Thread(target=produce)]
        if passes is not None:
            threads.append(threading.Thread(target=passes, args=(q, stop)))
        for t in threads:
            t.start()
        times, batches = [], 0
        while True:
            item = q.get()
            if item[0] == "end":
                break
            if item[0] == "scan":
                handle_scan(self.store, self.bench, self.op, ScanEvent(item[2], "bench", None, utcnow()),
                            classify(item[2], self.cfg.codes.patterns))
                times.append((time.perf_counter() - item[1]) * 1000)
            else:
                item[1]()  # a write batch of the trigger pass
                batches += 1
        stop.set()
        for t in threads:
            t.join()
        while not q.empty():  # batches left when the scans ended: applied, not timed
            item = q.get()
            if item[0] == "batch":
                item[1]()
        return times, batches


def pass_feeder(store: Store, policy: Any, start: datetime, *, once: bool) -> Callable[[queue.Queue[Any], threading.Event], None]:
    """Trigger passes as the app runs them: `due` here (a thread), then one batch at a time into
    the dispatcher (the next only once the last is applied, so scans go in between)."""

    def feed(q: queue.Queue[Any], stop: threading.Event) -> None:
        now = start
        while not stop.is_set():
            _n, dues, cursors = due(store, policy, now, load_cursors(store))
            for i in range(0, max(len(dues), 1), BATCH):
                done = threading.Event()
                last = i + BATCH >= len(dues)  # the last batch keeps the cursors, as the app's does

                def job(chunk: list[Any] = dues[i:i + BATCH], at: datetime = now, done: threading.Event = done,
                        keep: Any = cursors if last else None) -> None:
                    apply(store, "B07", policy, chunk, now=at, cursors=keep)
                    done.set()

                waited = time.perf_counter()  # scans first, for YIELD_S at most, as the app does (_age_next)
                while not q.empty() and not stop.is_set() and time.perf_counter() - waited < YIELD_S:
                    time.sleep(0.002)
                q.put(("batch", job))
                while not done.wait(0.05):
                    if stop.is_set():
                        return
            if once:
                return
            now += timedelta(minutes=1)

    return feed


def forget(store: Store) -> None:
    """What a restarted process has not: the cursors and own changes in memory (if this release
    keeps them; a release without `trigger_cursor` then reads every trigger's whole range)."""
    from dockstation.policy import trigger_due

    for name in ("_CURSORS", "_OWN", "_PERSISTED"):
        getattr(trigger_due, name, {}).pop(str(store.path), None)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--open", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--scans", type=int, default=300)
    ap.add_argument("--rmas", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    print("load average (1, 5, 15 min) at the start: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        home = make_home(Path(tmp), args.open, args.rmas, args.seed)
        print(f"bench home: {args.open} open units, {args.rmas} RMAs in the manifest "
              f"({time.perf_counter() - t0:.1f} s to build)")
        policy = load_policy(home)
        print(f"triggers: {', '.join(f'{t.id} ({t.state} > {t.describe_after()}: {t.action})' for t in policy.age_triggers)}")
        codes = scan_codes(home, 3 * args.scans, args.seed)
        spine = Dispatcher(home)
        alone, _ = spine.run(codes[:args.scans])

        # 1. the first pass (thousands of firings) as the app runs it, with scans going on
        store = Store.in_home(home)
        w0 = time.perf_counter()
        during_first, n_batches = spine.run(codes[args.scans:2 * args.scans], pass_feeder(store, policy, NOW, once=True))
        took = time.perf_counter() - w0
        with store.read() as s:
            fired = s.connection().exec_driver_sql("SELECT count(*) FROM age_firing").scalar_one()
        print(f"\n1. first pass: {fired} firings in {n_batches} batches of {BATCH} while {args.scans} scans ran "
              f"({took:.1f} s for the scans and the batches that came in between)")
        w0 = time.perf_counter()
        res = run_pass(store, "B07", policy, now=NOW)  # the rest of the first pass, with no scans
        took = time.perf_counter() - w0
        print(f"   the rest of it alone: {len(res.fired)} firings, {res.deferred} deferred (mid-inspection) "
              f"in {took:.1f} s ({len(res.fired) / max(took, 1e-9):.0f} firings/s)")
        store.checkpoint()  # the store as a bench killed right after the mass firing leaves it
        shutil.copyfile(home / "dockstation.sqlite3", Path(tmp) / "killed.sqlite3")

        # 2. steady passes: the clock moves a minute each time
        walls, cpus, fulls = [], [], []
        now = NOW
        for _ in range(args.repeat):
            now += timedelta(minutes=1)
            w0, c0 = time.perf_counter(), time.process_time()
            res = run_pass(store, "B07", policy, now=now)
            walls.append((time.perf_counter() - w0) * 1000)
            cpus.append((time.process_time() - c0) * 1000)
            w0 = time.perf_counter()
            due(store, policy, now)  # no cursors: every trigger's whole range (a full pass's read)
            fulls.append((time.perf_counter() - w0) * 1000)
        # the hourly safety net: one trigger's whole range in a pass (each trigger in turn)
        hourly = []
        for trig in policy.age_triggers:
            now += timedelta(minutes=1)
            cursors = load_cursors(store)
            cursors[trig.id] = {**cursors[trig.id], "full_at": db_time(datetime.now(UTC) - timedelta(hours=2))}
            save_cursors(store, cursors)
            w0 = time.perf_counter()
            run_pass(store, "B07", policy, now=now)
            hourly.append((time.perf_counter() - w0) * 1000)
        # a restart: this process forgets its cursors (and what its passes changed); the next pass
        # resumes from the cursors the store keeps (v14)
        restarts = []
        for _ in range(args.repeat):
            now += timedelta(minutes=1)
            forget(store)
            w0 = time.perf_counter()
            run_pass(store, "B07", policy, now=now)
            restarts.append((time.perf_counter() - w0) * 1000)
        # a restart right after the mass firing: the copy taken then, opened as a new process would
        killed = Store(Path(tmp) / "killed.sqlite3")
        w0 = time.perf_counter()
        run_pass(killed, "B07", policy, now=NOW + timedelta(minutes=1))
        after_kill = (time.perf_counter() - w0) * 1000
        killed.close()
        global BASE
        floor = raw_floor(home, args.repeat)
        print(f"\n2. steady passes over {args.open} open units ({args.repeat} passes, {res.candidates} candidates "
              f"read per pass, target < 200 ms):")
        print(line("raw read of the open units", floor))
        BASE = "raw read"
        print(line("run_pass wall", walls, floor))
        print(f"  {'  the first (after the mass firing)':34} {walls[0]:8.2f} ms")
        print(line("run_pass CPU", cpus))
        print(line("pass with one hourly full read", hourly, floor))
        print(line("full read, every trigger (new policy)", fulls, floor))
        print(line("pass after a restart", restarts, floor))
        print(f"  {'  right after the mass firing':34} {after_kill:8.2f} ms")

        # 3. scans beside steady passes back to back
        during_steady, _ = spine.run(codes[2 * args.scans:3 * args.scans], pass_feeder(store, policy, now, once=False))
        BASE = "alone"
        print(f"\n3. a scan's latency, arrival to commit (handle_scan, {args.scans} scans each, one every 20 ms):")
        print(line("alone", alone))
        print(line("during the first pass (firing)", during_first, alone))
        print(line("during steady passes", during_steady, alone))
        store.close()
        spine.store.close()
    print(f"\n(statistics: median {statistics.median(walls):.1f} ms per steady pass)")
    print("load average (1, 5, 15 min) at the end: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
