"""Policy speed: `policy simulate` replay, `decide`, and the triage history lookup on the scan path.

    .venv/bin/python bench/bench_policy.py                   # 100k graded units, < 1 min
    .venv/bin/python bench/bench_policy.py --units 500000    # "hundreds of thousands" (full size)

A bench database is filled with graded units (realistic mix of categories, grades, flags and
checklist answers, ~3% flagged) by raw executemany. Figures, each the median of --repeat runs:
- simulate: the whole replay (one query + two policies decided per unit) against a raw baseline
  that runs the same query and only fetches the rows; the ratio is what deciding costs on top.
- decide: microseconds per call on facts drawn from the same data.
- triage history lookup (two indexed counts, run in every receiving transaction): median and p99
  over 2,000 lookups of random SKUs and customers, beside one indexed primary-key read.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dockstation.config import package_config_dir  # noqa: E402
from dockstation.policy import decide, load_policy, load_policy_file, simulate  # noqa: E402
from dockstation.policy.simulate import _SQL, history  # noqa: E402
from dockstation.policy.triage import history_counts  # noqa: E402
from dockstation.store import Store  # noqa: E402

CATS = {"phones": (149, 1199), "laptops": (399, 2499), "headphones": (29, 449), "apparel": (12, 189),
        "footwear": (25, 240), "home": (15, 399), "health_beauty": (9, 249), "toys": (8, 199), "other": (10, 179)}
GRADES = ["A", "B", "C", "D", "F"]
GRADE_W = [30, 30, 20, 12, 8]
FLAGS = ["serial_mismatch", "wrong_item", "empty_box", "activation_locked"]
COND = ["missing_accessories", "hygiene_seal_broken"]
REASONS = ["changed_mind", "wrong_size", "defective", "damaged_in_transit", "not_as_described", "unwanted_gift"]


def ts(d: datetime) -> str:
    return d.strftime("%Y-%m-%d %H:%M:%S.%f")


def fill(store: Store, n: int, seed: int = 7) -> None:
    rnd = random.Random(seed)
    now = datetime.now(UTC).replace(tzinfo=None)
    conn = store.raw_connection()
    conn.execute("PRAGMA synchronous=OFF")  # a benchmark fixture, not bench data
    cats = list(CATS)
    batch = 20_000
    for start in range(0, n, batch):
        rmas, lines, units, insps = [], [], [], []
        for i in range(start, min(n, start + batch)):
            cat = rnd.choice(cats)
            lo, hi = CATS[cat]
            price = f"{rnd.uniform(lo, hi):.2f}"
            created = now - timedelta(days=rnd.uniform(1, 120))
            decided = created + timedelta(days=rnd.uniform(0, 10))
            rma, lpn, sku = f"RMA-B-{i:08d}", f"B07-{i + 1:08d}", f"{cat[:3].upper()}-{rnd.randrange(2000)}"
            flags = [rnd.choice(FLAGS)] if rnd.random() < 0.03 else []
            flags += [rnd.choice(COND)] if rnd.random() < 0.08 else []
            answers = {"item_present": {"value": "pass", "result": "pass"},
                       "powers_on": {"value": rnd.choice(["pass", "pass", "fail"]), "result": "pass"}}
            grade = rnd.choices(GRADES, GRADE_W)[0]
            rmas.append((rma, f"O-{rnd.randrange(n // 2 + 1)}", ts(created), ts(created + timedelta(days=30)), "open", ts(now)))
            lines.append((rma, 1, sku, cat, price, rnd.choice(REASONS), 1))
            units.append((lpn, rma, 1, "B07", sku, cat, price, "disposed", json.dumps(flags, separators=(",", ":")),
                          grade, ts(decided - timedelta(hours=2)), ts(decided - timedelta(hours=1)), ts(decided), ts(decided)))
            insps.append((lpn, cat, "1", "done", json.dumps(answers, separators=(",", ":")),
                          json.dumps(flags, separators=(",", ":")), grade, ts(decided), "2001"))
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO rma (rma_id, order_id, created_at, expires_at, status, updated_at) "
                         "VALUES (?,?,?,?,?,?)", rmas)
        conn.executemany("INSERT INTO rma_line (rma_id, line_no, sku, category, unit_price, reason_code, qty, "
                         "received_qty, description, currency) VALUES (?,?,?,?,?,?,1,?, '', 'USD')", lines)
        conn.executemany("INSERT INTO unit (lpn, rma_id, line_no, station_id, sku, category, unit_price, state, "
                         "risk_flags, grade, received_at, inspected_at, disposed_at, updated_at, description, "
                         "currency, lane, received_by, source, reprints) "
                         "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?, '', 'USD', 'standard', '1001', 'bench', 0)", units)
        conn.executemany("INSERT INTO inspection (lpn, checklist, checklist_version, status, answers, flags, grade, "
                         "started_at, started_by, step_index) VALUES (?,?,?,?,?,?,?,?,?,0)", insps)
        conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()


def timed(fn, repeat: int) -> tuple[float, float, object]:
    """Median wall time and median CPU time of this process (a loaded machine inflates the first)."""
    times, cpu, out = [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(times), statistics.median(cpu), out


def raw_fetch(store: Store) -> int:
    conn = store.raw_connection()
    try:
        cur, n = conn.execute(_SQL, ("",)), 0
        while rows := cur.fetchmany(5000):
            n += len(rows)
        return n
    finally:
        conn.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--units", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.sqlite3")
        t0 = time.perf_counter()
        fill(store, args.units)
        print(f"filled {args.units} graded units in {time.perf_counter() - t0:.1f} s")
        in_force = load_policy(None)
        text = (package_config_dir() / "policy.toml").read_text()
        cand_path = Path(tmp) / "candidate.toml"
        cand_path.write_text(text.replace('value_at_least = "80.00"', 'value_at_least = "150.00"'))
        candidate = load_policy_file(cand_path)

        base, base_cpu, _ = timed(lambda: raw_fetch(store), args.repeat)
        sim_t, sim_cpu, sim = timed(lambda: simulate(store, in_force, candidate), args.repeat)
        print(f"simulate: {sim.units} units, {len(sim.changed)} change path; median {sim_t:.2f} s wall, "
              f"{sim_cpu:.2f} s CPU ({sim_cpu / max(1, sim.units) * 1e6:.1f} us CPU/unit); "
              f"raw query+fetch {base:.2f} s wall, {base_cpu:.2f} s CPU (ratio {sim_cpu / base_cpu:.1f}x CPU)")

        sample = [f for _, (_lpn, f) in zip(range(20_000), history(store, in_force), strict=False)]
        dec_t, dec_cpu, _ = timed(lambda: [decide(in_force, f) for f in sample], args.repeat)
        print(f"decide: {dec_cpu / len(sample) * 1e6:.2f} us CPU per unit "
              f"(median of {args.repeat} x {len(sample)})")

        rnd = random.Random(3)
        skus = [f"{c[:3].upper()}-{rnd.randrange(2000)}" for c in rnd.choices(list(CATS), k=2000)]
        orders = [f"O-{rnd.randrange(args.units // 2 + 1)}" for _ in range(2000)]
        lookups, pk = [], []
        with store.read() as s:
            conn = s.connection()
            for sku, order in zip(skus, orders, strict=True):
                t0 = time.perf_counter()
                history_counts(s, in_force, sku, order)
                lookups.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                conn.exec_driver_sql("SELECT state FROM unit WHERE lpn = ?", (f"B07-{rnd.randrange(args.units) + 1:08d}",)).all()
                pk.append(time.perf_counter() - t0)
        q = statistics.quantiles(lookups, n=100)
        qb = statistics.quantiles(pk, n=100)
        print(f"triage history lookup: median {statistics.median(lookups) * 1e3:.3f} ms, p99 {q[98] * 1e3:.3f} ms; "
              f"primary-key read baseline median {statistics.median(pk) * 1e3:.3f} ms, p99 {qb[98] * 1e3:.3f} ms "
              f"(ratio {statistics.median(lookups) / statistics.median(pk):.1f}x)")
        store.close()


if __name__ == "__main__":
    main()
