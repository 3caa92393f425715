"""ScannerConfig (dockstation/scanners/config.py): the `[[scanners]]` table of station.toml."""

from __future__ import annotations

import tomllib

import pytest
from pydantic import ValidationError

from dockstation.scanners.config import ScannerConfig
from dockstation.scanners.serial_reader import source_of, terminator_bytes

STATION_TOML = """
[[scanners]]
name = "front"
port = "/dev/serial/by-id/usb-Honeywell_Imaging___Mobility_1900_17234B5E4F-if00"

[[scanners]]
name = "grading"
port = "hwgrep://0C2E:0B61"
baudrate = 115200
parity = "E"
bytesize = 7
stopbits = 1.5
terminator = "CRLF"
encoding = "latin-1"
max_length = 512
"""


def test_station_toml_tables_load():
    front, grading = (ScannerConfig(**t) for t in tomllib.loads(STATION_TOML)["scanners"])
    assert (front.baudrate, front.bytesize, front.parity, front.stopbits) == (9600, 8, "N", 1)
    assert (front.terminator, terminator_bytes(front), front.encoding) == ("CR", b"\r", "utf-8")
    assert front.max_length == 4096 and source_of(front) == "serial:front"
    assert grading.stopbits == 1.5 and terminator_bytes(grading) == b"\r\n"
    assert grading.port == "hwgrep://0C2E:0B61"


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("baud", 9600, "Extra inputs are not permitted"),
        ("encoding", "utf-9", "unknown encoding"),
        ("terminator", "TAB", "'CR', 'LF' or 'CRLF'"),
        ("stopbits", 3, "Input should be"),
        ("bytesize", 9, "Input should be"),
        ("parity", "X", "Input should be"),
        ("baudrate", 0, "greater than 0"),
        ("max_length", 0, "greater than 0"),
        ("port", "", "at least 1 character"),
        ("name", "", "at least 1 character"),
    ],
)
def test_bad_values_are_refused_with_the_reason(field, value, reason):
    table = {"name": "front", "port": "/dev/ttyACM0", field: value}
    with pytest.raises(ValidationError) as info:
        ScannerConfig(**table)
    assert reason in str(info.value)
    assert field in str(info.value)


# Checks beyond the field types: encodings must be ASCII-compatible, URL schemes known, names printable.
@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("encoding", "utf-16", "not ASCII-compatible"),
        ("encoding", "rot13", "not ASCII-compatible"),
        ("port", "hwgerp://0C2E:0B61", "unknown pyserial URL scheme"),
        ("name", "front\x1b[2J", "printable"),
    ],
)
def test_proposed_checks(field, value, reason):
    table = {"name": "front", "port": "/dev/ttyACM0", field: value}
    try:
        ScannerConfig(**table)
    except ValidationError as exc:
        assert reason in str(exc)
    else:
        raise AssertionError(f"{field}={value!r} was accepted")


@pytest.mark.parametrize("port", ["/dev/ttyUSB0", "hwgrep://0C2E:0B61&skip_busy", "loop://", "rfc2217://h:7000"])
def test_ports_and_known_urls_are_accepted(port):
    assert ScannerConfig(name="x", port=port).port == port
