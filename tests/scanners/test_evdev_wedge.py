"""[wedge] evdev_device: config validation, key decoding, and starting the reader (or warning)."""

from __future__ import annotations

import errno
import json
import os
import threading
import time

import pytest

from evdev_fakes import FakeDevice

from dockstation.config import ConfigError, StationConfig, WedgeConfig, load_layered
from dockstation.scanners import evdev_reader
from dockstation.scanners.evdev_reader import decode_keys, start_wedge_reader

DEVICE = "/dev/input/by-id/usb-Acme_Wedge_1234-event-kbd"
SHIFT, ENTER, TAB = 42, 28, 15
R, M, A, MINUS, ONE = 19, 50, 30, 12, 2


def press(code: int) -> list[tuple[int, int]]:
    return [(code, 1), (code, 0)]


# -- configuration -----------------------------------------------------------------------------
@pytest.mark.parametrize("path", [DEVICE, "/dev/input/event3", "/dev/input/by-path/pci-0000:00:14.0-usb-0:2:1.0-event-kbd",
                                  "/dev/input/by-id/usb-Honeywell_1900-if01-event-kbd"])
def test_event_devices_are_accepted(path):
    assert WedgeConfig(evdev_device=path).evdev_device == path


@pytest.mark.parametrize("path", ["/dev/ttyACM0", "/dev/input/mouse0", "/dev/input/js0", "event3",
                                  "/dev/input/by-id/../../sda", "/dev/input/by-id/usb-Acme", "/dev/input/event3 ",
                                  "/dev/input/by-id/usb-x\x1b[2J-event-kbd", ""])
def test_anything_else_is_refused_with_the_key_and_a_hint(tmp_path, path):
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "station.toml").write_text(
        f'station_id = "B07"\n[wedge]\nevdev_device = {json.dumps(path)}\n')  # JSON escapes are TOML's
    with pytest.raises(ConfigError) as info:
        load_layered("station.toml", StationConfig, home)
    assert "wedge.evdev_device" in str(info.value) and "/dev/input/by-id/" in str(info.value)


def test_off_by_default():
    assert WedgeConfig().evdev_device is None
    assert start_wedge_reader(WedgeConfig(), print, print, print) is None


# -- key codes → text (pure) -------------------------------------------------------------------
def test_decode_keys_is_a_pure_function_of_the_events():
    events = [(SHIFT, 1), *press(R), *press(M), *press(A), (SHIFT, 0), *press(MINUS), *press(ONE), *press(ENTER)]
    assert decode_keys(events) == decode_keys(events) == "RMA-1\r"
    assert decode_keys(press(TAB)) == "\t" and decode_keys(press(TAB), tab_ends_code=True) == "\r"
    assert decode_keys([(R, 2)]) == ""  # autorepeat carries no data


# -- starting it -------------------------------------------------------------------------------
class Calls:
    def __init__(self) -> None:
        self.scans: list = []
        self.statuses: list[tuple[str, str]] = []
        self.warnings: list[str] = []
        self.changed = threading.Condition()

    def _add(self, where: list, item: object) -> None:
        with self.changed:
            where.append(item)
            self.changed.notify_all()

    def callbacks(self):
        return (lambda s: self._add(self.scans, s), lambda text, level: self._add(self.statuses, (text, level)),
                lambda text: self._add(self.warnings, text))

    def wait(self, condition, what: str) -> None:
        with self.changed:
            assert self.changed.wait_for(condition, timeout=5), f"timed out waiting for {what}: {vars(self)}"


def test_without_python_evdev_a_clear_warning_and_no_reader(monkeypatch, caplog):
    monkeypatch.setattr(evdev_reader, "evdev", None)
    calls = Calls()
    assert start_wedge_reader(WedgeConfig(evdev_device=DEVICE), *calls.callbacks()) is None
    assert calls.statuses == [("evdev: no evdev", "error")]
    (warning,) = calls.warnings
    assert "python-evdev is not installed" in warning and "pip install 'dockstation[evdev]'" in warning
    assert "terminal still work" in warning
    assert "python-evdev is not installed" in caplog.text


