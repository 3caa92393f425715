"""Scan → result on a real terminal: the bytes a terminal receives, not Textual's compositor.

Run through `bench/bench_scan.py --pty`. Each app runs as its own process on a pseudo-terminal
of 80x24 (TERM=xterm-256color), as at a bench: the real `dockstation --home H run`, and beside it
a bare Textual app that echoes each scanned code in a Static (the floor: Textual's own input,
event loop, compositor and driver, with nothing of the bench). A scan is the code and CR written
to the pty master in one write, as a keyboard-wedge scanner types it. The clock stops when the
bytes read from the master hold the whole result: for the bench, the new log row's code and the
details line (the RMA of a receipt, `Code: …` of an exception) — the state line and big text are
painted with the details; for the bare app, the code. Also counted: bytes written per scan (the
frames until the terminal is quiet), and frames (separate reads) per scan.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import sqlite3
import statistics
import struct
import subprocess
import sys
import termios
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

_ANSI = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[PX^_][^\x1b]*\x1b\\|\x1b.")
QUIET_S = 0.05  # no byte for this long after the result: the scan's frames are over

BARE_APP = '''
import sys
from rich.text import Text
from textual import events
from textual.app import App
from textual.widgets import Static

class Echo(App):
    """Collects keys; Enter shows the code."""
    def compose(self):
        yield Static("ready", id="code")
    def on_mount(self):
        self.buf = []
    async def on_event(self, event):
        if isinstance(event, events.Key):
            if event.key == "enter":
                self.query_one("#code", Static).update(Text("scanned " + "".join(self.buf)))
                self.buf = []
            elif event.character and event.character.isprintable():
                self.buf.append(event.character)
            return
        await super().on_event(event)

Echo().run()
'''


@dataclass
class Scan:
    code: str
    marks: tuple[bytes, ...]  # what the terminal must have received (ANSI stripped)


@dataclass
class Result:
    ms: list[float] = field(default_factory=list)
    nbytes: list[int] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)
    missed: int = 0
    marks: list[tuple[int, float, float]] = field(default_factory=list)  # counted: (scan no., written, read)
    split: dict[str, list[float]] = field(default_factory=dict)  # --split: where the time went, ms


def _own_terminal() -> None:
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """A program on a pty; a reader thread timestamps every chunk the program writes."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        env = {**env, "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24",
               "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                                     preexec_fn=_own_terminal, close_fds=True)
        os.close(slave)
        self.master = master
        self.chunks: list[tuple[float, bytes]] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            t = time.perf_counter()
            with self.cond:
                self.chunks.append((t, data))
                self.cond.notify_all()

    def mark(self) -> int:
        with self.cond:
            return len(self.chunks)

    def text_since(self, start: int) -> bytes:
        with self.cond:
            return _ANSI.sub(b"", b"".join(c for _, c in self.chunks[start:]))

    def wait_for(self, start: int, marks: tuple[bytes, ...], timeout: float) -> float | None:
        """The time of the chunk after which everything since `start` holds all `marks`."""
        deadline = time.perf_counter() + timeout
        seen = start
        with self.cond:
            while True:
                if len(self.chunks) > seen:
                    seen = len(self.chunks)
                    text = _ANSI.sub(b"", b"".join(c for _, c in self.chunks[start:seen]))
                    if all(m in text for m in marks):
                        return self.chunks[seen - 1][0]
                left = deadline - time.perf_counter()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def quiet(self, quiet_s: float = QUIET_S, timeout: float = 5.0) -> None:
        """Wait until the program has written nothing for `quiet_s`."""
        end = time.perf_counter() + timeout
        while time.perf_counter() < end:
            with self.cond:
                last = self.chunks[-1][0] if self.chunks else 0.0
            if time.perf_counter() - last >= quiet_s:
                return
            time.sleep(quiet_s / 4)

    def type(self, text: str) -> float:
        t0 = time.perf_counter()
        os.write(self.master, text.encode())
        return t0

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        os.close(self.master)


def pick_scans(home: Path, n: int, seed: int) -> list[Scan]:
    """Like bench_scan.pick_codes (≈85% receipts, the rest exceptions), with what each shows.
    Only RMAs not received yet: a later run (--repeat) on the same home receives new parcels,
    never the last run's again (their duplicate exceptions do not show the RMA's line)."""
    import random

    from dockstation.manifest import db_time

    rng = random.Random(seed + 1)
    conn = sqlite3.connect(home / "dockstation.sqlite3")
    now = db_time(datetime.now(UTC))
    single = conn.execute(
        "SELECT l.rma_id, l.carrier, l.tracking_number FROM rma_line l JOIN rma r USING (rma_id) "
        "WHERE r.status = 'open' AND r.expires_at > ? AND l.line_no = 1 AND l.received_qty < l.qty AND NOT EXISTS "
        "(SELECT 1 FROM rma_line m WHERE m.rma_id = l.rma_id AND m.line_no = 2) LIMIT ?", (now, 3 * n)).fetchall()
    cancelled = [r for (r,) in conn.execute("SELECT rma_id FROM rma WHERE status='cancelled' LIMIT 2000")]
    conn.close()
    rng.shuffle(single)
    rng.shuffle(cancelled)
    scans = []
    for i, (rma_id, carrier, tracking) in enumerate(single[:n]):
        roll = rng.random()
        if roll < 0.08 and cancelled:
            code = cancelled.pop()
            scans.append(Scan(code, (code.encode(), b"Code: " + code.encode())))
        elif roll < 0.15:
            code = f"RMA-1999-{seed:02d}{i:06d}"
            scans.append(Scan(code, (code.encode(), b"Code: " + code.encode())))
        else:
            code = tracking if carrier == "ups" and roll < 0.55 else rma_id
            scans.append(Scan(code, (code[:20].encode(), rma_id.encode() + b" line 1")))
    return scans


