"""The optional evdev wedge reader: key translation, and the reader loop on a fake device."""

from __future__ import annotations

import errno
import threading

import pytest

from evdev_fakes import FakeDevice

from dockstation.scanners import evdev_reader
from dockstation.scanners.config import ScannerConfig
from dockstation.scanners.evdev_reader import EvdevReader, KeyTranslator

# key codes used below (linux/input-event-codes.h)
SHIFT, CTRL, ALT, ENTER, KPENTER, TAB, CAPS = 42, 29, 56, 28, 96, 15, 58
KP = {"0": 82, "1": 79, "2": 80, "9": 73}
CODES = {c: k for k, c in {**evdev_reader._LETTERS}.items()}
CODES |= {pair[0]: k for k, pair in evdev_reader._ROWS.items()}
SHIFTED = {pair[1]: k for k, pair in evdev_reader._ROWS.items()}


def press(code: int) -> list[tuple[int, int]]:
    return [(code, 1), (code, 0)]


def typed(text: str) -> list[tuple[int, int]]:
    """Key events a US-layout wedge scanner sends for `text` (\\x1d as Ctrl+], \\r as Enter)."""
    events: list[tuple[int, int]] = []
    for char in text:
        if char == "\r":
            events += press(ENTER)
        elif char == "\x1d":
            events += [(CTRL, 1), *press(CODES["]"]), (CTRL, 0)]
        elif char.isupper():
            events += [(SHIFT, 1), *press(CODES[char.lower()]), (SHIFT, 0)]
        elif char in SHIFTED:
            events += [(SHIFT, 1), *press(SHIFTED[char]), (SHIFT, 0)]
        else:
            events += press(CODES[char])
    return events


def translate(events, **kw) -> str:
    keys = KeyTranslator(**kw)
    return "".join(keys.key(code, value) for code, value in events)


def test_us_layout_text_round_trips():
    text = "RMA-2026-000123 CMD:GRADE:A ]C1 {x}|~`!@#$%^&*()_+=;'\",.<>/?\\\r"
    assert translate(typed(text)) == text


def test_gs_as_ctrl_bracket_and_as_alt_keypad():
    alt_0029 = [(ALT, 1), *press(KP["0"]), *press(KP["0"]), *press(KP["2"]), *press(KP["9"]), (ALT, 0)]
    assert translate(typed("01") + typed("\x1d") + alt_0029 + typed("21\r")) == "01\x1d\x1d21\r"


def test_caps_lock_inverts_shift_and_autorepeat_is_ignored():
    events = press(CAPS) + press(CODES["a"]) + [(SHIFT, 1)] + press(CODES["b"]) + [(SHIFT, 0)]
    assert translate(events + [(CODES["c"], 2)]) == "Ab"


def test_keypad_enter_tab_and_function_keys():
    events = press(KP["1"]) + press(TAB) + press(59) + press(KPENTER)  # 59 = F1
    assert translate(events) == "1\t\r"
    assert translate(press(TAB), tab_ends_code=True) == "\r"


def test_key_codes_match_python_evdev():
    ecodes = pytest.importorskip("evdev.ecodes", exc_type=ImportError)
    for code, letter in evdev_reader._LETTERS.items():
        assert getattr(ecodes, f"KEY_{letter.upper()}") == code
    assert (ecodes.KEY_ENTER, ecodes.KEY_KPENTER, ecodes.KEY_RIGHTBRACE) == (ENTER, KPENTER, CODES["]"])
    assert (ecodes.KEY_LEFTSHIFT, ecodes.KEY_LEFTCTRL, ecodes.KEY_LEFTALT) == (SHIFT, CTRL, ALT)
    assert (ecodes.KEY_KP0, ecodes.KEY_KP9, ecodes.KEY_CAPSLOCK) == (KP["0"], KP["9"], CAPS)


class FakeBench:
    """Plugs fake devices in and out; open_device finds the current one or raises ENOENT."""

    def __init__(self) -> None:
        self.device: FakeDevice | None = None
        self.opened = threading.Event()

    def plug(self) -> FakeDevice:
        self.device = FakeDevice("Acme Scanner\x1b[31m")
        return self.device

    def open_device(self, path: str) -> FakeDevice:
        if self.device is None or self.device.gone:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        self.opened.set()
        return self.device


@pytest.fixture
def evdev_reader_on(recorder):
    readers = []

    def start(bench: FakeBench, **kw) -> EvdevReader:
        config = ScannerConfig(name="wedge1", port="/dev/input/by-id/usb-Acme-event-kbd")
        reader = EvdevReader(config, recorder.on_scan, recorder.on_status, recorder.on_warning,
                             open_device=bench.open_device, **kw)
        readers.append(reader)
        reader.start()
        return reader

    yield start
    for reader in readers:
        assert reader.stop(timeout=5)


def test_reader_scans_reconnects_and_grabs(evdev_reader_on, recorder):
    bench = FakeBench()
    device = bench.plug()
    evdev_reader_on(bench)
    recorder.wait_state("connected")
    assert device.grabbed
    assert "<ESC>" in recorder.statuses[-1].detail  # the device name is untrusted text

    device.push(typed("]C101\x1d21AB\r"))
    recorder.wait_codes(1)
    scan = recorder.scans[0]
    assert (scan.source, scan.symbology, scan.code) == ("evdev:wedge1", "]C1", "01\x1d21AB")

    device.push(typed("HALF"))
    device.unplug()
    recorder.wait_state("disconnected")
    assert "HALF" in recorder.wait_warning("cut off by disconnect")
    bench.device = None

    device = bench.plug()
    recorder.wait_state("connected", occurrence=2)
    device.push(typed("RMA-1\r"))
    device.push(typed("END\r"))
    recorder.wait_codes(3)
    assert recorder.codes() == ["01\x1d21AB", "RMA-1", "END"]


def test_without_python_evdev_the_reader_says_how_to_get_it(monkeypatch):
    monkeypatch.setattr(evdev_reader, "evdev", None)
    config = ScannerConfig(name="w", port="/dev/input/event3")
    with pytest.raises(RuntimeError, match=r"pip install .dockstation\[evdev\]."):
        EvdevReader(config, print, print, print)
