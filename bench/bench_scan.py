"""Scan latency at the bench: scan → committed → rendered, over 1,000 scans, with a big manifest.

    .venv/bin/python bench/bench_scan.py                   # 100k RMAs in the manifest, < 2 min
    .venv/bin/python bench/bench_scan.py --rmas 1000000    # the issue's 1M RMAs

A demo-like bench home is made with a generated manifest of N RMAs, imported. Then:
- core: `classify` + `handle_scan` (one BEGIN IMMEDIATE transaction, synchronous=FULL), no UI;
- tui: the real `BenchApp` headless at 80x24, scans fed to its one dispatcher
  (`enqueue_scan`, where the keyboard-wedge detector and the serial readers hand scans over),
  the app left idle for --gap-ms (20) between scans as a person scanning would:
  "shown" is when the dispatcher has committed and updated the widgets, "rendered" is when
  Textual's compositor has produced the first screen update (including its terminal bytes)
  that holds the whole result: the state line, the details and the new log row (a frame with
  only part of it does not count, and is reported). Textual paints at most TEXTUAL_FPS (60)
  frames a second, so "rendered" includes any wait for that frame;
- raw: a bare sqlite3 INSERT + COMMIT per scan into a small table, WAL, synchronous=FULL.
Scans: ~85% receive a unit (RMA label or UPS tracking number of an open single-line RMA), the
rest are exceptions (cancelled, out of the window, unknown); the first --warmup (20) scans of
core and tui are not counted. Also printed: the cyclic GC's collections during the TUI scans
(count and longest, per generation) and how many store calls ran inline on the event loop or
in a thread (database busy). Target: tui p99 ≤ 16 ms.

    .venv/bin/python bench/bench_scan.py --pty [--scans 200]   # a real terminal (bench_scan_pty.py)

--pty runs the real `dockstation run` on a pseudo-terminal beside a bare Textual app echoing the
code on the same kind of pty, and times scan → the result's bytes read from the terminal.
Target: p50 ≤ 1.5 x the bare app. `--split` also times each scan inside the app (keys in, the
store call, the rest of the dispatch, the wait for the frame, the frame, the pty) and the main
thread's CPU time per scan (the waits for the disk, the GIL and a CPU left out): bench/pty_trace/.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dockstation.demo import build_demo_home, generate_manifest
from dockstation.manifest import db_time, import_manifest
from dockstation.store import Store
from dockstation.text import clean

SCANS = 1000


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def line(name: str, ms: list[float], raw: list[float] | None = None) -> str:
    p50, p99 = pct(ms, 50), pct(ms, 99)
    extra = f"   x{p50 / pct(raw, 50):5.1f} / x{p99 / pct(raw, 99):5.1f} raw" if raw else ""
    return f"  {name:26} p50 {p50:7.2f} ms   p99 {p99:7.2f} ms   max {max(ms):7.2f} ms{extra}"


def make_home(work: Path, rmas: int, seed: int) -> tuple[Path, float]:
    home = work / "home"
    # A small demo home for its config, then the big manifest imported into it.
    build_demo_home(home, rmas=10, seed=seed)
    csv_path = work / "manifest.csv"
    generate_manifest(csv_path, rmas=rmas, seed=seed, now=datetime.now(UTC))
    store = Store.in_home(home)
    t0 = time.perf_counter()
    report = import_manifest(store, "B07", csv_path)
    took = time.perf_counter() - t0
    store.close()
    assert report.errors == 0, report.error_rows[:3]
    csv_path.unlink()
    return home, took


def pick_codes(home: Path, n: int, seed: int) -> list[list[str]]:
    """Two disjoint scan sequences (core, tui) of n codes each."""
    rng = random.Random(seed)
    conn = sqlite3.connect(home / "dockstation.sqlite3")
    now = db_time(datetime.now(UTC))
    single = conn.execute(
        "SELECT l.rma_id, l.carrier, l.tracking_number FROM rma_line l JOIN rma r USING (rma_id) "
        "WHERE r.status = 'open' AND r.expires_at > ? AND l.line_no = 1 AND NOT EXISTS "
        "(SELECT 1 FROM rma_line m WHERE m.rma_id = l.rma_id AND m.line_no = 2) LIMIT ?", (now, 2 * n)).fetchall()
    cancelled = [r for (r,) in conn.execute("SELECT rma_id FROM rma WHERE status='cancelled' LIMIT 200")]
    expired = [r for (r,) in conn.execute("SELECT rma_id FROM rma WHERE status='open' AND expires_at < ? "
                                          "LIMIT 200", (now,))]
    conn.close()
    rng.shuffle(single)
    out = []
    for half in (single[:n], single[n:2 * n]):
        codes = []
        for i, (rma_id, carrier, tracking) in enumerate(half):
            roll = rng.random()
            if roll < 0.06:
                codes.append(rng.choice(cancelled))
            elif roll < 0.11:
                codes.append(rng.choice(expired))
            elif roll < 0.15:
                codes.append(f"RMA-1999-{i:06d}")
            elif carrier == "ups" and roll < 0.55:
                codes.append(tracking)
            else:
                codes.append(rma_id)
        out.append(codes)
    return out


def bench_core(home: Path, codes: list[str]) -> list[float]:
    from dockstation.config import load_bench_config
    from dockstation.receiving import Bench, handle_scan, sign_in
    from dockstation.scan import ScanEvent, classify
    from dockstation.tui.app import load_triage
    from dockstation.types import utcnow

    cfg = load_bench_config(home)
    bench = Bench(cfg.station.station_id, cfg.codes, cfg.operators, cfg.station.return_grace_days,
                  load_triage(home, cfg), receipt_label=cfg.station.printer.receipt_label)
    store = Store.in_home(home)
    op = sign_in(store, bench, ScanEvent("OP-1001", "bench", None, utcnow()), "1001").operator
    times = []
    for code in codes:
        t0 = time.perf_counter()
        scan = ScanEvent(code, "bench", None, utcnow())
        handle_scan(store, bench, op, scan, classify(code, cfg.codes.patterns))
        times.append((time.perf_counter() - t0) * 1000)
    store.close()
    return times


async def bench_tui(home: Path, codes: list[str], warmup: int,
                    gap_s: float) -> tuple[list[float], list[float], dict[str, int]]:
    from textual._compositor import CompositorUpdate
    from textual.widgets import Static

    from dockstation.scan import ScanEvent
    from dockstation.tui.app import BenchApp
    from dockstation.types import utcnow

    app = BenchApp(home, start_services=False)
    done, rendered = asyncio.Event(), asyncio.Event()
    state: dict[str, Any] = {"want": False, "t": 0.0, "marks": []}
    original_display, original_handle = app._display, app._handle

    def marks() -> list[str]:
        """What the scan put on screen: its state line, its details' first line, its log code."""
        receive = app.receive_screen
        state_line = str(receive.query_one("#state", Static).content).strip()
        details = str(receive.query_one("#details", Static).content).split("\n")[0].strip()
        return [state_line[:40], details[:40], clean(state["code"], limit=20)[:18]]

    def display(screen, renderable):  # type: ignore[no-untyped-def]
        if state["want"] and renderable is not None:
            if isinstance(renderable, CompositorUpdate):
                renderable.render_segments(app.console)  # the bytes a terminal would get
            t = time.perf_counter()
            # Counted only once the whole result is in the frame (not a frame of part of it).
            text = "\n".join(strip.text for strip in screen._compositor.render_strips())
            if all(mark in text for mark in state["marks"]):
                state["t"], state["want"] = t, False
                rendered.set()
            else:
                state["partial"] += 1
        original_display(screen, renderable)

    async def handle(scan):  # type: ignore[no-untyped-def]
        await original_handle(scan)
        t = time.perf_counter()
        state["marks"] = marks()
        state["t"], state["want"] = t, True
        done.set()

    app._display = display  # type: ignore[method-assign]
    app._handle = handle  # type: ignore[method-assign]
    shown, painted = [], []
    counts = {"missed": 0, "partial": 0}
    pauses: list[tuple[int, float]] = []  # the GC's pauses after the warm-up: (generation, ms)

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            state["gc"] = time.perf_counter()
        elif "gc" in state and state.get("gc_on"):
            pauses.append((info["generation"], (time.perf_counter() - state.pop("gc")) * 1000))

    gc.callbacks.append(on_gc)
    async with app.run_test(headless=True, size=(80, 24)) as pilot:
        for i, code in enumerate(["OP-1001", *codes]):
            # Scans come seconds apart at a bench; back to back, one scan's follow-up frames
            # would land in the next one's figures. Not timed.
            await pilot.pause()
            await asyncio.sleep(gap_s)
            done.clear()
            rendered.clear()
            state["code"], state["partial"], state["gc_on"] = code, 0, i > warmup
            t0 = time.perf_counter()
            app.enqueue_scan(ScanEvent(code, "wedge", None, utcnow()))
            await done.wait()
            t_shown = state["t"]
            try:
                await asyncio.wait_for(rendered.wait(), 1.0)
            except TimeoutError:
                counts["missed"] += 1
                state["want"] = False
                continue
            if i > warmup:  # the badge and the first scans (first paint of each widget) not counted
                shown.append((t_shown - t0) * 1000)
                painted.append((state["t"] - t0) * 1000)
                counts["partial"] += state["partial"] > 0
        await pilot.pause()
    gc.callbacks.remove(on_gc)
    for gen in range(3):
        ms = [p for g, p in pauses if g == gen]
        counts[f"gc{gen}"], counts[f"gc{gen}_max"] = len(ms), round(max(ms, default=0.0), 1)
    inline = getattr(app, "inline_store", None)
    if inline is not None:
        counts["inline"], counts["thread"] = inline.inline_calls, inline.thread_calls
    return shown, painted, counts


