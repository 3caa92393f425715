"""The print queue against a real printer on a loopback TCP port."""

from __future__ import annotations

import socket
import threading
from datetime import timedelta

import pytest
from sqlmodel import select

from dockstation.models import Event, PrintJob, Unit
from dockstation.receiving import handle_scan, sign_in
from dockstation.scan import ScanEvent, classify
from dockstation.types import utcnow
from labels.model import LabelError
from labels.queue import PrintQueue, enqueue_label, reprint, spool_url


class LoopbackPrinter:
    """A raw-9100 printer on 127.0.0.1: every connection's bytes are one job."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.jobs: list[bytes] = []
        self._thread: threading.Thread | None = None

    def up(self) -> None:
        if self.sock.fileno() == -1:  # rebind the same port after `down`
            self.sock = socket.socket()
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            chunks = []
            with conn:
                while data := conn.recv(65536):
                    chunks.append(data)
            self.jobs.append(b"".join(chunks))

    def down(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        except OSError:
            pass
        self.sock.close()
        if self._thread:
            self._thread.join(timeout=2)

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}?timeout=1"


def disposed_units(bench, store, n: int) -> list[str]:
    """Receive n units through the real use case, then give each a disposition and a label job."""
    from tests.conftest import add_rma

    op = sign_in(store, bench, ScanEvent("OP-9001", "t", None, utcnow()), "9001").operator
    lpns = []
    for i in range(n):
        add_rma(store, f"RMA-Q-{i:04d}", [dict(sku=f"SKU-{i}", description="Hostile ^XA~JA_ text",
                                              category="home")])
        out = handle_scan(store, bench, op, ScanEvent(f"RMA-Q-{i:04d}", "t", None, utcnow()),
                          classify(f"RMA-Q-{i:04d}", bench.codes.patterns))
        lpns.append(out.unit.lpn)
    with store.write() as s:
        for lpn in lpns:
            unit = s.get(Unit, lpn)
            unit.disposition, unit.grade, unit.state, unit.disposed_at = "restock", "A", "disposed", utcnow()
            s.add(unit)
            enqueue_label(s, unit, operator="9001")
    return lpns


def test_printer_receives_exactly_the_job(bench, store):
    printer = LoopbackPrinter()
    printer.up()
    (lpn,) = disposed_units(bench, store, 1)
    status = PrintQueue(store, "B07", printer.url).pump()
    printer.down()
    assert status.state == "ok" and status.printed == 1 and status.waiting == 0
    assert len(printer.jobs) == 1
    job = printer.jobs[0]
    assert job.startswith(b"^XA") and job.rstrip().endswith(b"^XZ") and job.count(b"^XA") == 1
    with store.read() as s:
        row = s.exec(select(PrintJob)).one()
        assert row.state == "sent" and row.data == job
        assert [e.kind for e in s.exec(select(Event).where(Event.lpn == lpn).order_by(Event.seq))][-2:] == [
            "label_queued", "label_printed"]


def test_printer_down_jobs_wait_then_each_prints_once(bench, store):
    printer = LoopbackPrinter()  # bound but not listening: connections are refused
    printer.sock.close()
    lpns = disposed_units(bench, store, 3)
    queue = PrintQueue(store, "B07", printer.url)
    down = queue.pump()
    assert down.state == "unreachable" and down.waiting == 3 and down.printed == 0
    assert down.text == "down · 3 waiting" and "refused" in down.detail
    # While held by the backoff, nothing is attempted.
    assert queue.pump().printed == 0
    printer.up()
    later = utcnow() + timedelta(seconds=60)
    up = queue.pump(now=later)
    printer.down()
    assert up.state == "ok" and up.printed == 3 and up.waiting == 0
    assert len(printer.jobs) == 3
    assert sorted(j.count(b"^XA") for j in printer.jobs) == [1, 1, 1]
    for lpn in lpns:
        assert sum(lpn.encode() in j for j in printer.jobs) == 1
    assert queue.pump(now=later).printed == 0  # nothing twice


def test_reprint_keeps_the_lpn_counts_and_audits(bench, store, home):
    (lpn,) = disposed_units(bench, store, 1)
    job = reprint(store, "B07", "9001", lpn)
    assert job.reprint == 1 and job.lpn == lpn
    queue = PrintQueue(store, "B07", spool_url(home))
    assert queue.pump().printed == 2
    files = sorted((home / "spool").iterdir())
    assert len(files) == 2
    assert any(b"REPRINT" in f.read_bytes() for f in files)
    with store.read() as s:
        assert s.get(Unit, lpn).reprints == 1
        kinds = [e.kind for e in s.exec(select(Event).where(Event.lpn == lpn))]
        assert kinds.count("label_reprinted") == 1


def test_reprint_of_a_unit_without_disposition_is_refused(bench, manifest):
    op = sign_in(manifest, bench, ScanEvent("OP-9001", "t", None, utcnow()), "9001").operator
    out = handle_scan(manifest, bench, op, ScanEvent("RMA-2026-000001", "t", None, utcnow()),
                      classify("RMA-2026-000001", bench.codes.patterns))
    with pytest.raises(LabelError, match="no label yet"):  # the bench prints no receipt label here
        reprint(manifest, "B07", "9001", out.unit.lpn)
    with manifest.read() as s:
        assert s.exec(select(PrintJob)).all() == []


def test_the_worker_starts_no_job_while_the_bench_handles_a_scan(bench, store, home):
    """dockstation/foreground.py: a scan's window (InlineStore.call marks it) keeps the print
    worker's jobs out — they print when it is over, each once."""
    import asyncio

    from dockstation.foreground import FOREGROUND
    from dockstation.tui.inline_store import InlineStore

    lpns = disposed_units(bench, store, 2)
    asyncio.run(InlineStore(store).call(lambda: None))  # a scan's store call: its window begins
    FOREGROUND.busy(60)  # … and, for the test, lasts until released
    try:
        result: list = []
        worker = threading.Thread(target=lambda: result.append(PrintQueue(store, "B07", spool_url(home)).pump()))
        worker.start()
        worker.join(0.3)
        assert worker.is_alive()  # waiting for the window to end
        with store.read() as s:
            assert [j.state for j in s.exec(select(PrintJob))] == ["queued", "queued"]
    finally:
        FOREGROUND.release()
    worker.join(10)
    assert result[0].printed == 2 and not worker.is_alive()
    with store.read() as s:
        assert sorted(j.lpn for j in s.exec(select(PrintJob)) if j.state == "sent") == sorted(lpns)


