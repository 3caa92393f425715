"""Sync benchmarks: HQ ingest under 100 stations, and a bench pulling a big manifest.

(a) events/s stored by a real HQ (`dockstation hq serve`, PostgreSQL) while 100 simulated
    stations push batches of 2,000 concurrently, beside PostgreSQL `COPY` of the same rows into
    an identical table (target: HQ >= 0.8x COPY), with every request's latency (p50/p99/max;
    target: none over 10 s) and how many were answered 503 + Retry-After (back-pressure);
(b) time for a bench to pull an N-RMA manifest from HQ (`SyncClient.sync_once`: HTTP pages,
    validation, upserts, cursor and event per page) beside a raw sqlite3 `executemany` load of the
    same rows into an identical bench database (target: <= 1.5x).

    .venv/bin/python bench/bench_sync.py            # 100 stations x 4,000 events; 100k RMAs
    .venv/bin/python bench/bench_sync.py --full     # 100 stations x 10,000 events; 1M RMAs

PostgreSQL: $DOCKSTATION_TEST_PG_URL or postgresql+psycopg://postgres@127.0.0.1:5432/test; the
benchmark works in a schema of its own and drops it. Without PostgreSQL, (a) is skipped and (b)
runs against an HQ on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy.engine import make_url  # noqa: E402

from dockstation.config import StationConfig  # noqa: E402
from dockstation.store import Store  # noqa: E402
from sync.hq.db import HQDatabase, add_station  # noqa: E402

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
KINDS = ("unit_received", "inspection_started", "unit_graded", "unit_disposed")


def conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def pg_schema(base: str) -> tuple[str | None, str, str]:
    """(url with its own search_path, schema, why not) — url None if PostgreSQL does not answer."""
    import psycopg

    schema = f"ds_bench_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(conninfo(base), autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
    except Exception as exc:  # noqa: BLE001
        return None, schema, str(exc).splitlines()[0]
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    return url, schema, ""


def drop_schema(base: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(conninfo(base), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_hq(db_url: str, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    exe = Path(sys.executable).parent / "dockstation"
    cmd = [str(exe), "hq", "serve", "--db", db_url, "--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, stdout=log, stderr=log)  # its request log, warnings (503s) included
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            if proc.poll() is not None:
                break
            time.sleep(0.05)
    proc.kill()
    log.seek(0)
    raise SystemExit("HQ did not start:\n" + log.read().decode(errors="replace")[-2000:])


# -- CPU accounting (Linux /proc): where the machine's time went during a timed part ---------
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int | str) -> tuple[str, int, float] | None:
    """(comm, ppid, CPU seconds) of a process, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm, rest = raw[raw.index("(") + 1:raw.rindex(")")], raw[raw.rindex(")") + 2:].split()
    return comm, int(rest[1]), (int(rest[11]) + int(rest[12])) / _TICK


def cpu_sample(hq_pid: int) -> dict[str, float]:
    """CPU seconds so far of: the HQ process tree, every PostgreSQL process, this process, and
    the whole machine (busy, all cores)."""
    stats = {int(p): st for p in os.listdir("/proc") if p.isdigit() and (st := _stat(p)) is not None}
    tree, grew = {hq_pid}, True
    while grew:
        kids = {p for p, st in stats.items() if st[1] in tree} - tree
        grew, tree = bool(kids), tree | kids
    out = {"hq": sum(stats[p][2] for p in tree if p in stats),
           "postgres": sum(st[2] for st in stats.values() if st[0] == "postgres"),
           "bench": sum(os.times()[:2])}
    try:
        vals = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        out["machine"] = (sum(vals) - vals[3] - vals[4]) / _TICK
    except (OSError, ValueError):
        pass
    return out


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: after[k] - before[k] for k in before if k in after}


