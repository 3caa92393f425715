"""The manifest parser, in a child process while the caller writes (dockstation.manifest_csv).

Parsing and validating a row costs about as much Python time as writing it, so a file of more
than PARALLEL_BYTES is parsed by a child interpreter when a CPU core is free, and the caller
only writes. What crosses the pipe is kept cheap:
- batches are `marshal`led (plain tuples of str/int/None): several times cheaper to load than
  pickle, which memoises every string; the parent loads each with the cyclic GC paused (the
  millions of new tuples would otherwise set off collections that walk them all);
- a reader thread in the parent prefetches up to PREFETCH batches from the pipe, so the child
  keeps parsing while the parent is busy (opening its database at the start, a long commit);
  its bounded queue, then the pipe, hold the child back: memory stays bounded.
`start_feed` starts the child at once: a caller that starts the feed before importing its
database layer gets the first batches parsed meanwhile (`dockstation manifest import` does).
A small file, or a machine with no core to spare (fewer than two CPUs, or a load average that
leaves none free), is parsed in-process, lazily.
"""

from __future__ import annotations

import gc
import json
import marshal
import os
import queue
import subprocess
import sys
import tempfile
import threading
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import IO, Any

from dockstation.manifest_csv import Batch, ManifestFile, RowError, parse

# From ~10k rows the child pays for its start (~0.1 s of the other core); measured in
# bench/README.md (bench_import.py --whole-command).
PARALLEL_BYTES = 2 << 20
PREFETCH = 4  # batches held in the parent ahead of the writer (~4 MB of marshal data each)
_LAST = 1 << 63  # length prefix flag: the child's last frame (None, or its error)


class Feed:
    """Batches of one manifest file, in order: iterate, then `close()` (or `with`)."""

    stamp: str
    manifest: ManifestFile

    def __iter__(self) -> Iterator[Batch]:
        return self

    def __next__(self) -> Batch:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> Feed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InProcessFeed(Feed):
    def __init__(self, mf: ManifestFile, stamp: str, reason_codes: Collection[str] | None) -> None:
        self.manifest, self.stamp = mf, stamp
        self._batches = parse(*mf.args(stamp, reason_codes))

    def __next__(self) -> Batch:
        enabled = gc.isenabled()
        gc.disable()  # as in _load: a batch's ~100k new tuples hold no cycles
        try:
            return next(self._batches)
        finally:
            if enabled:
                gc.enable()

    def close(self) -> None:
        self._batches.close()