def bench_raw(work: Path, n: int) -> list[float]:
    conn = sqlite3.connect(work / "raw.sqlite3", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, code TEXT, at TEXT)")
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (code, at) VALUES (?, ?)", (f"RMA-2026-{i:06d}", db_time(datetime.now(UTC))))
        conn.execute("COMMIT")
        times.append((time.perf_counter() - t0) * 1000)
    conn.close()
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rmas", type=int, default=100_000)
    ap.add_argument("--scans", type=int, default=SCANS)
    ap.add_argument("--warmup", type=int, default=20, help="first scans of the TUI not counted")
    ap.add_argument("--gap-ms", type=float, default=20.0, help="pause between TUI scans (not timed)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--dir", type=Path, default=None, help="work folder (default: a temporary one)")
    ap.add_argument("--pty", action="store_true",
                    help="the real program on a pseudo-terminal vs a bare Textual app (bench_scan_pty.py)")
    ap.add_argument("--repeat", type=int, default=1, help="--pty: runs of each app, alternating")
    ap.add_argument("--split", action="store_true",
                    help="--pty: also time each scan inside the app (store call, widgets, frame)")
    args = ap.parse_args()
    if args.pty:
        return pty_main(args)
    with tempfile.TemporaryDirectory(prefix="ds-scan-", dir=args.dir) as tmp:
        work = Path(tmp)
        home, took = make_home(work, args.rmas, args.seed)
        print(f"manifest: {args.rmas:,} RMAs imported in {took:.1f} s; {args.scans} scans each; "
              f"TEXTUAL_FPS={os.environ.get('TEXTUAL_FPS', '60')}")
        core_codes, tui_codes = pick_codes(home, args.scans + args.warmup, args.seed)
        raw = bench_raw(work, args.scans)
        core = bench_core(home, core_codes)[args.warmup:]
        shown, painted, counts = asyncio.run(bench_tui(home, tui_codes, args.warmup, args.gap_ms / 1000))
        print(line("raw INSERT+COMMIT (FULL)", raw))
        print(line("core classify+handle_scan", core, raw))
        print(line("tui scan→committed→shown", shown, raw))
        print(line("tui scan→…→rendered", painted, raw))
        if counts["missed"]:
            print(f"  ({counts['missed']} scans produced no new frame within 1 s)")
        if counts["partial"]:
            print(f"  ({counts['partial']} scans had a frame with part of their result first)")
        print("  gc during the tui scans: " + ", ".join(
            f"gen{g} {counts[f'gc{g}']}x, longest {counts[f'gc{g}_max']} ms" for g in range(3)))
        if "inline" in counts:
            print(f"  store calls: {counts['inline']} inline, {counts['thread']} in a thread (database busy)")
        print(f"  target: tui p99 ≤ 16 ms → rendered p99 {pct(painted, 99):.1f} ms, "
              f"shown p99 {pct(shown, 99):.1f} ms")
        med = statistics.median
        print(f"  frame wait (rendered − shown): median {med(p - s for p, s in zip(painted, shown)):.1f} ms")
    return 0


