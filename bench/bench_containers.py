"""Containers after the label: put-to-container latency, and closing a full gaylord.

    .venv/bin/python bench/bench_containers.py                 # 10k open units, 200 containers, < 1 min
    .venv/bin/python bench/bench_containers.py --puts 2000 --gaylord 2000

A bench home whose store holds --open units still open (received, not yet disposed), --containers
open containers of every path, and disposed units waiting to be sorted (written straight with
SQL, like a busy day). Then:

1. Put-to-container in the real `BenchApp` (headless, 80x24, a grader signed in): the disposed
   unit's LPN is scanned (untimed: the unit in hand), then the container's code is timed from the
   moment it is handed to the app's one dispatcher until its result is on the screen — the put
   committed (one BEGIN IMMEDIATE transaction, synchronous=FULL: the container_unit row, the
   container's count and value, the `unit_sorted` event) and the receive screen's widgets updated.
   Beside it, the core alone (`containers.put`, no UI) and the baseline: a bare sqlite3 INSERT +
   COMMIT per put into a small table, WAL, synchronous=FULL (what any durable write costs here).
2. Closing a --gaylord-unit gaylord: `containers.close` (one transaction: the lot grade over its
   units, the `container_closed` event listing every LPN, the label's print job), then its
   manifest (CSV and PDF, fpdf2) and its label (ZPL and PNG), each timed, --repeat times.

Prints p50 / p99 (put) and medians (close), and the ratios to the baseline. Never a timed assertion.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from dockstation import containers as ct
from dockstation.config import load_bench_config
from dockstation.containers import manifest as mf
from dockstation.containers.printing import label_bytes
from dockstation.policy import load_policy, make_triage
from dockstation.scan import ScanEvent
from dockstation.store import Store
from dockstation.types import utcnow

OPERATORS = """
[[operators]]
badge = "2001"
name = "Gale Grader"
role = "grader"

[[operators]]
badge = "9001"
name = "Lee Lead"
role = "lead"
"""
PATHS = ("restock", "open_box", "refurbish", "liquidate", "recycle", "donate", "quarantine", "dispose")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered)) - 1))]


def make_home(work: Path) -> Path:
    home = work / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "station.toml").write_text('station_id = "B07"\n')
    (home / "config" / "operators.toml").write_text(OPERATORS)
    return home


def seed(store: Store, open_units: int, to_sort: int, gaylord: int) -> list[str]:
    """Open units, disposed units (liquidate) to sort, and the gaylord's units; their LPNs."""
    now = utcnow().replace(tzinfo=None)
    at = now.strftime("%Y-%m-%d %H:%M:%S.%f")
    early = (now - timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S.%f")
    conn = store.raw_connection()
    rows = []
    n = 0
    for state, count in (("received", open_units), ("disposed", to_sort + gaylord)):
        for _ in range(count):
            n += 1
            grade = "CD"[n % 2] if state == "disposed" else None
            rows.append((f"B07-{n:08d}", None, 0, "B07", f"SKU-{n % 500}", "home", f"Bench item {n}", "40.00",
                         "USD", state, "standard", "[]", grade, "liquidate" if state == "disposed" else None,
                         "Liquidation gaylord" if state == "disposed" else None,
                         "10.00" if state == "disposed" else None, early, at if state == "disposed" else None,
                         "1001", "", 0, at))
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO unit (lpn, rma_id, line_no, station_id, sku, category, description, unit_price, currency, "
        "state, lane, risk_flags, grade, disposition, destination, recovery_value, received_at, disposed_at, "
        "received_by, source, reprints, updated_at) VALUES (" + ",".join("?" * 22) + ")", rows)
    conn.execute("COMMIT")
    conn.close()
    return [r[0] for r in rows if r[9] == "disposed"]


def fill_gaylord(store: Store, container_id: str, lpns: list[str]) -> None:
    at = utcnow().replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    conn = store.raw_connection()
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO container_unit (lpn, container_id, sorted_at, sorted_by) VALUES (?, ?, ?, '2001')",
                     [(lpn, container_id, at) for lpn in lpns])
    conn.execute("UPDATE container SET units = ?, value = ?, capacity = ? WHERE id = ?",
                 (len(lpns), f"{10 * len(lpns)}.00", len(lpns) + 10, container_id))
    conn.execute("COMMIT")
    conn.close()