def stop_hq(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


# -- (a) ingest --------------------------------------------------------------------------------
def station_events(station: str, n: int, t0: datetime) -> list[dict[str, Any]]:
    out = []
    for seq in range(1, n + 1):
        unit, step = divmod(seq - 1, len(KINDS))
        kind = KINDS[step]
        payload = {"unit_received": {"line_no": 1, "sku": "PHN-128-BLK", "category": "phones", "lane": "express",
                                     "sla_hours": 8, "lane_reason": "value density", "risk_flags": [],
                                     "unit_price": "699.00", "currency": "USD", "code": "1Z999AA10123456784",
                                     "source": "serial:front"},
                   "inspection_started": {"inspection_id": unit + 1, "checklist": "phones", "checklist_version": "1"},
                   "unit_graded": {"inspection_id": unit + 1, "grade": "B", "suggested_grade": "B", "changed": False,
                                   "flags": [], "category": "phones", "unit_price": "699.00"},
                   "unit_disposed": {"kind": "policy", "path": "open_box", "rule_id": "open-box-b",
                                     "reason": "grade B", "policy_version": "2026.11-1", "destination": "OB-1",
                                     "recovery_value": "520.00", "category": "phones", "grade": "B",
                                     "unit_price": "699.00", "flags": []}}[kind]
        out.append({"seq": seq, "kind": kind, "at": (t0 + timedelta(seconds=seq)).isoformat(), "operator": "1001",
                    "lpn": f"{station}-{unit + 1:08d}", "rma_id": f"RMA-2026-{unit + 1:07d}", "payload": payload})
    return out


def copy_text(rows: list[tuple[str, dict[str, Any]]], received: str) -> bytes:
    def esc(v: Any) -> str:
        if v is None:
            return "\\N"
        return str(v).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")

    lines = []
    for station, e in rows:
        payload = json.dumps(e["payload"], separators=(",", ":"))
        lines.append("\t".join(esc(v) for v in (station, e["seq"], e["kind"], e["at"], e["operator"], e["lpn"],
                                                e["rma_id"], payload, received)))
    return ("\n".join(lines) + "\n").encode()


class PushStats:
    """What the load generator saw: every request's latency (s), and the back-pressure answers."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.busy = 0  # 503 (or 429) answers with Retry-After
        self.retry_after: set[str] = set()
        self.copies: list[float] = []  # the baseline's seconds, before and after HQ's run


async def push_all(url: str, work: list[tuple[str, str, list[bytes]]], stats: PushStats) -> int:
    """Each simulated station: one keep-alive HTTP/1.1 connection, its batches one after another.

    Plain asyncio sockets with requests built before the clock starts: a load generator that
    costs next to nothing, so the CPU the machine has goes to HQ and PostgreSQL (httpx here cost
    as much CPU per event as half of HQ itself). Like the bench's client, a 503/429 with
    `Retry-After` is waited out (that long, plus up to half again of jitter) and the same batch
    sent again, on a new connection when HQ closed the old one."""
    import random

    host, port = url.removeprefix("http://").split(":")

    async def station(station_id: str, token: str, bodies: list[bytes]) -> int:
        reader, writer = await asyncio.open_connection(host, int(port))
        acked = 0
        try:
            for body in bodies:
                request = (b"POST /api/v1/events HTTP/1.1\r\nHost: hq\r\nContent-Type: application/json\r\n"
                           b"X-Dockstation-Protocol: 1\r\nAuthorization: Bearer " + token.encode()
                           + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
                while True:
                    sent = time.perf_counter()
                    writer.write(request)
                    await writer.drain()
                    head = await reader.readuntil(b"\r\n\r\n")
                    status = head.split(b" ", 2)[1]
                    headers = {h.split(b":", 1)[0].strip().lower(): h.split(b":", 1)[1].strip()
                               for h in head.split(b"\r\n")[1:] if b":" in h}
                    answer = await reader.readexactly(int(headers[b"content-length"]))
                    stats.latencies.append(time.perf_counter() - sent)
                    if status in (b"503", b"429") and b"retry-after" in headers:
                        stats.busy += 1
                        stats.retry_after.add(headers[b"retry-after"].decode())
                        if headers.get(b"connection", b"").lower() == b"close":
                            writer.close()
                        await asyncio.sleep(float(headers[b"retry-after"]) * random.uniform(1.0, 1.5))
                        if writer.is_closing():
                            reader, writer = await asyncio.open_connection(host, int(port))
                        continue
                    if status != b"200":
                        raise SystemExit(f"{station_id}: HQ answered {status.decode()}: {answer[:200]!r}")
                    acked = json.loads(answer)["acked_seq"]
                    break
        finally:
            writer.close()
        return acked

    acks = await asyncio.gather(*(station(*w) for w in work))
    return sum(acks)


def settle(proc: subprocess.Popen, workers: int, quiet_s: float = 0.05, longest: float = 60.0) -> None:
    """Wait until every worker has started and the HQ processes are idle: the first /healthz answer
    comes from the first worker up, while the others may still be importing (that CPU would count
    against the timed ingest)."""
    deadline = time.monotonic() + longest
    last = cpu_sample(proc.pid)["hq"]
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = cpu_sample(proc.pid)["hq"]
        kids = [p for p in os.listdir("/proc") if p.isdigit() and (st := _stat(p)) is not None and st[1] == proc.pid]
        if now - last < quiet_s and len(kids) >= (workers if workers > 1 else 0):
            return
        last = now


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]  # nearest rank


def raw_copy(base: str, schema: str, data: bytes, total: int, cpu: list[float] | None = None) -> float:
    """Seconds for PostgreSQL `COPY` of the rows into a fresh table shaped like hq_event (same key
    and indexes), in one stream and one transaction. `cpu` gets the CPU seconds PostgreSQL and this
    process spent on it."""
    import psycopg

    with psycopg.connect(conninfo(base)) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        conn.execute("DROP TABLE IF EXISTS hq_event_copy")
        conn.execute("CREATE TABLE hq_event_copy (LIKE hq_event INCLUDING ALL)")
        conn.commit()
        cpu0 = cpu_sample(os.getpid())
        start = time.perf_counter()
        with conn.cursor() as cur, cur.copy("COPY hq_event_copy (station_id, seq, kind, at, operator, lpn, "
                                            "rma_id, payload, received_at) FROM STDIN") as copy:
            for i in range(0, len(data), 1 << 20):
                copy.write(data[i:i + (1 << 20)])
        conn.commit()
        elapsed = time.perf_counter() - start
        used = cpu_used(cpu0, cpu_sample(os.getpid()))
        if cpu is not None:
            cpu.append(used["postgres"] + used["bench"])
        copied = conn.execute("SELECT count(*) FROM hq_event_copy").fetchone()[0]
        conn.execute("DROP TABLE hq_event_copy")
        conn.commit()
    assert copied == total, (copied, total)
    return elapsed


def ingest_once(args: argparse.Namespace, base: str) -> tuple[float, float, int, dict[str, float], PushStats] | str:
    """One round in a fresh schema: (HQ events/s, COPY rows/s, rows, CPU µs per event of HQ,
    PostgreSQL, the load generator and the machine while HQ ingested, what the stations saw),
    or why it could not run."""
    url, schema, why = pg_schema(base)
    if url is None:
        return why
    try:
        db = HQDatabase(url)
        t0 = datetime(2026, 11, 20, 8, tzinfo=UTC)
        work, copy_rows = [], []
        for i in range(args.stations):
            sid = f"S{i:03d}"
            token = add_station(db, sid)
            evs = station_events(sid, args.events, t0)
            bodies = [json.dumps({"protocol": 1, "station_id": sid, "events": evs[j:j + args.batch]},
                                 separators=(",", ":")).encode() for j in range(0, len(evs), args.batch)]
            work.append((sid, token, bodies))
            copy_rows += [(sid, e) for e in evs]
        db.dispose()
        total = len(copy_rows)
        data = copy_text(copy_rows, datetime.now(UTC).isoformat())
        # The baseline before and after HQ's run, on a machine shared with other work: its load
        # moves within seconds, so one COPY alone says more about the moment than about COPY.
        copy_cpu: list[float] = []
        copies = [raw_copy(base, schema, data, total, copy_cpu)]
        proc, hq_url = start_hq(url, args.workers)
        stats = PushStats()
        try:
            settle(proc, args.workers)
            cpu0 = cpu_sample(proc.pid)
            start = time.perf_counter()
            acked = asyncio.run(push_all(hq_url, work, stats))
            http_s = time.perf_counter() - start
            cpu = cpu_used(cpu0, cpu_sample(proc.pid))
        finally:
            stop_hq(proc)
        copies.append(raw_copy(base, schema, data, total, copy_cpu))
        copy_s = statistics.mean(copies)
        import psycopg

        with psycopg.connect(conninfo(base)) as conn:
            conn.execute(f'SET search_path TO "{schema}"')
            stored = conn.execute("SELECT count(*) FROM hq_event").fetchone()[0]
        assert stored == total and acked == total, (stored, total, acked)
        stats.copies = copies
        cpu["copy"] = statistics.mean(copy_cpu)
        return total / http_s, total / copy_s, total, {k: v / total * 1e6 for k, v in cpu.items()}, stats
    finally:
        drop_schema(base, schema)


def bench_ingest(args: argparse.Namespace) -> None:
    base = os.environ.get("DOCKSTATION_TEST_PG_URL", PG_DEFAULT)
    rounds = []
    for _ in range(args.repeat):
        got = ingest_once(args, base)
        if isinstance(got, str):
            print(f"(a) skipped: PostgreSQL not reachable at {make_url(base).render_as_string()}: {got}")
            return
        rounds.append(got)
    http_rate = statistics.median(r[0] for r in rounds)
    copy_rate = statistics.median(r[1] for r in rounds)
    ratio = statistics.median(r[0] / r[1] for r in rounds)
    total = rounds[0][2]
    runs = f" (median of {args.repeat})" if args.repeat > 1 else ""
    print(f"(a) HQ ingest, PostgreSQL, {args.stations} stations x {args.events:,} events, "
          f"batches of {args.batch}, {args.workers} HQ worker(s){runs}")
    print(f"    HQ POST /api/v1/events:  {total / http_rate:7.2f} s  {http_rate:10,.0f} events/s  "
          f"({total:,} stored once each)")
    before_after = ", ".join(f"{total / x:,.0f}" for r in rounds for x in r[4].copies)
    print(f"    PostgreSQL COPY:         {total / copy_rate:7.2f} s  {copy_rate:10,.0f} rows/s  "
          f"(before and after HQ's run: {before_after} rows/s)")
    print(f"    ratio HQ/COPY:           {ratio:7.2f} x  (target >= 0.8)")
    lat = [x for r in rounds for x in r[4].latencies]
    busy = sum(r[4].busy for r in rounds)
    print(f"    request latency:         p50 {_pct(lat, 50):.2f} s  p99 {_pct(lat, 99):.2f} s  max {max(lat):.2f} s  "
          f"({len(lat):,} requests; target: none over 10 s)")
    print(f"    back-pressure answers:   {busy:,} x 503/429"
          + (f" (Retry-After: {', '.join(sorted({v for r in rounds for v in r[4].retry_after}))} s)" if busy else ""))
    cpu = {k: statistics.median(r[3][k] for r in rounds if k in r[3]) for k in rounds[0][3]}
    print(f"    CPU per event while HQ ingested: HQ {cpu['hq']:.1f} µs, PostgreSQL {cpu['postgres']:.1f} µs, "
          f"load generator {cpu['bench']:.1f} µs"
          + (f"; machine busy {cpu['machine']:.1f} of {1e6 / http_rate * (os.cpu_count() or 1):.1f} µs "
             f"({os.cpu_count()} cores)" if "machine" in cpu else ""))
    # This machine is shared: what other work took of the cores counts against HQ (two cores'
    # work) more than against COPY (one stream, one core). CPU per event says what each costs.
    hq_cost = cpu["hq"] + cpu["postgres"] + cpu["bench"]
    cores = os.cpu_count() or 1
    print(f"    CPU per event: HQ path {hq_cost:.1f} µs (HQ + PostgreSQL + load generator), COPY {cpu['copy']:.1f} µs "
          f"(PostgreSQL + client); were the {cores} cores idle: HQ {cores / hq_cost * 1e6:,.0f} events/s, "
          f"COPY {1e6 / cpu['copy']:,.0f} rows/s (one stream, one core): {cores * cpu['copy'] / hq_cost:.2f} x")
    if args.repeat > 1:
        print(f"    runs (ratio): {', '.join(f'{r[0] / r[1]:.2f}' for r in rounds)}")


# -- (b) manifest pull -------------------------------------------------------------------------
def store_ts(wire: str) -> str:
    """HQ's canonical UTC text as the bench stores it (SQLAlchemy's SQLite DATETIME text)."""
    return wire[:10] + " " + wire[11:26]


def pull_once(home: Path, station: str, hq_url: str, token: str, args: argparse.Namespace,
              rows: int) -> tuple[float, Any]:
    """A fresh bench pulls everything from HQ: one `sync_once`, timed."""
    from sqlalchemy import text

    from sync.client import SyncClient

    (home / "config").mkdir(parents=True)
    (home / "config" / "station.toml").write_text(f'station_id = "{station}"\n[hq]\nurl = "{hq_url}"\ntoken = "{token}"\n')
    store = Store.in_home(home)
    client = SyncClient(store, home, StationConfig(station_id=station, hq={"url": hq_url, "token": token}),
                        page_limit=args.page)
    start = time.perf_counter()
    result = client.sync_once()
    elapsed = time.perf_counter() - start
    client.close()
    with store.read() as s:
        got = s.execute(text("SELECT (SELECT count(*) FROM rma), (SELECT count(*) FROM rma_line)")).one()
    store.close()
    assert result.outcome == "ok" and tuple(got) == (args.rmas, rows), (result, got, rows)
    return elapsed, result


def raw_load(home: Path, pages: list[tuple[list[Any], list[Any]]]) -> float:
    """The baseline: the same rows, already in the bench's storage form, plain INSERT executemany
    into a fresh bench database (same schema, indexes and pragmas), 20,000 RMAs per transaction."""
    from sync.protocol import LINE_FIELDS, RMA_FIELDS

    store = Store.in_home(home)
    conn = store.raw_connection()
    rma_sql = f"INSERT INTO rma ({', '.join(RMA_FIELDS)}) VALUES ({', '.join('?' * len(RMA_FIELDS))})"
    line_sql = (f"INSERT INTO rma_line ({', '.join(LINE_FIELDS)}, received_qty) "
                f"VALUES ({', '.join('?' * len(LINE_FIELDS))}, 0)")
    start = time.perf_counter()
    for rmas, lines in pages:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(rma_sql, rmas)
        conn.executemany(line_sql, lines)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    store.close()
    return elapsed


def bench_pull(args: argparse.Namespace, work: Path) -> None:
    from dockstation.demo import generate_manifest
    from sync.hq.manifest_import import import_csv
    from sync.station_store import page_rows

    base = os.environ.get("DOCKSTATION_TEST_PG_URL", PG_DEFAULT)
    url, schema, why = pg_schema(base) if args.hq_db == "postgresql" else (None, "", "not asked for")
    if url is None:
        url = f"sqlite:///{work / 'hq.sqlite3'}"
        if args.hq_db == "postgresql":
            print(f"(b) PostgreSQL not reachable ({why}): HQ on SQLite")
    try:
        csv = work / "manifest.csv"
        rows = generate_manifest(csv, rmas=args.rmas, seed=7, now=datetime(2026, 11, 20, tzinfo=UTC))
        db = HQDatabase(url)
        start = time.perf_counter()
        report = import_csv(db, csv)
        import_s = time.perf_counter() - start
        tokens = [add_station(db, f"P{n}") for n in range(args.repeat)]  # a fresh bench is a new station
        db.dispose()
        token = tokens[0]
        proc, hq_url = start_hq(url, args.workers)
        try:
            # The same rows, fetched and converted before any clock starts, for the baseline.
            pages, after = [], ""
            with httpx.Client(base_url=hq_url, headers={"Authorization": f"Bearer {token}",
                                                       "X-Dockstation-Protocol": "1"}, timeout=300) as http:
                while True:
                    page = http.get("/api/v1/manifest", params={"after": after, "limit": 20_000}).json()
                    rmas, lines = page_rows(page)
                    pages.append(([(r[0], r[1], store_ts(r[2]), store_ts(r[3]), r[4], store_ts(r[5])) for r in rmas],
                                  lines))
                    after = page["cursor"]
                    if not page["more"]:
                        break
            pulls, raws = [], []
            for n in range(args.repeat):  # pull and baseline alternate: both see the same machine
                pulls.append(pull_once(work / f"bench{n}", f"P{n}", hq_url, tokens[n], args, rows))
                raws.append(raw_load(work / f"raw{n}", pages))
        finally:
            stop_hq(proc)
        pull_s, raw_s = statistics.median(p[0] for p in pulls), statistics.median(raws)
        result = pulls[0][1]
        runs = f" (median of {args.repeat})" if args.repeat > 1 else ""
        print(f"(b) manifest pull, {args.rmas:,} RMAs / {rows:,} lines, HQ on {make_url(url).get_backend_name()}, "
              f"pages up to {args.page:,} (HQ import of the CSV: {import_s:.1f} s, {report.errors} bad rows){runs}")
        print(f"    bench sync_once (HTTP):  {pull_s:7.2f} s  {args.rmas / pull_s:10,.0f} RMAs/s  "
              f"({result.pages} pages, {result.rmas_changed:,} RMAs written)")
        print(f"    raw sqlite3 executemany: {raw_s:7.2f} s  {args.rmas / raw_s:10,.0f} RMAs/s")
        print(f"    ratio pull/raw:          {pull_s / raw_s:7.2f} x  (target <= 1.5)")
        if args.repeat > 1:
            print(f"    runs: pull {', '.join(f'{p[0]:.2f}' for p in pulls)} s; raw {', '.join(f'{r:.2f}' for r in raws)} s")
    finally:
        if schema and url.startswith("postgresql"):
            drop_schema(base, schema)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--full", action="store_true", help="the issue's sizes: 10,000 events per station, 1M RMAs")
    ap.add_argument("--stations", type=int, default=100)
    ap.add_argument("--events", type=int, help="events per station (default 4,000; --full 10,000)")
    ap.add_argument("--batch", type=int, default=2000, help="events per POST (the client's default)")
    ap.add_argument("--rmas", type=int, help="RMAs in the manifest (default 100,000; --full 1,000,000)")
    ap.add_argument("--page", type=int, default=20_000, help="largest manifest page (`dockstation sync` default)")
    ap.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1),
                    help="HQ worker processes (default: 2 per core; each waits for PostgreSQL part of the time)")
    ap.add_argument("--hq-db", choices=["postgresql", "sqlite"], default="postgresql", help="HQ database for (b)")
    ap.add_argument("--only", choices=["ingest", "pull"], help="run one part")
    ap.add_argument("--repeat", type=int, default=1, help="run each measurement N times, print medians")
    ap.add_argument("--dir", type=Path, help="work folder (default: a temporary one)")
    args = ap.parse_args()
    args.events = args.events or (10_000 if args.full else 4_000)
    args.rmas = args.rmas or (1_000_000 if args.full else 100_000)
    work = Path(tempfile.mkdtemp(prefix="bench-sync-", dir=args.dir))
    try:
        if args.only in (None, "ingest"):
            bench_ingest(args)
        if args.only in (None, "pull"):
            bench_pull(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
