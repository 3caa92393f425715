"""A stand-in for python-evdev's InputDevice, shared by the evdev reader tests (no /dev/uinput here)."""

from __future__ import annotations

import errno
import os
import threading
from types import SimpleNamespace


class FakeDevice:
    """evdev.InputDevice's surface: `fd` (a pipe, so select() sees pending events), read(),
    grab(), close(), name. `push` queues key events (code, value); `unplug` makes the next read
    after the queued events fail as a vanished device does."""

    def __init__(self, name: str = "Acme Wedge") -> None:
        self.name = name
        self._r, self._w = os.pipe()
        self.fd = self._r
        self.events: list = []
        self.gone = False
        self.grabbed = False
        self._lock = threading.Lock()  # the test thread pushes while the reader thread reads

    def grab(self) -> None:
        self.grabbed = True

    def push(self, events) -> None:
        with self._lock:
            self.events += [SimpleNamespace(type=1, code=c, value=v) for c, v in events]
        os.write(self._w, b"x")

    def unplug(self) -> None:
        self.gone = True
        os.write(self._w, b"x")

    def _take(self) -> list:
        with self._lock:
            events, self.events = self.events, []
        return events

    def read(self):
        # like the kernel: events already queued are read before the unplug shows
        events = self._take()
        if not events:
            os.read(self._r, 1024)
            events = self._take()  # pushed while the pipe was being drained
            if events and self.gone:
                os.write(self._w, b"x")  # the unplug is still to be seen, on the next read
            elif self.gone:
                raise OSError(errno.ENODEV, "No such device")
        return iter(events)

    def close(self) -> None:
        for fd in (self._r, self._w):
            try:
                os.close(fd)
            except OSError:
                pass