def baseline(work: Path, n: int) -> list[float]:
    conn = sqlite3.connect(work / "raw.sqlite3", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE put (lpn TEXT PRIMARY KEY, container TEXT, at TEXT)")
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO put VALUES (?, ?, ?)", (f"B07-{i:08d}", "CT-B07-000001", "now"))
        conn.execute("COMMIT")
        out.append((time.perf_counter() - t0) * 1000)
    conn.close()
    return out


async def app_puts(home: Path, store: Store, lpns: list[str], targets: list[str]) -> list[float]:
    from dockstation.tui.app import BenchApp

    app = BenchApp(home, store=store, triage=make_triage(load_policy(home)), start_services=False)
    out: list[float] = []
    async with app.run_test(size=(80, 24)) as pilot:
        while not app.receive_screen.is_mounted:
            await pilot.pause(0.01)

        async def scan(code: str) -> float:
            done = app.scans_done + 1
            t0 = time.perf_counter()
            app.enqueue_scan(ScanEvent(code, "bench", None, utcnow()))
            while app.scans_done < done:
                await asyncio.sleep(0)
            return (time.perf_counter() - t0) * 1000

        await scan("OP-2001")
        for lpn, target in zip(lpns, targets, strict=True):
            await scan(lpn)  # the unit in hand (untimed)
            await pilot.pause(0.02)
            out.append(await scan(target))
            assert "→" in str(app.receive_screen.query_one("#state").visual), "the put is not on screen"
            await pilot.pause(0.02)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", type=int, default=10_000, help="open units in the store")
    parser.add_argument("--containers", type=int, default=200, help="open containers")
    parser.add_argument("--puts", type=int, default=300, help="timed puts through the app (and the core)")
    parser.add_argument("--gaylord", type=int, default=2000, help="units in the gaylord that is closed")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        work = Path(tmp)
        home = make_home(work)
        store = Store.in_home(home)
        policy = load_policy(home)
        cfg = load_bench_config(home)
        sortable = seed(store, args.open, 2 * args.puts, args.gaylord * args.repeat)
        containers = [ct.open_container(store, "B07", "9001", policy=policy, paths=[PATHS[i % len(PATHS)]],
                                        queue_label=False).id for i in range(args.containers)]
        liquidate = [c for i, c in enumerate(containers) if PATHS[i % len(PATHS)] == "liquidate"]
        for c in liquidate:  # room for every put
            with store.write() as s:
                from dockstation.models import Container
                row = s.get(Container, c)
                row.capacity = 100_000
        ui_lpns, core_lpns = sortable[:args.puts], sortable[args.puts:2 * args.puts]
        targets = [liquidate[i % len(liquidate)] for i in range(args.puts)]
        print(f"store: {args.open} open units, {len(sortable)} disposed to sort, {args.containers} open containers")

        ui = asyncio.run(app_puts(home, store, ui_lpns, targets))
        core = []
        for lpn, target in zip(core_lpns, targets, strict=True):
            t0 = time.perf_counter()
            ct.put(store, "B07", "2001", lpn, target, policy=policy)
            core.append((time.perf_counter() - t0) * 1000)
        raw = baseline(work, args.puts)
        base50, base99 = pct(raw, 50), pct(raw, 99)

        def line(name: str, xs: list[float]) -> str:
            return (f"  {name:34} n={len(xs):5}  p50 {pct(xs, 50):7.2f} ms  p99 {pct(xs, 99):7.2f} ms  "
                    f"x{pct(xs, 50) / base50:5.1f} / x{pct(xs, 99) / base99:5.1f} baseline")

        print("put-to-container (scan → committed → shown):")
        print(line("BenchApp, container scan", ui))
        print(line("core containers.put", core))
        print(line("baseline INSERT+COMMIT (FULL)", raw))

        grades = [g.code for g in cfg.codes.grades]
        gaylords = sortable[2 * args.puts:]
        times: dict[str, list[float]] = {k: [] for k in ("close", "manifest csv", "manifest pdf", "label zpl",
                                                        "label png", "total")}
        for r in range(args.repeat):
            c = ct.open_container(store, "B07", "9001", policy=policy, paths=["liquidate"], queue_label=False).id
            fill_gaylord(store, c, gaylords[r * args.gaylord:(r + 1) * args.gaylord])
            t0 = time.perf_counter()
            closed = ct.close(store, "B07", cfg.operators.by_badge("2001"), c, grade_order=grades)
            t1 = time.perf_counter()
            m = mf.load(store, c)
            assert m is not None and len(m.rows) == args.gaylord
            csv_bytes = mf.render(m, "csv")
            t2 = time.perf_counter()
            pdf_bytes = mf.render(m, "pdf")
            t3 = time.perf_counter()
            label_bytes(closed, "zpl")
            t4 = time.perf_counter()
            label_bytes(closed, "png")
            t5 = time.perf_counter()
            for k, v in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t5 - t0), strict=True):
                times[k].append(v * 1000)
        print(f"closing a {args.gaylord}-unit gaylord (median of {args.repeat}; manifest CSV {len(csv_bytes)} B, "
              f"PDF {len(pdf_bytes)} B):")
        for k, xs in times.items():
            print(f"  {k:14} {statistics.median(xs):9.1f} ms")
        print(f"  close transaction / baseline commit: x{statistics.median(times['close']) / base50:.0f}")
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
