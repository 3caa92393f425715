"""LineFramer: the byte-stream rules, driven directly with a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import islice

import pytest

from dockstation.scanners.config import ScannerConfig
from dockstation.scanners.serial_reader import (
    BACKOFF_MAX_S,
    STALE_PARTIAL_S,
    WARNING_INTERVAL_S,
    LineFramer,
    backoff_delays,
    encoding_problem,
)

AT = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


class Sink:
    def __init__(self, **config) -> None:
        config.setdefault("name", "front")
        config.setdefault("port", "/dev/null")
        self.scans: list = []
        self.warnings: list[str] = []
        self.framer = LineFramer(
            ScannerConfig(**config), self.scans.append, self.warnings.append, now_utc=lambda: AT
        )

    @property
    def codes(self) -> list[str]:
        return [s.code for s in self.scans]

    def feed(self, *chunks: bytes, now: float = 1.0) -> Sink:
        for chunk in chunks:
            self.framer.feed(chunk, now)
        return self


def test_scan_event_fields():
    sink = Sink().feed(b"RMA-1\r")
    (event,) = sink.scans
    assert (event.code, event.source, event.symbology, event.at) == ("RMA-1", "serial:front", None, AT)


def test_terminator_split_across_reads_is_found():
    sink = Sink(terminator="CRLF").feed(b"ONE\r", b"\nTWO\r", b"\n")
    assert sink.codes == ["ONE", "TWO"]


def test_only_cr_and_lf_are_stripped_at_the_ends():
    sink = Sink().feed(b"\x1d ABC \x1d\r", b"\n\nDEF\n\r")
    assert sink.codes == ["\x1d ABC \x1d", "DEF"]


@pytest.mark.parametrize(
    ("wire", "symbology", "code"),
    [
        (b"]C1010950110153000317\r", "]C1", "010950110153000317"),
        (b"]d2010950110153000317\x1d21S1\r", "]d2", "010950110153000317\x1d21S1"),
        (b"]E09501101530003\r", "]E0", "9501101530003"),
        (b"]Q3\r", "]Q3", ""),
        (b"]CX1\r", None, "]CX1"),  # not an identifier: letter then digit
        (b"]1\r", None, "]1"),
        (b"A]C1\r", None, "A]C1"),
    ],
)
def test_aim_symbology_identifier_is_split_off(wire, symbology, code):
    (event,) = Sink().feed(wire).scans
    assert (event.symbology, event.code) == (symbology, code)


def test_line_of_exactly_max_length_is_kept_and_one_more_byte_is_not():
    sink = Sink(max_length=8).feed(b"12345678\r", b"123456789\r", b"OK\r")
    assert sink.codes == ["12345678", "OK"]
    assert len(sink.warnings) == 1 and "9-byte line" in sink.warnings[0]


def test_overlong_line_in_many_reads_warns_once_and_resyncs_at_the_terminator():
    sink = Sink(max_length=16)
    for _ in range(100):
        sink.feed(b"X" * 7)
    sink.feed(b"XX\rNEXT\r")
    assert sink.codes == ["NEXT"]
    assert len(sink.warnings) == 1
    assert "max_length=16" in sink.warnings[0] and "XXXX" in sink.warnings[0]
    assert len(sink.warnings[0]) < 200  # a preview, not the whole line


def test_overlong_partial_is_dropped_before_its_terminator_arrives():
    sink = Sink(max_length=16).feed(b"X" * 100)
    assert len(sink.warnings) == 1 and "100+ bytes without terminator" in sink.warnings[0]
    assert sink.framer.pending == b""  # memory stays bounded by max_length
    sink.feed(b"X" * 100, b"\rOK\r")
    assert sink.codes == ["OK"] and len(sink.warnings) == 1


def test_empty_line_flood_warning_is_rate_limited():
    sink = Sink()
    for i in range(100):
        sink.feed(b"\r", now=10.0 + i * 0.001)
    assert len(sink.warnings) == 1 and "empty lines" in sink.warnings[0]
    for i in range(100):
        sink.feed(b"\r", now=20.0 + i * 0.001)
    assert len(sink.warnings) == 1  # within the rate limit
    later = 10.0 + WARNING_INTERVAL_S + 1
    for i in range(100):
        sink.feed(b"\r", now=later + i * 0.001)
    assert len(sink.warnings) == 2
    assert sink.codes == []


def test_slow_empty_lines_do_not_warn():
    sink = Sink()
    for i in range(100):
        sink.feed(b"\r", now=i * 0.1)  # ten a second: below the flood threshold
    assert sink.warnings == []


def test_stale_partial_is_dropped_after_the_gap_only():
    sink = Sink()
    sink.feed(b"ABC", now=0.0)
    sink.framer.idle(STALE_PARTIAL_S - 0.1)
    assert sink.warnings == [] and sink.framer.pending == b"ABC"
    sink.framer.idle(STALE_PARTIAL_S + 0.1)
    assert len(sink.warnings) == 1 and "'ABC'" in sink.warnings[0]
    sink.feed(b"DEF\r", now=10.0)
    assert sink.codes == ["DEF"]


def test_stale_partial_is_dropped_when_data_resumes_after_a_gap():
    sink = Sink()
    sink.feed(b"ABC", now=0.0)
    sink.feed(b"DEF\r", now=STALE_PARTIAL_S + 5)  # no idle() calls in between
    assert sink.codes == ["DEF"]
    assert len(sink.warnings) == 1


def test_leftover_line_feed_is_not_a_partial_code():
    sink = Sink()  # terminator CR, scanner sends CRLF
    sink.feed(b"ABC\r\n", now=0.0)
    sink.framer.idle(STALE_PARTIAL_S + 1)
    sink.framer.drop("disconnect")
    assert sink.codes == ["ABC"] and sink.warnings == []


def test_drop_discards_the_partial_with_a_warning():
    sink = Sink().feed(b"OK\rHALF")
    sink.framer.drop("disconnect")
    sink.feed(b"REST\r")
    assert sink.codes == ["OK", "REST"]
    assert sink.warnings == ["scanner 'front': discarded partial code 'HALF' cut off by disconnect"]


def test_invalid_bytes_in_another_encoding():
    sink = Sink(encoding="ascii").feed(b"A\xe9B\r")
    assert sink.codes == ["A\\xe9B"]
    assert "invalid ascii bytes" in sink.warnings[0]


def test_c1_control_and_del_are_warned_about():
    sink = Sink().feed("A\u0085B\x7fC\r".encode())
    assert sink.codes == ["A\u0085B\x7fC"]
    assert "<0x7F>" in sink.warnings[0] and "<0x85>" in sink.warnings[0]


def test_backoff_starts_small_and_is_capped():
    delays = list(islice(backoff_delays(), 8))
    assert delays[:4] == [0.1, 0.2, 0.4, 0.8]
    assert max(delays) == BACKOFF_MAX_S <= 1.0


@pytest.mark.parametrize(
    ("encoding", "problem"),
    [("utf-8", None), ("latin-1", None), ("cp1252", None), ("ascii", None),
     ("utf-16", "not ASCII-compatible"), ("utf-32-le", "not ASCII-compatible"),
     ("rot13", "not ASCII-compatible"), ("utf-9", "unknown encoding")],
)
def test_encoding_problem(encoding, problem):
    found = encoding_problem(encoding)
    assert found is None if problem is None else problem in found
