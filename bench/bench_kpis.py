"""KPI benchmarks: the lead screen's refresh with 100k open units, and HQ's weekly report.

    .venv/bin/python bench/bench_kpis.py [--open 100000] [--week-disposed 5000] [--repeat 30]
                                         [--arrivals 2] [--tick 5] [--no-analyze]
                                         [--events 300000 | --full] [--pg URL] [--dir DIR]

1. Lead screen: a bench store with `--open` open units (every state and lane, ages up to 120
   days) and `--week-disposed` units disposed this week (with their events). Prints median / p99
   wall and CPU time of
   - one raw pass over the open units (the floor: SQLite reading the rows);
   - `lead_snapshot` read whole (every aggregate + the queue page + exceptions + operators +
     cycle time + mix + sparkline, one read transaction; what the screen's first refresh does);
   - `lead_snapshot` refreshing a busy bench: between two refreshes the clock moves `--tick`
     seconds, `--arrivals` units are received and the most urgent unit is disposed; with the
     `LeadCache` the screen keeps;
   - the real LeadScreen refresh in the same busy bench (headless at 80x24): data in its thread
     plus filling the widgets; and the same until the widgets' pending work is done and a frame
     is composed.
   Target: refresh ≤ 100 ms. `--no-analyze` drops ANALYZE's statistics (a bench never runs it).
2. HQ weekly report: `--events` events (default 300k; `--full` = 1,000,000) from 12 stations
   over 26 weeks in HQ's `hq_event` (SQLite; PostgreSQL too with `--pg URL`, in a private
   schema dropped afterwards). Prints seconds for the SQL report of the busiest week and for the
   reference fold streaming the same events.

Figures only: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dockstation.kpis.bench import lead_snapshot  # noqa: E402

try:
    from dockstation.kpis.bench import LeadCache  # noqa: E402
except ImportError:  # older code, for before/after figures
    LeadCache = None  # type: ignore[assignment,misc]
from dockstation.kpis.config import KpisConfig  # noqa: E402
from dockstation.kpis.report import EventRow, weekly_report  # noqa: E402
from dockstation.kpis.sql_report import sql_weekly_report  # noqa: E402
from dockstation.kpis.stats import week_of  # noqa: E402
from dockstation.store import Store  # noqa: E402

NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
LANES = {"express": 8.0, "standard": 24.0, "specialist": 24.0, "bulk": 72.0}
STATES = ["received", "received", "inspecting", "graded", "awaiting_approval", "quarantined"]
PATHS = ["restock", "open_box", "refurbish", "liquidate", "recycle", "vendor_return", "donate", "dispose"]
CATS = [("phones", "399.00"), ("apparel", "29.90"), ("home", "59.00"), ("laptops", "899.00"), ("toys", "19.99")]


def ts(at: datetime) -> str:
    return at.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, -(-len(ordered) * int(p) // 100) - 1)]


# -- 1. the lead screen -------------------------------------------------------------------------
def build_bench(home: Path, n_open: int, n_week: int, seed: int) -> Store:
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "station.toml").write_text('station_id = "B07"\n')
    (home / "config" / "operators.toml").write_text("".join(
        f'[[operators]]\nbadge = "{b}"\nname = "{n}"\nrole = "{r}"\n\n'
        for b, n, r in [("1001", "Casey Clerk", "clerk"), ("2001", "Gale Grader", "grader"), ("9001", "Lee Lead", "lead")]))
    store = Store.in_home(home)
    rng = random.Random(seed)
    conn = store.raw_connection()
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN")
    conn.execute("INSERT INTO rma (rma_id, order_id, created_at, expires_at, status, updated_at) "
                 "VALUES ('RMA-BENCH', 'O', ?, ?, 'open', ?)", (ts(NOW), ts(NOW), ts(NOW)))
    conn.execute("INSERT INTO rma_line (rma_id, line_no, sku, description, category, qty, unit_price, currency, "
                 "reason_code, received_qty) VALUES ('RMA-BENCH', 1, 'SKU', 'Item', 'phones', 1000000000, '99', "
                 "'USD', '', 0)")
    units, evs, seq = [], [], 0
    unit_sql = ("INSERT INTO unit (lpn, rma_id, line_no, station_id, sku, category, description, unit_price, "
                "currency, state, lane, sla_due_at, risk_flags, received_at, received_by, source, reprints, "
                "updated_at, disposition, recovery_value, disposed_at) "
                "VALUES (?, 'RMA-BENCH', 1, 'B07', ?, ?, ?, ?, 'USD', ?, ?, ?, '[]', ?, ?, 'bench', 0, ?, ?, ?, ?)")
    event_sql = ("INSERT INTO event (station_id, seq, kind, at, operator, lpn, rma_id, payload) "
                 "VALUES ('B07', ?, ?, ?, ?, ?, 'RMA-BENCH', ?)")
    for i in range(n_open + n_week):
        lpn = f"B07-{i + 1:08d}"
        cat, price = rng.choice(CATS)
        lane = rng.choice(list(LANES))
        if i < n_open:
            # a backlog: 10% arrived in the last two days, the rest spread over 120 days
            hours = rng.expovariate(1 / 24) if rng.random() < 0.1 else rng.uniform(0, 24 * 120)
            age = timedelta(hours=min(hours, 24 * 120))
            received = NOW - age
            state, path, value, disposed = rng.choice(STATES), None, None, None
        else:
            received = NOW - timedelta(hours=rng.uniform(1, 60))
            disposed = received + timedelta(hours=rng.uniform(0.2, min(48, (NOW - received).total_seconds() / 3600)))
            state, path, value = "disposed", rng.choice(PATHS), f"{rng.uniform(0, float(price)):.2f}"
        op = rng.choice(["1001", "2001", "9001"])
        units.append((lpn, f"SKU-{i % 997}", cat, f"{cat} item {i}", price, state, lane,
                      ts(received + timedelta(hours=LANES[lane])), ts(received), op, ts(NOW), path, value,
                      ts(disposed) if disposed else None))
        seq += 1
        evs.append((seq, "unit_received", ts(received), op, lpn, json.dumps({"category": cat, "lane": lane})))
        if disposed is not None:
            seq += 1
            evs.append((seq, "unit_disposed", ts(disposed), "2001", lpn,
                        json.dumps({"kind": "policy", "path": path, "recovery_value": value})))
        if len(units) >= 20000:
            conn.executemany(unit_sql, units)
            conn.executemany(event_sql, evs)
            units, evs = [], []
    conn.executemany(unit_sql, units)
    conn.executemany(event_sql, evs)
    conn.executemany("INSERT INTO scan_exception (kind, code, station_id, at, operator, detail, source, state) "
                     "VALUES ('unknown_rma', ?, 'B07', ?, '1001', '', 'bench', 'open')",
                     [(f"RMA-X-{j}", ts(NOW - timedelta(minutes=j))) for j in range(500)])
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    return store


class BusyBench:
    """What happens at a busy bench between two refreshes of the lead screen: the clock moves on
    (`--tick` seconds, the screen's refresh interval), `--arrivals` units are received and the
    most urgent open unit is disposed (a lead working the queue from the top, so the queue page
    changes every time). Written like the app writes (unit rows and their events, one
    transaction), on its own connection."""

    def __init__(self, store: Store, start: datetime, n_units: int, arrivals: int, tick: float, seed: int) -> None:
        self.conn = store.raw_connection()
        self.now, self.arrivals, self.tick = start, arrivals, timedelta(seconds=tick)
        self.next_lpn = n_units + 1
        self.rng = random.Random(seed + 1)

    def step(self) -> datetime:
        self.now += self.tick
        at, c, rng = ts(self.now), self.conn, self.rng
        c.execute("BEGIN IMMEDIATE")
        seq = c.execute("SELECT MAX(seq) FROM event WHERE station_id = 'B07'").fetchone()[0]
        for _ in range(self.arrivals):
            lpn, (cat, price), lane = f"B07-{self.next_lpn:08d}", rng.choice(CATS), rng.choice(list(LANES))
            self.next_lpn += 1
            c.execute("INSERT INTO unit (lpn, rma_id, line_no, station_id, sku, category, description, unit_price, "
                      "currency, state, lane, sla_due_at, risk_flags, received_at, received_by, source, reprints, "
                      "updated_at) VALUES (?, 'RMA-BENCH', 1, 'B07', 'SKU-1', ?, ?, ?, 'USD', 'received', ?, ?, "
                      "'[]', ?, '1001', 'bench', 0, ?)",
                      (lpn, cat, f"{cat} item", price, lane, ts(self.now + timedelta(hours=LANES[lane])), at, at))
            seq += 1
            c.execute("INSERT INTO event (station_id, seq, kind, at, operator, lpn, rma_id, payload) "
                      "VALUES ('B07', ?, 'unit_received', ?, '1001', ?, 'RMA-BENCH', ?)",
                      (seq, at, lpn, json.dumps({"category": cat, "lane": lane}, separators=(",", ":"))))
        lpn = c.execute("SELECT lpn FROM unit WHERE state NOT IN ('disposed', 'voided') AND sla_due_at IS NOT NULL "
                        "ORDER BY sla_due_at, received_at LIMIT 1").fetchone()[0]
        path, value = rng.choice(PATHS), f"{rng.uniform(0, 50):.2f}"
        c.execute("UPDATE unit SET state = 'disposed', disposition = ?, recovery_value = ?, disposed_at = ?, "
                  "updated_at = ? WHERE lpn = ?", (path, value, at, at, lpn))
        seq += 1
        c.execute("INSERT INTO event (station_id, seq, kind, at, operator, lpn, rma_id, payload) "
                  "VALUES ('B07', ?, 'unit_disposed', ?, '2001', ?, 'RMA-BENCH', ?)",
                  (seq, at, lpn, json.dumps({"kind": "policy", "path": path, "recovery_value": value},
                                            separators=(",", ":"))))
        c.execute("COMMIT")
        return self.now

    def close(self) -> None:
        self.conn.close()


def _line(label: str, wall: list[float], cpu: list[float] | None = None, extra: str = "") -> str:
    med = statistics.median
    out = f"{label:<34} wall median {med(wall):6.1f} ms  p99 {pct(wall, 99):6.1f} ms"
    if cpu:
        out += f"   CPU median {med(cpu):6.1f} ms  p99 {pct(cpu, 99):6.1f} ms"
    return out + extra


def bench_lead(args: argparse.Namespace, work: Path) -> None:
    t0 = time.perf_counter()
    store = build_bench(work / "bench-home", args.open, args.week_disposed, args.seed)
    print(f"bench store: {args.open:,} open units + {args.week_disposed:,} disposed this week, "
          f"built in {time.perf_counter() - t0:.1f} s")
    if args.no_analyze:
        raw = store.raw_connection()
        raw.execute("DROP TABLE IF EXISTS sqlite_stat1")
        raw.execute("DROP TABLE IF EXISTS sqlite_stat4")
        raw.close()
    cfg = KpisConfig()
    cached = "cache" in inspect.signature(lead_snapshot).parameters  # also runs against older code
    raw = store.raw_connection()
    floor, cold, cold_cpu = [], [], []
    for _ in range(args.repeat):
        t = time.perf_counter()
        raw.execute("SELECT COUNT(*), MIN(received_at) FROM unit WHERE state NOT IN ('disposed', 'voided')").fetchall()
        floor.append((time.perf_counter() - t) * 1000)
        t, c = time.perf_counter(), time.process_time()
        snap = lead_snapshot(store, cfg, now=NOW, lane_sla=LANES)
        cold.append((time.perf_counter() - t) * 1000)
        cold_cpu.append((time.process_time() - c) * 1000)
    raw.close()
    assert snap.open_units == args.open, snap.open_units  # the figures are about the data we built
    print(_line("raw pass over open units", floor))
    print(_line("lead_snapshot, read whole", cold, cold_cpu))

    # A refresh every `--tick` s at a busy bench, as the lead screen does it (with its cache).
    busy = BusyBench(store, NOW, args.open + args.week_disposed, args.arrivals, args.tick, args.seed)
    kw = {"cache": LeadCache()} if cached else {}
    lead_snapshot(store, cfg, now=busy.now, lane_sla=LANES, **kw)
    steady, steady_cpu = [], []
    for _ in range(args.repeat):
        now = busy.step()
        t, c = time.perf_counter(), time.process_time()
        lead_snapshot(store, cfg, now=now, lane_sla=LANES, **kw)
        steady.append((time.perf_counter() - t) * 1000)
        steady_cpu.append((time.process_time() - c) * 1000)
    print(_line("lead_snapshot, busy bench refresh", steady, steady_cpu, "" if cached else "   (no cache)"))

    tui = asyncio.run(_tui_refresh(work / "bench-home", store, busy, args.repeat))
    print(_line("LeadScreen refresh (data+widgets)", tui["refresh"], tui["refresh_cpu"], "   target <= 100 ms"))
    print(_line("LeadScreen refresh + frame", tui["painted"], tui["painted_cpu"]))
    print(f"  as of the last refresh: {tui['open']:,} open, {tui['breached']:,} past SLA, page {tui['page']} rows; "
          f"first snapshot: week P50 {snap.cycle_week.p50_hours} h P90 {snap.cycle_week.p90_hours} h")
    busy.close()
    store.close()


async def _tui_refresh(home: Path, store: Store, busy: BusyBench, repeat: int) -> dict:
    from dockstation.receiving.core import default_triage
    from dockstation.scan import ScanEvent
    from dockstation.tui.app import BenchApp
    from dockstation.tui.lead import LeadScreen

    app = BenchApp(home, store=store, triage=default_triage, clock=lambda: busy.now, start_services=False)
    out: dict = {"refresh": [], "refresh_cpu": [], "painted": [], "painted_cpu": []}
    async with app.run_test(size=(80, 24)) as pilot:
        while not app.receive_screen.is_mounted:
            await pilot.pause(0.01)
        app.enqueue_scan(ScanEvent("OP-9001", "bench", None, busy.now))
        while app.operator is None:
            await pilot.pause(0.01)
        await pilot.press("f3")
        while not (isinstance(app.screen, LeadScreen) and app.screen.refreshes >= 1):
            await pilot.pause(0.01)
        screen = app.screen
        for _ in range(repeat):
            # refreshes are seconds apart in use: let the last one finish rendering first
            await pilot.pause(0.05)
            busy.step()
            done = screen.refreshes + 1
            t, c = time.perf_counter(), time.process_time()
            screen.action_refresh()
            while screen.refreshes < done:  # poll gently: a busy loop would hold the GIL from the worker
                await asyncio.sleep(0.001)
            t1, c1 = time.perf_counter(), time.process_time()
            # then the widgets' pending messages (the tables' idle work) and one frame composed
            # (what Pilot.pause does, without its wait for 20 ms of idle CPU)
            await pilot._wait_for_screen()
            app.screen._on_timer_update()
            t2, c2 = time.perf_counter(), time.process_time()
            out["refresh"].append((t1 - t) * 1000)
            out["refresh_cpu"].append((c1 - c) * 1000)
            out["painted"].append((t2 - t) * 1000)
            out["painted_cpu"].append((c2 - c) * 1000)
        snap = screen.snapshot
        out.update(open=snap.open_units, breached=snap.breached, page=len(snap.queue))
    return out


# -- 2. HQ weekly report ------------------------------------------------------------------------
def hq_events(n_events: int, seed: int):
    """Units over 26 weeks before NOW, ~6 events each, plus exceptions: (station, seq, kind, at, op, lpn, payload)."""
    rng = random.Random(seed)
    stations = [f"S{n:02d}" for n in range(12)]
    seqs = dict.fromkeys(stations, 0)
    start = NOW - timedelta(weeks=26)
    span = (NOW - start).total_seconds()
    count, i = 0, 0
    while count < n_events:
        st = rng.choice(stations)
        i += 1
        lpn = f"{st}-{i:08d}"
        cat, price = rng.choice(CATS)
        t = start + timedelta(seconds=rng.uniform(0, span))
        rows = [("unit_received", t, {"category": cat, "unit_price": price, "lane": "standard", "risk_flags":
                                      ["wrong_item"] if rng.random() < 0.02 else []})]
        if rng.random() < 0.03:
            rows.append(("exception_recorded", t, {"id": i, "kind": rng.choice(["unknown_rma", "duplicate"]),
                                                    "value": "25.00"}))
        t += timedelta(hours=rng.expovariate(1 / 20))
        rows += [("inspection_started", t, {"inspection_id": i}), ("unit_graded", t + timedelta(minutes=5),
                 {"grade": "B", "flags": ["empty_box"] if rng.random() < 0.01 else []})]
        if t < NOW - timedelta(days=2) or rng.random() < 0.5:
            t += timedelta(hours=rng.expovariate(1 / 6))
            for k in range(1 if rng.random() < 0.93 else 2):
                rows.append(("unit_disposed", t + timedelta(hours=k), {
                    "kind": "policy" if k == 0 else "override", "path": rng.choice(PATHS), "category": cat,
                    "unit_price": price, "recovery_value": f"{rng.uniform(0, float(price)):.2f}", "flags": []}))
            rows += [("label_queued", t, {"job_id": i}), ("label_printed", t, {"job_id": i})]
        for kind, at, payload in rows:
            if at >= NOW:
                continue
            seqs[st] += 1
            count += 1
            yield st, seqs[st], kind, at, "op", (None if kind.startswith("exception") else lpn), payload


def bench_hq(args: argparse.Namespace, work: Path) -> None:
    from sync.hq.db import HQDatabase

    n = 1_000_000 if args.full else args.events
    url = f"sqlite:///{work / 'hq.sqlite3'}"
    db = HQDatabase(url)
    t0 = time.perf_counter()
    raw = db.engine.raw_connection()
    cur = raw.cursor()
    cur.execute("PRAGMA synchronous=OFF")
    cur.execute("BEGIN")
    batch: list[tuple] = []
    weeks: dict[str, int] = {}
    for st, seq, kind, at, op, lpn, payload in hq_events(n, args.seed):
        if kind == "unit_disposed":
            weeks[week_of(at)] = weeks.get(week_of(at), 0) + 1
        batch.append((st, seq, kind, ts(at), op, lpn, json.dumps(payload), ts(NOW)))
        if len(batch) >= 50000:
            cur.executemany("INSERT INTO hq_event (station_id, seq, kind, at, operator, lpn, payload, received_at) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", batch)
            batch = []
    cur.executemany("INSERT INTO hq_event (station_id, seq, kind, at, operator, lpn, payload, received_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", batch)
    cur.execute("COMMIT")
    cur.execute("ANALYZE")
    raw.close()
    week = max(weeks, key=lambda w: weeks[w])
    print(f"HQ events: {n:,} in SQLite, loaded in {time.perf_counter() - t0:.1f} s; busiest week {week} "
          f"({weeks[week]:,} dispositions)")
    t = time.perf_counter()
    with db.read() as conn:
        report = sql_weekly_report(conn, week, as_of=NOW)
    sql_s = time.perf_counter() - t
    print(f"weekly report, SQL (SQLite):      {sql_s:6.2f} s   disposed {report.total.disposed:,}  "
          f"P50 {report.total.cycle_p50_hours} h  P90 {report.total.cycle_p90_hours} h")
    t = time.perf_counter()
    with db.read() as conn:
        cursor = conn.exec_driver_sql("SELECT station_id, seq, kind, at, lpn, payload FROM hq_event")
        rows = (EventRow(r[0], r[1], r[2], datetime.fromisoformat(r[3]).replace(tzinfo=UTC), r[4], json.loads(r[5]))
                for r in cursor)
        ref = weekly_report(rows, week, as_of=NOW)
    print(f"weekly report, reference fold:    {time.perf_counter() - t:6.2f} s   (same figures: "
          f"{ref.total.disposed == report.total.disposed and ref.total.aging == report.total.aging})")
    db.dispose()
    if args.pg:
        bench_pg(args.pg, n, args.seed, week)


def bench_pg(url: str, n: int, seed: int, week: str) -> None:
    from sqlalchemy import create_engine, text

    from sync.hq.db import hq_metadata, normalise_url

    url = normalise_url(url)
    schema = f"kpi_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url)
    with admin.begin() as c:
        c.execute(text(f"CREATE SCHEMA {schema}"))
    engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        with engine.begin() as c:
            hq_metadata.create_all(c)
        t0 = time.perf_counter()
        raw = engine.raw_connection()
        with raw.cursor() as cur, cur.copy("COPY hq_event (station_id, seq, kind, at, operator, lpn, payload, "
                                           "received_at) FROM STDIN") as copy:
            for st, sq, kind, at, op, lpn, payload in hq_events(n, seed):
                copy.write_row((st, sq, kind, at.replace(tzinfo=None), op, lpn, json.dumps(payload),
                                NOW.replace(tzinfo=None)))
        raw.commit()
        raw.close()
        with engine.begin() as c:
            c.execute(text("ANALYZE hq_event"))
        print(f"HQ events: {n:,} in PostgreSQL, loaded in {time.perf_counter() - t0:.1f} s")
        t = time.perf_counter()
        with engine.begin() as c:
            report = sql_weekly_report(c, week, as_of=NOW)
        print(f"weekly report, SQL (PostgreSQL):  {time.perf_counter() - t:6.2f} s   disposed {report.total.disposed:,}")
    finally:
        engine.dispose()
        with admin.begin() as c:
            c.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--open", type=int, default=100_000)
    ap.add_argument("--week-disposed", type=int, default=5_000)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--arrivals", type=int, default=2, help="units received between two lead refreshes")
    ap.add_argument("--tick", type=float, default=5.0, help="seconds the clock moves between two lead refreshes")
    ap.add_argument("--no-analyze", action="store_true",
                    help="drop ANALYZE's statistics after building the store (as on a real bench)")
    ap.add_argument("--events", type=int, default=300_000)
    ap.add_argument("--full", action="store_true", help="1,000,000 HQ events")
    ap.add_argument("--pg", default=None, help="also PostgreSQL, e.g. postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("--only", choices=["lead", "hq"], default=None)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        if args.only in (None, "lead"):
            bench_lead(args, Path(tmp))
        if args.only in (None, "hq"):
            bench_hq(args, Path(tmp))


if __name__ == "__main__":
    main()
