"""Terminal output written at once when nothing is waiting to be written, else queued in order.

Textual's driver hands every write to a writer thread (a queue, then `file.write` and `flush`
there), so the event loop never waits on a slow terminal. But that thread needs the GIL to write,
and right after a frame the event loop goes on with Python work (the frame's messages, the next
idle callbacks): the frame reached the terminal only when the loop next waited, ~0.3 ms after it
was composed (bench_scan.py --pty --split: "frame to bytes, queued" and "queued → read").

`LoopWriter` writes a small text (≤ `DIRECT_MAX` characters: a scan's frame is ~1.2 KB) in the
caller's thread when nothing is queued or being written — the usual case at the bench, which
the terminal's buffer takes at once — and queues it behind what is there otherwise, so bytes
always leave in the order they were written. A big write (the first paint, a resize) goes to the
thread. A terminal that stops reading (a frozen SSH session) would block the loop in a write:
one that took longer than `SLOW_WRITE_S` sends the next `BACK_OFF_S` of writes to the thread, as
Textual does (whose thread blocks the loop too, once 30 writes are queued).
"""

from __future__ import annotations

import threading
import time
from typing import IO

from textual.drivers._writer_thread import WriterThread

DIRECT_MAX = 16 * 1024
SLOW_WRITE_S = 0.02
BACK_OFF_S = 5.0


class LoopWriter(WriterThread):
    """Textual's writer thread, written past when it is idle (see the module's docstring)."""

    def __init__(self, file: IO[str]) -> None:
        super().__init__(file)
        self._lock = threading.Lock()
        self._pending = 0  # queued, not yet written and flushed by the thread
        self._slow_until = 0.0  # the terminal was slow to take a write: the thread until then
        self.direct = 0  # writes made in the caller's thread (for the tests)

    def write(self, text: str) -> None:
        with self._lock:
            if not self._pending and len(text) <= DIRECT_MAX:  # nothing ahead of it: out now
                start = time.monotonic()
                if start >= self._slow_until:
                    self._file.write(text)
                    self._file.flush()
                    self.direct += 1
                    if (end := time.monotonic()) - start > SLOW_WRITE_S:
                        self._slow_until = end + BACK_OFF_S
                    return
            self._pending += 1
        self._queue.put(text)

    def run(self) -> None:
        write, flush = self._file.write, self._file.flush
        get, qsize = self._queue.get, self._queue.qsize
        while True:
            text = get()
            if text is None:
                break
            write(text)
            if qsize() == 0:
                flush()
            with self._lock:
                self._pending -= 1
        flush()