def test_a_store_call_of_the_ui_opens_the_scan_window(store):
    import asyncio
    import time

    from dockstation.foreground import FOREGROUND
    from dockstation.tui.inline_store import InlineStore

    FOREGROUND.release()
    asyncio.run(InlineStore(store).call(lambda: None))
    try:
        assert FOREGROUND._until > time.monotonic() - 1  # marked (by the call, not by this test)
    finally:
        FOREGROUND.release()


def test_the_worker_sends_a_label_as_soon_as_a_scan_is_shown_not_at_its_next_poll(bench, store, home):
    """dockstation/foreground.py: the running worker sleeps `poll` between passes, unless a scan's
    result is shown (startup.IdleGC.after_scan): then it runs at once (here `poll` is 60 s)."""
    from dockstation.foreground import FOREGROUND
    from dockstation.tui.startup import IdleGC

    stop = threading.Event()
    worker = threading.Thread(target=PrintQueue(store, "B07", spool_url(home)).run,
                              args=(stop, lambda text, level: None), kwargs={"poll": 60.0}, daemon=True)
    worker.start()
    try:
        lpns = disposed_units(bench, store, 1)  # queued after the worker's first pass (a short one)
        deadline = threading.Event()
        sent = False
        for _ in range(100):
            IdleGC().after_scan()  # a scan's result painted (not active: only the worker's turn)
            with store.read() as s:
                sent = [j.state for j in s.exec(select(PrintJob))] == ["sent"]
            if sent:
                break
            deadline.wait(0.1)
        assert sent, lpns
    finally:
        stop.set()
        worker.join(5)
    assert not worker.is_alive()  # the stop is seen while it sleeps