def pty_main(args: argparse.Namespace) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench_scan_pty as bp

    scans_n = args.scans if args.scans != SCANS else 200
    with tempfile.TemporaryDirectory(prefix="ds-scan-pty-", dir=args.dir) as tmp:
        work = Path(tmp)
        home, took = make_home(work, args.rmas, args.seed)
        print(f"manifest: {args.rmas:,} RMAs imported in {took:.1f} s; {scans_n} scans "
              f"({args.warmup} warm-up) per app and run, {args.gap_ms:g} ms apart; 80x24 pty; "
              f"load average {os.getloadavg()[0]:.2f}")
        bare, bench = bp.Result(), bp.Result()
        for n in range(args.repeat):
            scans = bp.pick_scans(home, scans_n + args.warmup, args.seed + 100 * n)
            for into, got in ((bare, bp.run_bare(scans, args.warmup, args.gap_ms / 1000, work)),
                              (bench, bp.run_bench(home, scans, args.warmup, args.gap_ms / 1000,
                                                   work / f"trace-{n}.csv" if args.split else None))):
                into.ms += got.ms
                for name, values in got.split.items():
                    into.split.setdefault(name, []).extend(values)
                into.nbytes += got.nbytes
                into.frames += got.frames
                into.missed += got.missed
        bp.report(bare, bench)
    return 0


if __name__ == "__main__":
    sys.exit(main())