def test_a_missing_device_warns_once_then_connects_and_scans_with_its_source():
    plugged: list[FakeDevice] = []
    attempts = []

    def open_device(path: str) -> FakeDevice:
        attempts.append(path)
        if not plugged:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        return plugged[0]

    calls = Calls()
    reader = start_wedge_reader(WedgeConfig(evdev_device=DEVICE), *calls.callbacks(), open_device=open_device)
    assert reader is not None
    try:
        calls.wait(lambda: calls.warnings, "the missing-device warning")
        deadline = time.monotonic() + 5
        while len(attempts) < 3 and time.monotonic() < deadline:  # it keeps retrying ...
            time.sleep(0.05)
        assert len(calls.warnings) == 1  # ... without a warning per retry
        assert calls.warnings[0] == (f"evdev scanner: device not found: {DEVICE} (unplugged?); "
                                     "scans typed into the terminal still work")
        assert ("evdev", "error") in calls.statuses
        device = FakeDevice()
        plugged.append(device)
        calls.wait(lambda: calls.statuses[-1] == ("evdev", "ok"), "connected")
        assert device.grabbed
        device.push([(SHIFT, 1), *press(R), *press(M), *press(A), (SHIFT, 0), *press(MINUS), *press(ONE), *press(TAB)])
        calls.wait(lambda: calls.scans, "a scan")
        assert (calls.scans[0].code, calls.scans[0].source) == ("RMA-1", f"evdev:{DEVICE}")  # tab ends a code
    finally:
        assert reader.stop(timeout=5)


# -- a real kernel device ----------------------------------------------------------------------
def test_a_real_uinput_keyboard_is_read():
    """End to end through the kernel: a uinput keyboard types a code, the reader grabs and reads it."""
    missing = []
    if not os.access("/dev/uinput", os.W_OK):
        missing.append("/dev/uinput is not there or not writable (no uinput module, or a container without "
                       "input devices): no kernel input device can be made")
    try:
        import evdev as uinput  # type: ignore[import-not-found]
    except ImportError:
        missing.append("python-evdev is not installed (pip install 'dockstation[evdev]')")
    if missing:
        pytest.skip("; ".join(missing))
    ecodes = uinput.ecodes
    keys = [ecodes.KEY_LEFTSHIFT, ecodes.KEY_R, ecodes.KEY_M, ecodes.KEY_A, ecodes.KEY_MINUS, ecodes.KEY_1,
            ecodes.KEY_ENTER]
    with uinput.UInput({ecodes.EV_KEY: keys}, name="dockstation-test-wedge") as ui:
        time.sleep(0.5)  # udev makes the node
        calls = Calls()
        reader = start_wedge_reader(WedgeConfig(evdev_device=ui.device.path), *calls.callbacks())
        assert reader is not None
        try:
            calls.wait(lambda: ("evdev", "ok") in calls.statuses, "connected")
            for code, value in [(ecodes.KEY_LEFTSHIFT, 1), (ecodes.KEY_R, 1), (ecodes.KEY_R, 0), (ecodes.KEY_M, 1),
                                (ecodes.KEY_M, 0), (ecodes.KEY_A, 1), (ecodes.KEY_A, 0), (ecodes.KEY_LEFTSHIFT, 0),
                                (ecodes.KEY_MINUS, 1), (ecodes.KEY_MINUS, 0), (ecodes.KEY_1, 1), (ecodes.KEY_1, 0),
                                (ecodes.KEY_ENTER, 1), (ecodes.KEY_ENTER, 0)]:
                ui.write(ecodes.EV_KEY, code, value)
                ui.syn()
            calls.wait(lambda: calls.scans, "a scan")
            assert calls.scans[0].code == "RMA-1"
        finally:
            assert reader.stop(timeout=5)
