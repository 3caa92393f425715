"""Serial (RS-232 / USB-CDC) barcode scanner reader that survives unplugging.

One `SerialReader` per configured scanner runs a blocking pyserial loop in its own daemon
thread and reports through three plain callbacks (scan, status, warning). It never imports
Textual: the app passes callbacks that hop onto its event loop (`call_from_thread`/`post_message`).

Framing rules (what the bench gets from the bytes) live in `LineFramer`, which is pure so it can
be tested without a port:
- a code ends at the configured terminator; partial bytes are kept across read timeouts;
- CR/LF are stripped at both ends only (tolerates a scanner sending CRLF when CR is
  configured); never `str.strip()`, which would remove the GS (0x1d) separators of GS1 codes;
- a leading AIM symbology identifier (`]` letter digit, e.g. `]C1`) is moved to `symbology`;
- bytes that do not decode are passed on backslash-escaped (`\\xff`) with a warning, so the
  receiving core records an exception instead of the scan silently vanishing;
- a pause ends a fragment: a scanner sends a code back to back, so bytes followed by silence
  longer than `idle_ms` (the scanner's `[[scanners]] idle_ms`) without their terminator are a
  fragment (noise, a code cut off by a cable pulled out) — reported and dropped, so the next
  code reads cleanly instead of being glued to it (issue 14). Silence is *observed*, not
  guessed from clocks: only reads that waited and got nothing count (`LineFramer.quiet`), so a
  reader thread held up by a busy machine, which then finds the rest of a code waiting, never
  cuts that code in two;
- over-long lines, partials cut off by an unplug and fragments are discarded with a warning and
  never emitted.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import unicodedata
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import serial

from dockstation.scan import ScanEvent
from dockstation.scanners.config import ScannerConfig, encoding_problem
from dockstation.scanners.ports import visible

__all__ = [
    "LineFramer", "ScanEvent", "ScannerConfig", "ScannerStatus", "SerialReader",
    "backoff_delays", "encoding_problem", "source_of", "terminator_bytes",
]

log = logging.getLogger("dockstation.scanners")

READ_TIMEOUT_S = 0.2  # bounds stop() latency; reads wait at most this (or idle_ms, if shorter)
BACKOFF_START_S = 0.1
BACKOFF_MAX_S = 1.0  # a replugged scanner is reopened within ~1 s of its port reappearing
EMPTY_FLOOD_COUNT = 20  # more than this many empty lines ...
EMPTY_FLOOD_WINDOW_S = 1.0  # ... within this window is a terminator misconfiguration
WARNING_INTERVAL_S = 60.0  # repeat the same kind of configuration warning at most this often
FRAGMENT_WARNING_INTERVAL_S = 5.0  # on screen at most this often; every fragment is logged

TERMINATORS = {"CR": b"\r", "LF": b"\n", "CRLF": b"\r\n"}
_AIM_ID = re.compile(r"\][A-Za-z][0-9]")


def terminator_bytes(config: ScannerConfig) -> bytes:
    return TERMINATORS[config.terminator]


def source_of(config: ScannerConfig) -> str:
    return f"serial:{config.name}"


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


def _control_chars(code: str) -> list[str]:
    """Control characters other than GS, which GS1 codes use as a field separator."""
    return sorted({c for c in code if c != "\x1d" and unicodedata.category(c) == "Cc"})


def _preview(data: bytes | bytearray | str, limit: int = 40, encoding: str = "utf-8") -> str:
    """A short, screen-safe rendering of (part of) a code for a warning."""
    text = data if isinstance(data, str) else bytes(data[: limit * 4]).decode(encoding, "backslashreplace")
    shown = visible(text[:limit])
    return shown + "…" if len(text) > limit else shown


class LineFramer:
    """Turns a byte stream into scans and warnings. Not thread-safe: one reader thread owns it."""

    def __init__(
        self,
        config: ScannerConfig,
        on_scan: Callable[[ScanEvent], None],
        on_warning: Callable[[str], None],
        *,
        now_utc: Callable[[], datetime] = lambda: datetime.now(UTC),
        source: str | None = None,
    ) -> None:
        self.config = config
        self.source = source or source_of(config)
        self._term = terminator_bytes(config)
        self._on_scan = on_scan
        self._on_warning = on_warning
        self.idle = config.idle_ms / 1000.0
        self._now_utc = now_utc
        self._buf = bytearray()
        self._discarding = False  # inside an over-long line: drop until the next terminator
        self._quiet = 0.0  # silence observed since the last byte (seconds)
        self._empty_times: deque[float] = deque()
        self._last_warned: dict[str, float] = {}

    def _warn(self, message: str) -> None:
        self._on_warning(f"scanner {self.config.name!r}: {message}")

    def _warn_limited(self, kind: str, now: float, message: str, interval: float = WARNING_INTERVAL_S) -> None:
        last = self._last_warned.get(kind)
        if last is None or now - last >= interval:
            self._last_warned[kind] = now
            self._warn(message)

    def _show(self, data: bytes | bytearray) -> str:
        return _preview(data, encoding=self.config.encoding)

    @property
    def pending(self) -> bytes:
        return bytes(self._buf)

    @property
    def read_timeout(self) -> float:
        """How long one read should wait: a read that waited this long and got nothing is
        `quiet(read_timeout)`, silence observed on the line."""
        return min(READ_TIMEOUT_S, self.idle)

    def feed(self, data: bytes, now: float) -> None:
        """Bytes just read at monotonic time `now`."""
        if not data:
            return
        self._quiet = 0.0
        self._buf += data
        term = self._term
        while True:
            # search from the start every time: a CRLF split across two reads must still match
            index = self._buf.find(term)
            if index < 0:
                break
            line = bytes(self._buf[:index])
            del self._buf[: index + len(term)]
            if self._discarding:
                self._discarding = False  # the over-long line ends here; already warned
                continue
            self._line(line, now)
        if not self._discarding and len(self._buf) > self.config.max_length:
            self._warn(
                f"discarded {len(self._buf)}+ bytes without terminator "
                f"(longer than max_length={self.config.max_length}): {self._show(self._buf)}"
            )
            self._buf.clear()
            self._discarding = True
        elif self._discarding:
            self._buf.clear()

    def quiet(self, seconds: float, now: float) -> None:
        """A read waited `seconds` and got nothing: the line was silent that long. Once the
        silence since the last byte reaches `idle`, a pending fragment ends (module doc)."""
        if not self._buf and not self._discarding:
            return
        self._quiet += seconds
        if self._quiet + 1e-9 < self.idle:
            return
        pending = bytes(self._buf)
        self._buf.clear()
        if self._discarding:
            self._discarding = False  # the over-long line ended without terminator
            return
        term = self._term
        if len(term) > 1 and pending.endswith(term[:1]):
            # CRLF configured, the CR came and the LF did not: the code itself is complete
            self._line(pending[: -1], now)
            return
        if pending.strip(b"\r\n"):
            log.warning("scanner %r: discarded a %d-byte fragment (no terminator within %g ms)",
                        self.config.name, len(pending), self.config.idle_ms)
            self._warn_limited(
                "fragment",
                now,
                f"discarded fragment '{self._show(pending)}' — no terminator "
                f"({self.config.terminator}) within {self.config.idle_ms:g} ms (noise, a code cut "
                "off, or check the scanner's suffix setting); scan again",
                FRAGMENT_WARNING_INTERVAL_S,
            )

    def drop(self, reason: str) -> None:
        """The port went away (or the reader stops): a cut-off partial is never emitted."""
        if self._buf.strip(b"\r\n") and not self._discarding:
            self._warn(f"discarded partial code '{self._show(self._buf)}' cut off by {reason}")
        self._buf.clear()
        self._discarding = False

    def _line(self, line: bytes, now: float) -> None:
        if len(line) > self.config.max_length:
            self._warn(
                f"discarded {len(line)}-byte line (longer than "
                f"max_length={self.config.max_length}): {self._show(line)}"
            )
            return
        raw = line.strip(b"\r\n")  # bytes.strip(arg) removes only CR/LF, never GS
        if not raw:
            self._empty_line(now)
            return
        try:
            text = raw.decode(self.config.encoding)
        except UnicodeDecodeError:
            text = raw.decode(self.config.encoding, "backslashreplace")
            self._warn(f"invalid {self.config.encoding} bytes in code, passed on as '{_preview(text, 80)}'")
        symbology = None
        if _AIM_ID.match(text):
            symbology, text = text[:3], text[3:]
        controls = _control_chars(text)
        if controls:
            names = ", ".join(visible(c) for c in controls)
            self._warn(f"code contains control characters {names}: '{_preview(text, 80)}'")
        self._on_scan(ScanEvent(code=text, source=self.source, symbology=symbology, at=self._now_utc()))

    def _empty_line(self, now: float) -> None:
        times = self._empty_times
        times.append(now)
        while times and now - times[0] > EMPTY_FLOOD_WINDOW_S:
            times.popleft()
        if len(times) > EMPTY_FLOOD_COUNT:
            self._warn_limited("empty", now, "sends empty lines — check terminator setting")


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