def drive(term: Terminal, scans: list[Scan], warmup: int, gap_s: float) -> Result:
    out = Result()
    for i, scan in enumerate(scans):
        term.quiet()
        time.sleep(gap_s)  # scans come seconds apart at a bench (not timed)
        start = term.mark()
        t0 = term.type(scan.code + "\r")
        t1 = term.wait_for(start, scan.marks, timeout=5.0)
        if t1 is None:
            out.missed += 1
            continue
        term.quiet()
        if i >= warmup:
            out.marks.append((i, t0, t1))
            out.ms.append((t1 - t0) * 1000)
            with term.cond:
                chunks = term.chunks[start:]
            out.nbytes.append(sum(len(c) for _, c in chunks))
            out.frames.append(len(chunks))
    return out


def run_bare(scans: list[Scan], warmup: int, gap_s: float, work: Path) -> Result:
    script = work / "bare_echo.py"
    script.write_text(BARE_APP)
    term = Terminal([sys.executable, str(script)], dict(os.environ))
    try:
        if term.wait_for(0, (b"ready",), timeout=30) is None:
            sys.exit(f"the bare app did not start: {term.text_since(0)[-500:]!r}")
        return drive(term, [Scan(s.code, (b"scanned " + s.code.encode(),)) for s in scans], warmup, gap_s)
    finally:
        term.close()


def run_bench(home: Path, scans: list[Scan], warmup: int, gap_s: float, trace: Path | None = None) -> Result:
    """The real bench on a pty. `trace`: also time each scan inside the app (pty_trace/)."""
    exe = Path(sys.executable).with_name("dockstation")
    env = {k: v for k, v in os.environ.items() if k != "DOCKSTATION_HOME"}
    if trace is not None:
        env["DS_TRACE"] = str(trace)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).with_name("pty_trace")),
                                                          env.get("PYTHONPATH")]))
    term = Terminal([str(exe), "--home", str(home), "run"], env)
    try:
        if term.wait_for(0, (b"Scan your badge",), timeout=60) is None:
            sys.exit(f"the bench did not start: {term.text_since(0)[-800:]!r}")
        term.quiet(0.3)
        start = term.mark()
        term.type("OP-1001\r")
        if term.wait_for(start, (b"Signed in",), timeout=30) is None:
            sys.exit(f"sign-in failed: {term.text_since(start)[-800:]!r}")
        result = drive(term, scans, warmup, gap_s)
    finally:
        term.close()
    if trace is not None:
        result.split = split(result, trace)
    return result


SPLIT = ("keys: written → first key in the app", "keys → the dispatcher", "store call (durable transaction)",
         "rest of the dispatch (widgets …)", "dispatch end → frame composed", "frame to bytes, queued",
         "queued → read from the pty", "main thread's CPU: first key → frame", "of it in the store call")


def split(result: Result, trace: Path) -> dict[str, list[float]]:
    """Where each counted scan's time went, from the app's timestamps (pty_trace/) and ours."""
    rows = [tuple(map(float, line.split(","))) for line in trace.read_text().splitlines() if line]
    rows = rows[1:]  # the sign-in
    out: dict[str, list[float]] = {name: [] for name in SPLIT}
    if result.missed or len(rows) < len(result.marks):
        return out  # a scan without its frame: the rows no longer line up
    for (i, written, read), (key, start, end, store, f0, f1, cpu, store_cpu) in zip(result.marks,
                                                                                   rows[-len(result.marks):]):
        parts = (key - written, start - key, store, end - start - store, f0 - end, f1 - f0, read - f1, cpu, store_cpu)
        for name, v in zip(SPLIT, parts):
            out[name].append(v * 1000)
    return out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(bare: Result, bench: Result) -> None:
    med = statistics.median
    for name, r in (("bare Textual echo", bare), ("dockstation run", bench)):
        line = (f"  {name:18} p50 {pct(r.ms, 50):6.2f} ms  p90 {pct(r.ms, 90):6.2f} ms  "
                f"p99 {pct(r.ms, 99):6.2f} ms  max {max(r.ms):6.2f} ms   "
                f"bytes/scan {med(r.nbytes):7.0f}  reads/scan {med(r.frames):4.1f}")
        if r is bench:
            line += f"   x {pct(r.ms, 50) / pct(bare.ms, 50):4.2f} / x {pct(r.ms, 90) / pct(bare.ms, 90):4.2f} bare"
        print(line)
        if r.missed:
            print(f"    ({r.missed} scans: result not seen within 5 s)")
    if bench.split and all(bench.split.values()):
        print("  dockstation run, where a scan's time goes (p50 / p90 ms; the app's own clock, --split):")
        for name, values in bench.split.items():
            print(f"    {name:40} {pct(values, 50):6.2f} / {pct(values, 90):6.2f}")
    print("  target: dockstation p50 ≤ 1.5 x bare")
