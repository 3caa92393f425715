"""LoopWriter (tui/writer.py): written at once when idle, else queued, always in order.

A real file (a pipe read back) as the terminal; a file whose writes can be held stands in for a
terminal that is slow to take them. The whole app on a pty writes through it in tests/e2e.
"""

from __future__ import annotations

import os
import threading
import time

from dockstation.tui import writer as writer_mod
from dockstation.tui.writer import DIRECT_MAX, LoopWriter


class HeldFile:
    """Writes wait while `hold` is clear; records what was written, by which thread."""

    def __init__(self, delay: float = 0.0) -> None:
        self.hold = threading.Event()
        self.hold.set()
        self.delay = delay
        self.written: list[tuple[str, str]] = []

    def write(self, text: str) -> None:
        self.hold.wait(5)
        if self.delay:
            time.sleep(self.delay)
        self.written.append((text, threading.current_thread().name))

    def flush(self) -> None:
        pass

    def fileno(self) -> int:
        return 1


def test_small_writes_when_idle_go_out_at_once_in_the_callers_thread():
    r, w = os.pipe()
    with os.fdopen(w, "w") as out:
        writer = LoopWriter(out)
        writer.start()
        writer.write("frame one ")
        assert os.read(r, 100) == b"frame one "  # already there: no thread in between
        writer.write("frame two")
        writer.stop()
    assert os.read(r, 100) == b"frame two"
    assert writer.direct == 2
    os.close(r)


def test_writes_behind_a_queued_one_wait_their_turn():
    out = HeldFile()
    writer = LoopWriter(out)  # type: ignore[arg-type]
    writer.start()
    out.hold.clear()  # the terminal takes nothing for now
    writer.write("x" * (DIRECT_MAX + 1))  # too big to write in the loop: the thread's
    writer.write("small after big")  # something is pending: queued behind it, not written past it
    writer.write("and another")
    assert writer.direct == 0
    out.hold.set()
    writer.stop()
    assert [t[:15] for t, _ in out.written] == ["x" * 15, "small after big", "and another"]
    assert {who for _, who in out.written} == {"textual-output"}
    # idle again: the next write goes straight out
    writer2 = LoopWriter(out)  # type: ignore[arg-type]
    writer2.start()
    writer2.write("later")
    writer2.stop()
    assert out.written[-1] == ("later", threading.current_thread().name)


def test_a_slow_terminal_sends_writes_to_the_thread_for_a_while(monkeypatch):
    monkeypatch.setattr(writer_mod, "SLOW_WRITE_S", 0.01)
    out = HeldFile(delay=0.03)
    writer = LoopWriter(out)  # type: ignore[arg-type]
    writer.start()
    writer.write("slow one")  # written in the loop, but it took 30 ms
    out.delay = 0.0
    writer.write("next")
    writer.stop()
    assert [t for t, _ in out.written] == ["slow one", "next"]
    assert writer.direct == 1 and out.written[1][1] == "textual-output"


async def test_the_bench_driver_swaps_textuals_writer_after_what_the_start_wrote(monkeypatch):
    from textual.drivers._writer_thread import WriterThread
    from textual.drivers.linux_driver import LinuxDriver

    from dockstation.tui.driver import BenchDriver

    out = HeldFile()

    def start(self) -> None:  # what LinuxDriver's start does with its writer, on a real terminal
        self._writer_thread = WriterThread(self._file)
        self._writer_thread.start()
        self.write("application mode on")

    monkeypatch.setattr(LinuxDriver, "start_application_mode", start)
    driver = BenchDriver(object())  # type: ignore[arg-type]
    driver._file = out  # type: ignore[assignment]  (the terminal's: stderr)
    driver.start_application_mode()
    driver.write("first frame")
    assert isinstance(driver._writer_thread, LoopWriter)
    driver._writer_thread.stop()
    assert out.written[0][0] == "application mode on" and out.written[1][0] == "first frame"
    assert out.written[1][1] == threading.current_thread().name
