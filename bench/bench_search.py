"""Search latency at the bench and refund-feed paging at HQ (issue 16).

    .venv/bin/python bench/bench_search.py                    # 200k RMAs, a minute or two
    .venv/bin/python bench/bench_search.py --rmas 1000000     # the issue's size
    .venv/bin/python bench/bench_search.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/test --refunds 100000

Search: a generated manifest with customer names and e-mails, imported with `import_manifest`
(the FTS index included), then `dockstation.search.search` timed for order ids, names and SKUs
(p50, p99 over random picks), beside the raw baseline: the same index lookup alone in plain
sqlite3 on the same file (order_id = ?, rma_fts MATCH ?, sku = ?). The ratio is what the search
adds on top (the lines and heads it reads, ranking, the open filter). Target: ≤ 100 ms.

Refund feed (with --pg; bench_refunds.py measures it through a real `hq serve`): N `refund_decided` events of one station written into hq_event, then
`project` (events → feed) timed, then the whole feed paged with `feed.page` (1000 a page) beside
the raw baseline: the same keyset SELECT in plain psycopg. Entries per second.
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

FIRST = ["Ada", "Zoë", "Mark", "Lena", "Omar", "Priya", "Jonas", "Chen", "Sofia", "Luca", "Amara", "Noah"]
LAST = ["Müller", "Smith", "Nakamura", "Okafor", "García", "Novak", "Larsen", "Rossi", "Kowalski", "Haddad"]


def with_customers(src: Path, dst: Path, seed: int) -> list[tuple[str, str, str, str]]:
    rng = random.Random(seed)
    picks: list[tuple[str, str, str, str]] = []
    names: dict[str, tuple[str, str]] = {}
    with src.open(newline="") as fi, dst.open("w", newline="") as fo:
        r, w = csv.reader(fi), csv.writer(fo)
        header = next(r)
        w.writerow([*header, "customer_name", "customer_email"])
        for row in r:
            rid = row[0]
            if rid not in names:
                first, last = rng.choice(FIRST), rng.choice(LAST)
                full = f"{first} {last}-{rng.randrange(10_000)}"
                names[rid] = (full, f"{first.lower()}.{rid.lower()}@example.com")
                if rng.random() < 0.001:
                    picks.append((row[1], full, row[6], rid))
            w.writerow([*row, *names[rid]])
    return picks


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] * 1000


def bench_search(rmas: int, runs: int) -> None:
    from dockstation.demo import generate_manifest
    from dockstation.manifest import import_manifest
    from dockstation.search import search
    from dockstation.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        base, path = Path(tmp) / "m0.csv", Path(tmp) / "m.csv"
        generate_manifest(base, rmas=rmas, seed=7, now=datetime(2026, 11, 20, tzinfo=UTC))
        picks = with_customers(base, path, 7)
        store = Store(Path(tmp) / "db" / "dockstation.sqlite3")
        t = time.perf_counter()
        report = import_manifest(store, "B07", path, reason_codes=None)
        print(f"import: {rmas} RMAs, {report.rows} rows in {time.perf_counter() - t:.1f} s (FTS index included)")
        import sqlite3

        raw = sqlite3.connect(store.path)
        rng = random.Random(1)
        kinds = {
            "order id": (lambda p: p[0], "SELECT rma_id FROM rma WHERE order_id = ?", lambda v: (v,)),
            "name": (lambda p: p[1].split()[1].split("-")[0] + " " + p[1].split()[0][:3],
                     "SELECT rowid FROM rma_fts WHERE rma_fts MATCH ? LIMIT 100",
                     lambda v: (" ".join(f'"{w}"*' for w in v.split()),)),
            "SKU": (lambda p: p[2], "SELECT DISTINCT rma_id FROM rma_line WHERE sku = ? AND received_qty < qty LIMIT 100",
                    lambda v: (v,)),
        }
        print(f"{'search':<10} {'p50 ms':>8} {'p99 ms':>8} {'raw p50':>8} {'raw p99':>8} {'ratio p50':>9}")
        for name, (value, sql, params) in kinds.items():
            ours, base_t = [], []
            for _ in range(runs):
                v = value(rng.choice(picks))
                t = time.perf_counter()
                raw.execute(sql, params(v)).fetchall()
                base_t.append(time.perf_counter() - t)
                t = time.perf_counter()
                search(store, v)
                ours.append(time.perf_counter() - t)
            print(f"{name:<10} {pct(ours, .5):8.2f} {pct(ours, .99):8.2f} {pct(base_t, .5):8.2f} {pct(base_t, .99):8.2f} "
                  f"{statistics.median(ours) / max(statistics.median(base_t), 1e-9):9.1f}")
        store.close()


def bench_feed(url: str, n: int) -> None:
    import json

    import psycopg

    from sync.hq.db import HQDatabase, add_station
    from sync.hq.refunds import feed

    db = HQDatabase(url)
    with db.write() as conn:
        conn.exec_driver_sql("TRUNCATE hq_refund, hq_refund_progress, hq_event" if db.dialect == "postgresql"
                             else "DELETE FROM hq_refund")
    add_station(db, "B99", rotate=True) if _has_station(db) else add_station(db, "B99")
    payload = {"refund": "partial", "amount": "150.00", "currency": "USD", "reason": "Not in the parcel: CAP-1 x1",
               "rules": ["missing-lines"], "policy_version": "2026.11-1", "decided_at": "2026-11-20T10:00:00+00:00",
               "units": [{"lpn": "B99-00000001", "refund": "full", "amount": "100.00"}] * 2,
               "missing_lines": [{"line_no": 3, "sku": "CAP-1", "qty": 1, "value": "30.00"}]}
    body = json.dumps(payload)
    t = time.perf_counter()
    with db.write() as conn:
        conn.exec_driver_sql(
            "INSERT INTO hq_event (station_id, seq, kind, at, rma_id, payload, received_at) "
            "SELECT 'B99', g, 'refund_decided', now(), 'RMA-' || g, %(p)s::jsonb, now() FROM generate_series(1, %(n)s) g",
            {"p": body, "n": n})
        conn.exec_driver_sql("UPDATE hq_station SET acked_seq = %(n)s WHERE station_id = 'B99'", {"n": n})
    print(f"refund feed: {n} refund_decided events written in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    added = 0
    while True:
        k = feed.project(db)
        added += k
        if not k:
            break
    print(f"project: {added} entries in {time.perf_counter() - t:.2f} s ({added / (time.perf_counter() - t):,.0f}/s)")
    for label, run in (("feed.page", lambda: _page_all(db, feed)), ("raw psycopg", lambda: _raw_all(url))):
        t = time.perf_counter()
        got = run()
        took = time.perf_counter() - t
        print(f"{label:<12} {got} entries in {took:.2f} s: {got / took:,.0f} entries/s")
    db.dispose()


def _has_station(db) -> bool:  # type: ignore[no-untyped-def]
    with db.read() as conn:
        return conn.exec_driver_sql("SELECT 1 FROM hq_station WHERE station_id = 'B99'").first() is not None


def _page_all(db, feed) -> int:  # type: ignore[no-untyped-def]
    after, total = 0, 0
    while True:
        p = feed.page(db, after, 1000)
        total += len(p["entries"])
        after = feed.decode_cursor(p["cursor"])
        if not p["more"]:
            return total


def _raw_all(url: str) -> int:
    import psycopg
    from sqlalchemy.engine import make_url

    info = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    total, after = 0, 0
    with psycopg.connect(info) as conn:
        while True:
            rows = conn.execute("SELECT feed_id, entry FROM hq_refund WHERE feed_id > %s ORDER BY feed_id LIMIT 1001",
                                (after,)).fetchall()
            total += min(len(rows), 1000)
            if len(rows) <= 1000:
                return total
            after = rows[999][0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rmas", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--pg", default=None, help="PostgreSQL URL for the refund feed (a scratch database)")
    ap.add_argument("--refunds", type=int, default=100_000)
    ap.add_argument("--skip-search", action="store_true")
    args = ap.parse_args()
    if not args.skip_search:
        bench_search(args.rmas, args.runs)
    if args.pg:
        bench_feed(args.pg, args.refunds)


if __name__ == "__main__":
    main()
