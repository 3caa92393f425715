"""ports.py: visible(), list_ports() and the `scanners test` loop."""

from __future__ import annotations

import os
import threading
from types import SimpleNamespace

import pytest

from dockstation.scanners.ports import PortInfo, format_ports, list_ports, run_test, visible
from dockstation.scanners.config import ScannerConfig


@pytest.mark.parametrize(
    ("code", "shown"),
    [
        ("0109501101530003\x1d21ABC", "0109501101530003<GS>21ABC"),
        ("A\rB\nC\x1bD\tE\x00F", "A<CR>B<LF>C<ESC>D<TAB>E<NUL>F"),
        ("\x07\x7f\x85\x1e\x04", "<0x07><0x7F><0x85><0x1E><0x04>"),
        ("safe\u202eevil\u200b", "safe<U+202E>evil<U+200B>"),
        ("Café [b]x[/b] ÄÖ 漢字", "Café [b]x[/b] ÄÖ 漢字"),
        ("", ""),
    ],
)
def test_visible(code, shown):
    assert visible(code) == shown


def fake_comports(*infos):
    return lambda: [SimpleNamespace(**info) for info in infos]


def test_list_ports_joins_comports_and_by_id_links(tmp_path):
    acm0, usb0, pts = (tmp_path / n for n in ("ttyACM0", "ttyUSB0", "pts7"))
    for device in (acm0, usb0, pts):
        device.touch()
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    (by_id / "usb-Honeywell_1900_17234B5E4F-if00").symlink_to(acm0)
    (by_id / "usb-Other_link-if00").symlink_to(pts)  # target unknown to comports
    comports = fake_comports(
        dict(device=str(acm0), vid=0x0C2E, pid=0x0B61, serial_number="17234B5E4F",
             manufacturer="Honeywell", description="Xenon 1900"),
        dict(device=str(usb0), vid=None, pid=None, serial_number=None,
             manufacturer=None, description="n/a"),
    )

    ports = {p.device: p for p in list_ports(str(by_id), comports)}

    assert ports[str(acm0)] == PortInfo(
        device=str(acm0),
        by_id=(str(by_id / "usb-Honeywell_1900_17234B5E4F-if00"),),
        vid_pid="0C2E:0B61",
        serial_number="17234B5E4F",
        manufacturer="Honeywell",
        description="Xenon 1900",
    )
    assert ports[str(usb0)] == PortInfo(device=str(usb0))
    assert ports[str(pts)].by_id == (str(by_id / "usb-Other_link-if00"),)
    assert ports[str(acm0)].suggested_port.endswith("usb-Honeywell_1900_17234B5E4F-if00")


def test_list_ports_without_by_id_folder(tmp_path):
    comports = fake_comports(dict(device="/dev/ttyACM3", vid=1, pid=2, serial_number=None,
                                  manufacturer=None, description=None))
    (port,) = list_ports(str(tmp_path / "missing"), comports)
    assert port.by_id == () and port.suggested_port == "hwgrep://0001:0002"


def test_format_ports_shows_untrusted_usb_strings_safely():
    port = PortInfo(device="/dev/ttyACM0", vid_pid="0C2E:0B61", manufacturer="Evil\x1b]2;pwn\x07",
                    by_id=("/dev/serial/by-id/usb-x",))
    text = "\n".join(format_ports([port]))
    assert "\x1b" not in text and "Evil<ESC>]2;pwn<0x07>" in text
    assert 'port = "/dev/serial/by-id/usb-x"' in text
    assert "no serial ports" in format_ports([])[0]


def test_run_test_prints_codes_statuses_and_warnings(device):
    device.plug()
    lines: list[str] = []
    seen = threading.Condition()

    def out(line: str) -> None:
        with seen:
            lines.append(line)
            seen.notify_all()

    def wait_for(fragment: str) -> None:
        with seen:
            assert seen.wait_for(lambda: any(fragment in l for l in lines), 5), (fragment, lines)

    stop = threading.Event()
    config = ScannerConfig(name="front", port=str(device.link))
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(run_test([config], out, stop)))
    thread.start()
    try:
        wait_for("[front] connected")
        device.write(b"]C10109501101530003\x1d21A\x1bB\rPLAIN\r")
        wait_for("code=PLAIN")
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
    assert "[front] symbology=]C1 code=0109501101530003<GS>21A<ESC>B" in lines
    assert "[front] symbology=- code=PLAIN" in lines
    assert any(l.startswith("warning: scanner 'front': code contains control characters <ESC>") for l in lines)
    assert not any("\x1b" in l or "\x1d" in l for l in lines)
    assert result == {"front": 2}
    assert lines[-1] == "[front] 2 code(s) received"


def test_run_test_without_scanners():
    lines: list[str] = []
    assert run_test([], lines.append, threading.Event()) == {}
    assert "no scanners configured" in lines[0]


def test_real_comports_call_does_not_fail():
    # whatever this machine has, listing must work (CI runners have no by-id folder)
    for port in list_ports():
        assert os.path.isabs(port.device)
