"""Refund feed at HQ on PostgreSQL (issue 16): projecting `refund_decided` events into the feed,
and paging the feed to its end through a real `dockstation hq serve`, beside a raw psycopg
SELECT of the same rows.

    .venv/bin/python bench/bench_refunds.py                          # 100k decisions, a minute or two
    .venv/bin/python bench/bench_refunds.py --refunds 1000000 --repeat 3
    .venv/bin/python bench/bench_refunds.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/test

Works in a schema of its own (`ds_bench_refunds_…`, dropped at the end) of the database named by
--pg (default $DOCKSTATION_TEST_PG_URL, else the test server); stops politely without one.

1. N `refund_decided` events of one station (each a partial refund of 2 units and a missing
   line, ~0.6 kB of JSON, as a bench records it) are loaded with COPY, the station's acked_seq
   set: what HQ holds after the benches pushed them.
2. `project`: HQ reads them into `hq_refund` (the entries, and a webhook delivery each for one
   subscribed webhook) — what the first GET after a push does. Entries per second.
3. Paging: a reader with the `refunds` scope pages `GET /api/v1/refunds?after=CURSOR&limit=L`
   from the start until `more` is false, through `hq serve` (one worker, loopback, HTTP/1.1
   keep-alive), the body decoded by the client; beside the raw baseline, the same keyset
   SELECT (feed_id > cursor ORDER BY feed_id LIMIT L) in plain psycopg, its jsonb decoded.
   Entries per second, median of --repeat runs each (alternating), and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

PAYLOAD = {
    "refund": "partial", "amount": "150.00", "currency": "USD", "expected_value": "180.00", "withheld": "30.00",
    "reason": "Not in the parcel: CAP-1 x1 (30.00 USD withheld)", "rules": ["missing-lines"],
    "policy_version": "2026.11-1", "decided_at": "2026-11-20T10:00:00+00:00", "empty": False,
    "units": [{"lpn": "B99-00000001", "line_no": 1, "sku": "HP-1", "refund": "full", "amount": "100.00",
               "reason": "Full refund", "undeclared": False, "path": "restock"},
              {"lpn": "B99-00000002", "line_no": 2, "sku": "TS-1", "refund": "full", "amount": "50.00",
               "reason": "Full refund", "undeclared": False, "path": "open_box"}],
    "missing_lines": [{"line_no": 3, "sku": "CAP-1", "qty": 1, "value": "30.00", "currency": "USD"}],
}


def conninfo(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def with_schema(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


def load(url: str, schema: str, n: int) -> str:
    """The events, the station, a webhook subscribed to refund.decided; a reader's token."""
    import psycopg

    from sync.hq.db import HQDatabase, add_reader, add_station
    from sync.hq.refunds.webhooks import add_webhook

    db = HQDatabase(with_schema(url, schema))
    add_station(db, "B99")
    token = add_reader(db, "finance", scopes=("refunds",))
    add_webhook(db, "http://127.0.0.1:9/hook", ["refund.decided"])  # nobody listens: deliveries queue
    db.dispose()
    body = json.dumps(PAYLOAD)
    t = time.perf_counter()
    with psycopg.connect(conninfo(url), options=f"-csearch_path={schema}") as conn:
        with conn.cursor() as cur, cur.copy("COPY hq_event (station_id, seq, kind, at, rma_id, payload, received_at) "
                                            "FROM STDIN") as copy:
            for seq in range(1, n + 1):
                copy.write_row(("B99", seq, "refund_decided", "2026-11-20 10:00:00", f"RMA-{seq:08d}", body,
                                "2026-11-20 10:00:01"))
        conn.execute("UPDATE hq_station SET acked_seq = %s WHERE station_id = 'B99'", (n,))
        conn.execute("ANALYZE hq_event")  # this table only: a bare ANALYZE walks every schema of the database
    print(f"loaded {n:,} refund_decided events in {time.perf_counter() - t:.1f} s")
    return token


def project_all(url: str, schema: str) -> tuple[int, float]:
    from sync.hq.db import HQDatabase
    from sync.hq.refunds import feed

    db = HQDatabase(with_schema(url, schema))
    t = time.perf_counter()
    added = 0
    while k := feed.project(db):
        added += k
    took = time.perf_counter() - t
    db.dispose()
    return added, took


