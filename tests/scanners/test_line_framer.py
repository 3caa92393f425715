"""LineFramer: the byte-stream rules, driven directly with a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import islice

import pytest

from dockstation.scanners.config import ScannerConfig
from dockstation.scanners.serial_reader import (
    BACKOFF_MAX_S,
    FRAGMENT_WARNING_INTERVAL_S,
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


def test_a_fragment_ends_after_idle_ms_of_observed_silence_only():
    sink = Sink(idle_ms=200)
    sink.feed(b"ABC", now=0.0)
    sink.framer.quiet(0.1, now=0.1)
    assert sink.warnings == [] and sink.framer.pending == b"ABC"  # a burst may go on
    sink.framer.quiet(0.1, now=0.2)
    assert len(sink.warnings) == 1 and "fragment 'ABC'" in sink.warnings[0]
    assert "no terminator (CR) within 200 ms" in sink.warnings[0]
    sink.feed(b"DEF\r", now=10.0)
    assert sink.codes == ["DEF"]


def test_a_fragment_does_not_swallow_the_next_good_code():
    # issue 14: noise, then a good code; the good code was discarded with the noise
    sink = Sink()
    sink.feed(b"\x00\xffRMA-20", now=0.0)
    sink.framer.quiet(sink.framer.read_timeout, now=0.2)
    sink.feed(b"RMA-2026-000123\r", now=0.9)
    assert sink.codes == ["RMA-2026-000123"]
    assert len(sink.warnings) == 1 and "discarded fragment" in sink.warnings[0]


def test_a_late_read_without_observed_silence_never_cuts_a_code():
    # The reader thread held up for a second (a busy machine) finds the rest of the code
    # waiting: no read came back empty, so it is one code, whatever the clocks say.
    sink = Sink()
    sink.feed(b"RMA-2026", now=0.0)
    sink.feed(b"-000123\r", now=1.5)
    assert sink.codes == ["RMA-2026-000123"] and sink.warnings == []


def test_silence_counts_from_the_last_byte():
    sink = Sink(idle_ms=200)
    sink.feed(b"AB", now=0.0)
    sink.framer.quiet(0.15, now=0.15)
    sink.feed(b"C", now=0.16)  # the burst goes on: the silence so far no longer counts
    sink.framer.quiet(0.15, now=0.31)
    sink.feed(b"D\r", now=0.32)
    assert sink.codes == ["ABCD"] and sink.warnings == []


def test_crlf_configured_and_only_the_cr_came_the_code_is_complete():
    sink = Sink(terminator="CRLF")
    sink.feed(b"ONE\r", now=0.0)
    sink.framer.quiet(0.2, now=0.2)
    sink.feed(b"\nTWO\r\n", now=0.5)
    assert sink.codes == ["ONE", "TWO"] and sink.warnings == []


def test_fragment_warnings_on_screen_are_rate_limited():
    sink = Sink()
    for i in range(5):
        sink.feed(b"NOISE", now=float(i))
        sink.framer.quiet(0.2, now=i + 0.2)
    assert len(sink.warnings) == 1
    sink.feed(b"NOISE", now=FRAGMENT_WARNING_INTERVAL_S + 1)
    sink.framer.quiet(0.2, now=FRAGMENT_WARNING_INTERVAL_S + 1.2)
    assert len(sink.warnings) == 2


def test_leftover_line_feed_is_not_a_partial_code():
    sink = Sink()  # terminator CR, scanner sends CRLF
    sink.feed(b"ABC\r\n", now=0.0)
    sink.framer.quiet(1.0, now=1.0)
    sink.framer.drop("disconnect")
    assert sink.codes == ["ABC"] and sink.warnings == []


def test_idle_ms_is_bounded_in_configuration():
    with pytest.raises(ValueError):
        ScannerConfig(name="front", port="/dev/null", idle_ms=5)
    with pytest.raises(ValueError):
        ScannerConfig(name="front", port="/dev/null", idle_ms=60_000)


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
