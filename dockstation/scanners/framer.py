"""Framing a scanner's byte stream into scans: `LineFramer`, pure, so it is tested without a port.

Used by the serial reader (serial_reader.py) and the evdev wedge reader. The rules:
- a code ends at the configured terminator; partial bytes are kept across reads;
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
import re
import unicodedata
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

from dockstation.scan import ScanEvent
from dockstation.scanners.config import ScannerConfig
from dockstation.scanners.ports import visible

log = logging.getLogger("dockstation.scanners")

READ_TIMEOUT_S = 0.2  # bounds a reader's stop() latency; reads wait at most this (or idle_ms)
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
