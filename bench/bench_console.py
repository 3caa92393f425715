"""HQ console benchmark: the KPI page and the unit look-up over 1M events on PostgreSQL, through a
real `dockstation hq serve` and HTTP, the way an analyst's browser meets them.

    .venv/bin/python bench/bench_console.py [--events 200000 | --full] [--repeat 50] [--lookups 300]
                                            [--pg postgresql://postgres@127.0.0.1:5432/test]

`--full` is the issue's size, 1,000,000 events (about 4 minutes here, most of it loading and
computing the 12 weeks once). Needs a PostgreSQL server (`--pg`); without one it says so and stops.

1. Loads `--events` events (bench_kpis.py's generator: 12 stations over 26 weeks, ~6 events a unit;
   each unit's events carry an RMA id) into a private PostgreSQL schema made by HQ's own schema
   code (`COPY`, then ANALYZE), registers the stations at three sites and a reader, and starts
   `dockstation hq serve` on loopback (one worker).
2. KPI page (`GET /kpis?week=` the busiest week, signed in by cookie):
   - first view: that week's report is computed before the page is answered; the trend's other
     11 weeks are computed in the background (the time until the page shows all 12 is printed);
   - every view after: median and p99 over `--repeat` views (target: p99 <= 1 s), beside the raw
     baseline of the same reads through psycopg (the session row and the 12 weekly report rows,
     JSON decoded) — what the page costs beyond fetching its data;
   - what a background refresh of one week costs (HQ's weekly report, as it recorded it).
3. Unit look-up (`GET /units/{lpn}`, its whole history) and RMA look-up (`GET /units?q=RMA-…`),
   median and p99 over `--lookups` random units, beside the same SQL through psycopg.

Figures only: nothing here asserts a time. The schema is dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_kpis import NOW, hq_events  # noqa: E402

from dockstation.kpis.stats import week_of  # noqa: E402
from sync.hq.db import HQDatabase, add_reader, add_station  # noqa: E402

SITES = ["North", "Midlands", "South"]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, -(-len(ordered) * int(p) // 100) - 1)]


def line(label: str, values: list[float], base: list[float] | None = None) -> str:
    med, p99 = statistics.median(values) * 1000, pct(values, 99) * 1000
    out = f"{label:<36} median {med:8.1f} ms   p99 {p99:8.1f} ms"
    if base:
        bmed, bp99 = statistics.median(base) * 1000, pct(base, 99) * 1000
        out += f"   | raw {bmed:6.2f} / {bp99:6.2f} ms   ratio {med / bmed:5.1f}x / {p99 / bp99:5.1f}x"
    return out


def load(url: str, schema: str, n: int, seed: int) -> tuple[dict[str, int], list[str], str]:
    db = HQDatabase(f"{url}?options=-csearch_path%3D{schema}")
    stations = [f"S{i:02d}" for i in range(12)]
    for i, st in enumerate(stations):
        add_station(db, st, site=SITES[i % 3])
    reader = add_reader(db, "bench", scopes=("admin",))
    db.dispose()
    weeks: dict[str, int] = {}
    lpns: list[str] = []
    t0 = time.perf_counter()
    with psycopg.connect(conninfo(url), options=f"-csearch_path={schema}") as conn:
        with conn.cursor() as cur, cur.copy("COPY hq_event (station_id, seq, kind, at, operator, lpn, rma_id, payload, "
                                            "received_at) FROM STDIN") as copy:
            for st, seq, kind, at, op, lpn, payload in hq_events(n, seed):
                if kind == "unit_disposed":
                    weeks[week_of(at)] = weeks.get(week_of(at), 0) + 1
                if kind == "unit_received":
                    lpns.append(lpn)
                copy.write_row((st, seq, kind, at.replace(tzinfo=None), op, lpn, f"RMA-{lpn}" if lpn else None,
                                json.dumps(payload), NOW.replace(tzinfo=None)))
        conn.execute("ANALYZE")
    print(f"loaded {n:,} events ({len(lpns):,} units) in {time.perf_counter() - t0:.1f} s")
    return weeks, lpns, reader


def conninfo(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def serve(url: str, schema: str, work: Path) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([str(Path(sys.executable).parent / "dockstation"), "hq", "serve", "--port", str(port),
                             "--db", f"{url}?options=-csearch_path%3D{schema}", "--log-level", "warning"],
                            stdout=(work / "hq.out").open("wb"), stderr=(work / "hq.err").open("wb"))
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("hq serve did not come up")


def sign_in(base: str, token: str) -> httpx.Client:
    c = httpx.Client(base_url=base, timeout=600, follow_redirects=True)
    form = c.get("/sign-in").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    assert c.post("/sign-in", data={"csrf": csrf, "token": token}).status_code == 200
    return c


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--full", action="store_true", help="1,000,000 events")
    ap.add_argument("--repeat", type=int, default=50)
    ap.add_argument("--lookups", type=int, default=300)
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    url = args.pg if "+psycopg" in args.pg else args.pg.replace("postgresql://", "postgresql+psycopg://")
    schema = f"console_bench_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(conninfo(url), autocommit=True, connect_timeout=5) as c:
            c.execute(f"CREATE SCHEMA {schema}")
    except psycopg.OperationalError as exc:
        print(f"bench_console: no PostgreSQL at {args.pg} ({str(exc).splitlines()[0]}): nothing measured")
        return
    if args.full:
        args.events = 1_000_000
    proc = None
    try:
        weeks, lpns, reader = load(url, schema, args.events, args.seed)
        week = max(weeks, key=lambda w: weeks[w])
        work = Path(tempfile.mkdtemp(prefix="bench-console-"))
        proc, base = serve(url, schema, work)
        client = sign_in(base, reader)
        session = client.cookies["hq_session"]
        raw = psycopg.connect(conninfo(url), options=f"-csearch_path={schema}", autocommit=True)

        first = timed(lambda: client.get("/kpis", params={"week": week}).raise_for_status())
        t0 = time.perf_counter()
        while "being computed" in client.get("/kpis", params={"week": week}).text:
            time.sleep(0.5)
        all_weeks = time.perf_counter() - t0 + first
        ms = raw.execute("SELECT max(compute_ms), avg(compute_ms) FROM hq_kpi_week WHERE report <> ''").fetchone()
        print(f"KPI page {week} ({weeks[week]:,} dispositions), first view: {first:.2f} s (that week computed); "
              f"all 12 weeks of the trend in {all_weeks:.1f} s; a week's report takes {ms[1] / 1000:.2f} s on average, "
              f"{ms[0] / 1000:.2f} s at most (background refresh)")

        trend = [r[0] for r in raw.execute("SELECT week FROM hq_kpi_week ORDER BY week DESC LIMIT 12")]
        import hashlib

        sid = hashlib.sha256(session.encode()).hexdigest()

        def raw_page() -> None:  # the page's reads, through psycopg
            raw.execute("SELECT s.reader, s.csrf, s.expires_at, s.seen_at, r.scopes FROM hq_console_session s "
                        "JOIN hq_reader r ON r.name = s.reader AND r.token_hash = s.token_hash AND NOT r.revoked "
                        "WHERE s.id = %s", (sid,)).fetchone()
            for (report,) in raw.execute("SELECT report FROM hq_kpi_week WHERE week = ANY(%s)", (trend,)):
                json.loads(report)

        views = [timed(lambda: client.get("/kpis", params={"week": week}).raise_for_status())
                 for _ in range(args.repeat)]
        base_page = [timed(raw_page) for _ in range(args.repeat)]
        print(line("KPI page, every view after", views, base_page))

        rng = random.Random(args.seed)
        sample = rng.sample(lpns, min(args.lookups, len(lpns)))

        def raw_unit(lpn: str) -> None:
            station = lpn.split("-")[0]
            ops = {r[4] for r in raw.execute(
                "SELECT station_id, seq, kind, at, operator, lpn, rma_id, payload, received_at FROM hq_event "
                "WHERE lpn = %s AND station_id = %s ORDER BY seq", (lpn, station)).fetchall()}
            raw.execute("SELECT operator, payload FROM hq_event WHERE kind = 'operator_signed_in' AND station_id = %s "
                        "AND operator = ANY(%s) ORDER BY at", (station, list(ops))).fetchall()

        units = [timed(lambda lpn=lpn: client.get(f"/units/{lpn}").raise_for_status()) for lpn in sample]
        base_units = [timed(lambda lpn=lpn: raw_unit(lpn)) for lpn in sample]
        print(line("unit look-up (GET /units/{lpn})", units, base_units))

        def raw_rma(rma: str) -> None:
            for (lpn,) in raw.execute("SELECT DISTINCT lpn FROM hq_event WHERE kind = 'unit_received' AND rma_id = %s",
                                      (rma,)).fetchall():
                raw.execute("SELECT station_id, seq, kind, at, operator, lpn, rma_id, payload FROM hq_event "
                            "WHERE lpn = %s AND station_id = %s", (lpn, lpn.split("-")[0])).fetchall()

        rmas = [timed(lambda lpn=lpn: client.get("/units", params={"q": f"RMA-{lpn}"}).raise_for_status())
                for lpn in sample[:100]]
        base_rmas = [timed(lambda lpn=lpn: raw_rma(f"RMA-{lpn}")) for lpn in sample[:100]]
        print(line("RMA look-up (GET /units?q=RMA-…)", rmas, base_rmas))
        raw.close()
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        with psycopg.connect(conninfo(url), autocommit=True) as c:
            c.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