class ChildFeed(Feed):
    """The child's frames (8-byte little-endian length, then a marshal body) read by a thread."""

    def __init__(self, mf: ManifestFile, stamp: str, reason_codes: Collection[str] | None) -> None:
        self.manifest, self.stamp = mf, stamp
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parent.parent),
                                                          env.get("PYTHONPATH")]))
        # A plain child interpreter rather than multiprocessing: spawn would re-import the caller's
        # __main__ (a script without a main guard breaks), and fork is unsafe in a threaded TUI.
        self._err: IO[bytes] = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            [sys.executable, "-c", "from dockstation.manifest_feed import child_main; child_main()",
             json.dumps(mf.args(stamp, reason_codes))],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._err, env=env)
        self._frames: queue.Queue[tuple[str, bytes]] = queue.Queue(maxsize=PREFETCH)
        self._stop = threading.Event()
        self._done = False
        self._reader = threading.Thread(target=self._read, name="manifest-feed", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        out = self._proc.stdout
        assert out is not None
        try:
            while not self._stop.is_set():
                head = out.read(8)
                n = int.from_bytes(head, "little") if len(head) == 8 else -1
                body = out.read(n & ~_LAST) if n >= 0 else b""
                if n < 0 or len(body) < n & ~_LAST:
                    self._put(("died", b""))
                    return
                self._put(("last" if n & _LAST else "batch", body))
                if n & _LAST:
                    return
        except Exception as exc:  # noqa: BLE001 — handed to the caller's thread
            self._put(("died", repr(exc).encode()))

    def _put(self, item: tuple[str, bytes]) -> None:
        while not self._stop.is_set():
            try:
                self._frames.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __next__(self) -> Batch:
        if self._done:
            raise StopIteration
        kind, body = self._frames.get()
        if kind == "batch":
            return _load(body)
        self._done = True
        if kind == "last":
            error = marshal.loads(body)
            self.close()
            if error is not None:
                raise RuntimeError(f"manifest parser: {error}")
            raise StopIteration
        code = self._proc.wait()
        self._err.seek(0)
        tail = self._err.read()[-400:].decode("utf-8", "replace").strip() or body.decode()
        self.close()
        raise RuntimeError(f"manifest parser process failed (exit {code}): {tail}")

    def close(self) -> None:
        self._done = True
        self._stop.set()
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        self._reader.join()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._err.close()


def _load(body: bytes) -> Batch:
    """A batch from the child. Our own child's data (marshal is not for untrusted input)."""
    enabled = gc.isenabled()
    gc.disable()  # a batch is ~100k new tuples: no cycles among them to look for
    try:
        rmas, lines, numbers, position, rows, errors, nbad, unknown = marshal.loads(body)
    finally:
        if enabled:
            gc.enable()
    return Batch(rmas, lines, numbers, position, rows, [RowError(*e) for e in errors], nbad, unknown)


def _spare_cpu() -> bool:
    """Can a parser process run beside the writer: two CPUs or more, and the load average
    leaves one free? Passing the rows to the writer costs ~15% more CPU in all (the child's
    marshal.dumps, the parent's loads: 1M RMAs ≈ 50 s of CPU against ≈ 43 s in one process,
    bench/README.md). With a core free the import then takes the longer of the two processes
    instead of their sum; on a machine whose cores are all busy the two processes only share
    them, and the extra CPU is the difference: there, one process."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    if cpus < 2:
        return False
    try:
        return os.getloadavg()[0] < cpus
    except (AttributeError, OSError):  # no load average (Windows): assume a core is free
        return True


def start_feed(mf: ManifestFile, stamp: str, reason_codes: Collection[str] | None = None) -> Feed:
    if mf.size < PARALLEL_BYTES or not sys.executable or not _spare_cpu():
        return InProcessFeed(mf, stamp, reason_codes)
    return ChildFeed(mf, stamp, reason_codes)


def _shared(lines: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The batch's lines with one str object per distinct SKU, GTIN, description, category,
    price, currency, reason and carrier: marshal writes a repeated object once and then refers
    to it, so the parent allocates a few thousand strings instead of a million (its load of a
    batch is 2.4x faster, bench/README.md)."""
    pool: dict[Any, Any] = {}
    one = pool.setdefault
    return [(rma, n, one(sku, sku), one(gtin, gtin), one(desc, desc), one(cat, cat), q, one(price, price),
             one(cur, cur), serial, one(reason, reason), one(carrier, carrier), tracking)
            for rma, n, sku, gtin, desc, cat, q, price, cur, serial, reason, carrier, tracking in lines]


def child_main() -> None:
    """The parser process: `parse` batches to stdout as length-prefixed marshal frames. The
    parent's bounded prefetch, then the pipe's buffer, are the flow control (bounded memory)."""
    gc.disable()  # short-lived, and its batches hold no cycles: freed by reference counting
    path, positions, width, stamp, known, nul, rules = json.loads(sys.argv[1])
    out = sys.stdout.buffer
    try:
        for batch in parse(Path(path), positions, width, stamp, known, nul, rules):
            rmas, lines, numbers, position, rows, errors, nbad, unknown = batch
            data = marshal.dumps((rmas, _shared(lines), numbers, position, rows,
                                  [(e.line, e.reason, e.rma_id) for e in errors], nbad, unknown))
            del batch, rmas, lines, numbers  # one batch alive at a time, not two
            out.write(len(data).to_bytes(8, "little"))
            out.write(data)
            del data
        error = None
    except BrokenPipeError:
        return  # the parent has gone
    except Exception as exc:  # noqa: BLE001 — handed to the parent
        error = f"{type(exc).__name__}: {exc}"
    data = marshal.dumps(error)
    try:
        out.write((len(data) | _LAST).to_bytes(8, "little") + data)
        out.flush()
    except BrokenPipeError:
        pass

