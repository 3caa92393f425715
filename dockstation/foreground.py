"""The bench's scans go first: background workers step aside while one is being handled.

A scan at the receiving screen is one short transaction on the event loop and one frame
(tui/inline_store.py). The print worker (labels/queue.py) runs in a thread of the same process:
rendering a label and its two small write transactions, every half second for the jobs queued
since. When it ran during a scan, the scan waited — for the GIL (a thread keeps it up to the
switch interval once the event loop wants it back) and for the database's write lock (the inline
attempt then fails at once and goes on in a thread): bench_scan.py --pty showed it in the scans'
p50 and p90. So:
- the UI marks the time a scan needs (`busy`), and a worker calls `wait` before each unit of its
  work: it starts no job inside that window;
- once a scan's result is on the screen (`scan_shown`, from startup.IdleGC.after_scan), a
  worker sleeping in `sleep` wakes at once: the scan's label is rendered and sent right after
  it is shown — while the clerk handles the parcel, not at the worker's next poll, which could
  fall in the middle of the next scan.
A job already started is finished as before.
"""

from __future__ import annotations

import threading
import time

SCAN_S = 0.05  # a scan's commit and its frame, with room (bench_scan.py --pty: ~5–20 ms)
STOP_S = 0.1  # how soon a sleeping worker sees its stop event


class Foreground:
    def __init__(self) -> None:
        self._until = 0.0
        self._shown = threading.Condition()
        self._scans = 0  # results shown so far: a sleeping worker wakes when it changes

    def busy(self, seconds: float = SCAN_S) -> None:
        """The UI is handling a scan: keep background work out for `seconds` from now."""
        self._until = max(self._until, time.monotonic() + seconds)

    def release(self) -> None:
        """The window is over now (the UI idle again, or a test)."""
        self._until = 0.0

    def scan_shown(self) -> None:
        """The UI: a scan's result is on the screen — background work may run now."""
        self._until = 0.0
        with self._shown:
            self._scans += 1
            self._shown.notify_all()

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        """In a worker thread, between passes: `seconds`, or until the next scan has been shown
        or `stop` is set (looked at every `STOP_S`: setting it does not wake this)."""
        end = time.monotonic() + seconds
        with self._shown:
            seen = self._scans
            while self._scans == seen and not stop.is_set() and (left := end - time.monotonic()) > 0:
                self._shown.wait(min(left, STOP_S))

    def wait(self, limit: float = 1.0) -> None:
        """In a worker thread, before a unit of work: until the UI's window is over (at most `limit`)."""
        end = time.monotonic() + limit
        while (now := time.monotonic()) < min(self._until, end):
            time.sleep(min(self._until, end) - now)


FOREGROUND = Foreground()  # one per process: the bench app and its workers