def serve(url: str, schema: str, work: Path) -> tuple[subprocess.Popen[bytes], str]:
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "DOCKSTATION_HQ_WEBHOOKS": "off"}  # the dispatcher would retry port 9 meanwhile
    proc = subprocess.Popen([str(Path(sys.executable).parent / "dockstation"), "hq", "serve", "--port", str(port),
                             "--db", with_schema(url, schema), "--log-level", "warning"],
                            stdout=(work / "hq.out").open("wb"), stderr=(work / "hq.err").open("wb"), env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"hq serve did not come up: {(work / 'hq.err').read_text()[-500:]}")


def page_http(base: str, token: str, limit: int) -> int:
    import httpx

    total, after = 0, ""
    with httpx.Client(base_url=base, timeout=120, headers={"Authorization": f"Bearer {token}",
                                                           "X-Dockstation-Protocol": "1"}) as c:
        while True:
            r = c.get("/api/v1/refunds", params={"after": after, "limit": limit})
            r.raise_for_status()
            page = r.json()
            total += len(page["entries"])
            after = page["cursor"]
            if not page["more"]:
                return total


def page_raw(url: str, schema: str, limit: int) -> int:
    import psycopg

    total, after = 0, 0
    with psycopg.connect(conninfo(url), options=f"-csearch_path={schema}") as conn:
        while True:
            rows = conn.execute("SELECT feed_id, entry FROM hq_refund WHERE feed_id > %s ORDER BY feed_id LIMIT %s",
                                (after, limit + 1)).fetchall()
            got = rows[:limit]
            total += len(got)
            if len(rows) <= limit:
                return total
            after = got[-1][0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg", default=os.environ.get("DOCKSTATION_TEST_PG_URL", PG_DEFAULT))
    ap.add_argument("--refunds", type=int, default=100_000)
    ap.add_argument("--limit", type=int, default=1000, help="entries per page (HQ's maximum: 1000)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    import psycopg

    try:
        psycopg.connect(conninfo(args.pg), connect_timeout=3).close()
    except Exception as exc:  # noqa: BLE001
        print(f"PostgreSQL not reachable at {args.pg}: {str(exc).splitlines()[0]}; nothing measured")
        return 0
    schema = f"ds_bench_refunds_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(conninfo(args.pg), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    proc = None
    try:
        print(f"{args.refunds:,} decisions, pages of {args.limit}; {os.cpu_count()} CPUs, "
              f"load average {os.getloadavg()[0]:.2f}")
        token = load(args.pg, schema, args.refunds)
        added, took = project_all(args.pg, schema)
        print(f"project (events -> feed, with a webhook delivery each): {added:,} entries in {took:.2f} s, "
              f"{added / took:,.0f} entries/s")
        with tempfile.TemporaryDirectory(prefix="ds-bench-") as tmp:
            proc, base = serve(args.pg, schema, Path(tmp))
            page_http(base, token, args.limit)  # warm: the worker's first requests, PostgreSQL's cache
            ours, raws = [], []
            for _ in range(args.repeat):
                t = time.perf_counter()
                n_raw = page_raw(args.pg, schema, args.limit)
                raws.append(time.perf_counter() - t)
                t = time.perf_counter()
                n_http = page_http(base, token, args.limit)
                ours.append(time.perf_counter() - t)
                assert n_raw == n_http == added, (n_raw, n_http, added)
            http_s, raw_s = statistics.median(ours), statistics.median(raws)
            print(f"GET /api/v1/refunds via hq serve: {added / http_s:10,.0f} entries/s  ({http_s:.2f} s to the end, "
                  f"median of {args.repeat})")
            print(f"raw psycopg keyset SELECT:         {added / raw_s:10,.0f} entries/s  ({raw_s:.2f} s)")
            print(f"ratio hq serve / raw:              {http_s / raw_s:10.2f} x")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
        with psycopg.connect(conninfo(args.pg), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    return 0


if __name__ == "__main__":
    sys.exit(main())
