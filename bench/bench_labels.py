"""Label rendering and printing throughput. Prints figures; asserts nothing.

    .venv/bin/python bench/bench_labels.py [--n 200] [--jobs 500]

Render time per label (median and p99 over N renders, each a different LPN so nothing is
cached) for ZPL, PNG and PDF on each template; then labels per second sent one after another
through the tcp:// transport to a printer stand-in on loopback that reads every byte.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from labels import TEMPLATES, Label, open_printer, render  # noqa: E402


def make_label(i: int) -> Label:
    return Label(lpn=f"B07-{i:08d}", path="refurbish", grade="C", lane="standard",
                 destination="Refurb cell 2", sku=f"SKU-{i:06d}-BLK",
                 description="Größe M – Wireless headphones, black, with charging case and cable",
                 station_id="B07", date=datetime.now(UTC), rma_id=f"RMA-2026-{i:06d}", reprint=i % 2)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def bench_render(n: int) -> None:
    print(f"render time per label, {n} renders each (ms)")
    print(f"  {'template':9} {'format':6} {'median':>8} {'p99':>8} {'bytes':>8}")
    for name in TEMPLATES:
        for fmt in ("zpl", "png", "pdf"):
            render(make_label(0), fmt, name)  # warm caches (fonts) like a running bench
            times, size = [], 0
            for i in range(n):
                label = make_label(i + 1)
                t0 = time.perf_counter()
                size = len(render(label, fmt, name))
                times.append((time.perf_counter() - t0) * 1000)
            print(f"  {name:9} {fmt:6} {statistics.median(times):8.3f} {pct(times, 99):8.3f} {size:8d}")


def bench_tcp(jobs: int) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    received = [0, 0]  # jobs, bytes

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                while data := conn.recv(65536):
                    received[1] += len(data)
                received[0] += 1

    threading.Thread(target=serve, daemon=True).start()
    printer = open_printer(f"tcp://127.0.0.1:{port}")
    for fmt in ("zpl", "png"):
        payloads = [render(make_label(i), fmt, "4x6-203") for i in range(jobs)]
        received[:] = [0, 0]
        t0 = time.perf_counter()
        for i, data in enumerate(payloads):
            printer.send(data, content_type=fmt, job_name=f"job-{i}")
        elapsed = time.perf_counter() - t0
        deadline = time.monotonic() + 5
        while received[0] < jobs and time.monotonic() < deadline:
            time.sleep(0.001)
        total = sum(map(len, payloads))
        print(f"tcp:// loopback, sequential, {fmt} 4x6-203: {jobs / elapsed:,.0f} labels/s "
              f"({elapsed / jobs * 1000:.2f} ms/job, {total / jobs / 1024:.1f} KiB/job, "
              f"{received[0]}/{jobs} jobs and {received[1]}/{total} bytes received)")
    t0 = time.perf_counter()
    for i in range(jobs):
        printer.send(render(make_label(i), "zpl", "4x6-203"), content_type="zpl", job_name=f"j{i}")
    elapsed = time.perf_counter() - t0
    print(f"render + send, zpl 4x6-203: {jobs / elapsed:,.0f} labels/s")
    server.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=500)
    args = ap.parse_args()
    bench_render(args.n)
    bench_tcp(args.jobs)


if __name__ == "__main__":
    main()
