"""Serial (RS-232 / USB-CDC) barcode scanner reader that survives unplugging.

One `SerialReader` per configured scanner runs a blocking pyserial loop in its own daemon
thread and reports through three plain callbacks (scan, status, warning). It never imports
Textual: the app passes callbacks that hop onto its event loop (`call_from_thread`/`post_message`).
What the bench gets from the bytes is `LineFramer`'s business (framer.py); here: opening the port,
reading (each read waits at most the framer's `read_timeout`, so an empty read is observed
silence), reconnecting.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import serial

from dockstation.scan import ScanEvent
from dockstation.scanners.config import ScannerConfig, encoding_problem
from dockstation.scanners.framer import (  # noqa: F401 - the reader's API in one place
    FRAGMENT_WARNING_INTERVAL_S,
    READ_TIMEOUT_S,
    WARNING_INTERVAL_S,
    LineFramer,
    source_of,
    terminator_bytes,
)

__all__ = [
    "LineFramer", "ScanEvent", "ScannerConfig", "ScannerStatus", "SerialReader",
    "backoff_delays", "encoding_problem", "source_of", "terminator_bytes",
]

log = logging.getLogger("dockstation.scanners")

BACKOFF_START_S = 0.1
BACKOFF_MAX_S = 1.0  # a replugged scanner is reopened within ~1 s of its port reappearing


State = Literal["connected", "disconnected", "connecting"]


@dataclass(frozen=True)
class ScannerStatus:
    name: str
    state: State
    detail: str
    since: datetime  # UTC aware


def backoff_delays(start: float = BACKOFF_START_S, cap: float = BACKOFF_MAX_S) -> Iterator[float]:
    """Reopen delays: 0.1, 0.2, 0.4, 0.8, 1.0, 1.0, …"""
    delay = start
    while True:
        yield delay
        delay = min(delay * 2, cap)


def _open_error(port: str, exc: BaseException) -> str:
    """A technician-readable reason why a port could not be opened."""
    err = getattr(exc, "errno", None)
    if err == 2 or isinstance(exc, FileNotFoundError):
        return f"port not found: {port} (unplugged?)"
    if err == 13 or isinstance(exc, PermissionError):
        return f"permission denied on {port} (is the user in the 'dialout' group?)"
    if err in (11, 16):  # EAGAIN from the exclusive lock, EBUSY
        return f"port {port} is in use by another program"
    if "no ports found" in str(exc):  # hwgrep:// found no matching device
        return f"no port matches {port} (unplugged?)"
    return f"cannot open {port}: {exc}"


def _lost_reason(port: str, exc: BaseException) -> str:
    # pyserial's wording for a vanished USB/pty device, and EIO from in_waiting
    if "returned no data" in str(exc) or getattr(exc, "errno", None) in (5, 19):  # EIO, ENODEV
        return f"lost {port} (unplugged?)"
    return f"lost {port}: {exc}"


class SerialReader:
    """Reads one serial scanner in a daemon thread until `stop()`; reconnects on its own."""

    SOURCE_PREFIX = "serial"  # ScanEvent.source is "<prefix>:<name>"

    def __init__(
        self,
        config: ScannerConfig,
        on_scan: Callable[[ScanEvent], None],
        on_status: Callable[[ScannerStatus], None],
        on_warning: Callable[[str], None],
    ) -> None:
        self.config = config
        self._on_status = on_status
        self._on_warning = on_warning
        self._framer = LineFramer(
            config,
            self._safe(on_scan),
            self._safe(on_warning),
            source=f"{self.SOURCE_PREFIX}:{config.name}",
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._status = ScannerStatus(config.name, "disconnected", "not started", datetime.now(UTC))

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def status(self) -> ScannerStatus:
        return self._status

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            raise RuntimeError(f"scanner {self.name!r} is already running")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"scanner-{self.name}", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the thread to end without waiting (to stop many readers at once)."""
        self._stop.set()

    def stop(self, timeout: float = 0.5) -> bool:
        """Ask the thread to end and wait for it; True if it has ended."""
        self._stop.set()
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(timeout)
        return not thread.is_alive()

    # -- the thread ---------------------------------------------------------------------------

    def _safe(self, callback: Callable[[object], None]) -> Callable[[object], None]:
        # a failing consumer (e.g. the app shutting down) must not kill the reader thread
        def call(arg: object) -> None:
            try:
                callback(arg)
            except Exception:
                log.exception("scanner %r: callback %r failed", self.name, callback)

        return call

    def _set_status(self, state: State, detail: str) -> None:
        if (state, detail) == (self._status.state, self._status.detail):
            return  # retries with the same failure do not spam the screen
        self._status = ScannerStatus(self.name, state, detail, datetime.now(UTC))
        self._safe(self._on_status)(self._status)

    def _run(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # a bug here must show up on screen, not end the thread silently
            log.exception("scanner %r: reader crashed", self.name)
            self._safe(self._on_warning)(f"scanner {self.name!r}: reader stopped by an error: {exc!r}")
        finally:
            try:
                self._framer.drop("reader stop")
            finally:
                self._set_status("disconnected", "stopped")

    def _loop(self) -> None:
        problem = encoding_problem(self.config.encoding)
        if problem:  # a configuration error: opening the port would only garble every code
            self._set_status("disconnected", f"not started: {problem}")
            self._safe(self._on_warning)(f"scanner {self.name!r}: {problem}; fix station.toml")
            self._stop.wait()
            return
        self._set_status("connecting", self.config.port)
        delays = backoff_delays()
        while not self._stop.is_set():
            port = self._open()
            if port is None:
                self._stop.wait(next(delays))
                continue
            delays = backoff_delays()
            try:
                self._set_status("connected", self._describe(port))
                self._pump(port)
            except OSError as exc:  # SerialException is an OSError: the device vanished
                self._framer.drop("disconnect")
                self._set_status("disconnected", _lost_reason(self.config.port, exc))
            finally:
                try:
                    port.close()
                except Exception:  # closing a vanished device may fail; it is gone either way
                    pass

    def _open(self) -> serial.SerialBase | None:
        cfg = self.config
        try:
            # serial_for_url so that hwgrep:// and other URLs work; hwgrep resolves here, so a
            # missing device fails here and is retried like a missing path
            port = serial.serial_for_url(cfg.port, do_not_open=True)
            port.baudrate = cfg.baudrate
            port.bytesize = cfg.bytesize
            port.parity = cfg.parity
            port.stopbits = cfg.stopbits
            port.timeout = self._framer.read_timeout  # an empty read is observed silence
            port.xonxoff = False  # 0x11/0x13 inside a code must reach us
            try:
                port.exclusive = True  # two programs on one port would split the bytes
            except ValueError:  # platforms/handlers without the option
                pass
            port.open()
        except Exception as exc:
            self._set_status("disconnected", _open_error(cfg.port, exc))
            return None
        return port

    def _describe(self, port: serial.SerialBase) -> str:
        device = port.port or self.config.port
        if os.path.islink(device):
            device = os.path.realpath(device)
        return self.config.port if device == self.config.port else f"{self.config.port} → {device}"

    def _pump(self, port: serial.SerialBase) -> None:
        framer = self._framer
        while not self._stop.is_set():
            # read whatever is waiting (at least one byte, or time out) and frame it ourselves:
            # read_until() only looks at its own bytes, so a CRLF split by a timeout is missed
            data = port.read(port.in_waiting or 1)
            now = time.monotonic()
            if data:
                framer.feed(data, now)
            else:  # the read waited its whole timeout: that much silence, for certain
                framer.quiet(port.timeout, now)
