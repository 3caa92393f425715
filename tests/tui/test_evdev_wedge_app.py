"""The bench with [wedge] evdev_device: scans from the device go through the one pipeline; without
python-evdev the header and a warning say so, and the terminal wedge keeps working."""

from __future__ import annotations

from types import SimpleNamespace

from evdev_fakes import FakeDevice
from tui_helpers import burst, wait_for

from dockstation.models import Event
from dockstation.scanners import evdev_reader
from sqlmodel import select

DEVICE = "/dev/input/by-id/usb-Acme_Wedge_1234-event-kbd"
SHIFT, ENTER = 42, 28
KEYS = {**{c: k for k, c in evdev_reader._LETTERS.items()}, **{p[0]: k for k, p in evdev_reader._ROWS.items()}}


def typed(text: str) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for ch in text:
        if ch == "\r":
            out += [(ENTER, 1), (ENTER, 0)]
        elif ch.isupper():
            out += [(SHIFT, 1), (KEYS[ch.lower()], 1), (KEYS[ch.lower()], 0), (SHIFT, 0)]
        else:
            out += [(KEYS[ch], 1), (KEYS[ch], 0)]
    return out


def with_evdev(home) -> None:
    station = home / "config" / "station.toml"
    station.write_text(station.read_text() + f'\n[wedge]\nevdev_device = "{DEVICE}"\n')


async def test_scans_from_the_evdev_device_are_received_with_their_source(make_app, manifest, home, monkeypatch):
    with_evdev(home)
    device = FakeDevice()
    monkeypatch.setattr(evdev_reader, "evdev", SimpleNamespace(InputDevice=lambda path: device))
    app = make_app(start_services=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.slots.get("scanner:evdev") and app.slots["scanner:evdev"].level == "ok",
                       "evdev slot ok")
        device.push(typed("OP-9001\rRMA-2026-000001\r"))
        await wait_for(pilot, lambda: app.current_lpn is not None, "a unit received from the evdev device")
    with app.store.read() as s:
        received = s.exec(select(Event).where(Event.kind == "unit_received")).one()
    assert received.payload["source"] == f"evdev:{DEVICE}"


async def test_without_python_evdev_the_header_warns_and_the_terminal_wedge_works(make_app, manifest, home,
                                                                                monkeypatch):
    with_evdev(home)
    monkeypatch.setattr(evdev_reader, "evdev", None)
    app = make_app(start_services=True)
    notes: list[str] = []
    real_notify = app.notify
    monkeypatch.setattr(app, "notify", lambda message, **kw: notes.append(str(message)) or real_notify(message, **kw))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.slots.get("scanner:evdev") and app.slots["scanner:evdev"].level == "error",
                       "evdev slot error")
        await wait_for(pilot, lambda: any("python-evdev is not installed" in n for n in notes), "the warning")
        burst(app, "OP-9001\rRMA-2026-000001\r")
        await wait_for(pilot, lambda: app.current_lpn is not None, "a unit received from the terminal")
