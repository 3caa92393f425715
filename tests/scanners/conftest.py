"""Fixtures for scanner tests: a real pseudo-terminal stands in for the scanner.

The reader opens the pty slave through a symlink (like a /dev/serial/by-id link), so a
"replugged" scanner reappears at the same path: unplug closes the master (the reader gets the
same SerialException as from a vanished USB device) and removes the link; plug makes a new pty
and points the link at it.
"""

from __future__ import annotations

import os
import threading
import tty
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dockstation.scanners.config import ScannerConfig
from dockstation.scanners.serial_reader import SerialReader

WAIT_S = 5.0  # generous deadline for anything to happen; never a timing assertion


class PtyDevice:
    def __init__(self, link: Path) -> None:
        self.link = link
        self.master: int | None = None
        self.slave: int | None = None

    @property
    def plugged(self) -> bool:
        return self.master is not None

    def plug(self) -> PtyDevice:
        assert not self.plugged
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no CR→LF translation: bytes pass through as a wire would
        self.master, self.slave = master, slave
        tmp = self.link.with_name(self.link.name + ".new")
        tmp.unlink(missing_ok=True)
        os.symlink(os.ttyname(slave), tmp)
        os.replace(tmp, self.link)  # atomic, like udev re-pointing a by-id link
        return self

    def unplug(self) -> None:
        assert self.master is not None and self.slave is not None
        os.close(self.master)
        os.close(self.slave)
        self.master = self.slave = None
        self.link.unlink(missing_ok=True)

    def write(self, data: bytes) -> None:
        assert self.master is not None
        view = memoryview(data)
        while view:  # a pty may accept less than asked while the reader catches up
            written = os.write(self.master, view)
            view = view[written:]


class Recorder:
    """Collects callbacks from reader threads; `wait` blocks until a condition holds."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.scans: list = []
        self.statuses: list = []
        self.warnings: list[str] = []

    def on_scan(self, event) -> None:
        with self.cond:
            self.scans.append(event)
            self.cond.notify_all()

    def on_status(self, status) -> None:
        with self.cond:
            self.statuses.append(status)
            self.cond.notify_all()

    def on_warning(self, message: str) -> None:
        with self.cond:
            self.warnings.append(message)
            self.cond.notify_all()

    def codes(self, source: str | None = None) -> list[str]:
        with self.cond:
            return [s.code for s in self.scans if source is None or s.source == source]

    def states(self, name: str | None = None) -> list[str]:
        with self.cond:
            return [s.state for s in self.statuses if name is None or s.name == name]

    def wait(self, predicate: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
        with self.cond:
            if not self.cond.wait_for(predicate, timeout):
                pytest.fail(
                    f"timed out waiting for {what}; scans={[s.code for s in self.scans]!r} "
                    f"states={[(s.state, s.detail) for s in self.statuses]!r} "
                    f"warnings={self.warnings!r}"
                )

    def wait_codes(self, count: int, source: str | None = None) -> list[str]:
        self.wait(lambda: len(self.codes(source)) >= count, f"{count} code(s)")
        return self.codes(source)

    def wait_state(self, state: str, occurrence: int = 1, name: str | None = None) -> None:
        """Wait until `state` has been reported `occurrence` times in total."""
        self.wait(
            lambda: self.states(name).count(state) >= occurrence,
            f"state {state!r} #{occurrence}",
        )

    def wait_warning(self, fragment: str) -> str:
        self.wait(lambda: any(fragment in w for w in self.warnings), f"warning {fragment!r}")
        return next(w for w in self.warnings if fragment in w)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def device(tmp_path: Path) -> Iterator[PtyDevice]:
    dev = PtyDevice(tmp_path / "usb-Acme_Scanner_0001-if00")
    yield dev
    if dev.plugged:
        dev.unplug()


@pytest.fixture
def make_device(tmp_path: Path) -> Iterator[Callable[[str], PtyDevice]]:
    made: list[PtyDevice] = []

    def make(name: str) -> PtyDevice:
        dev = PtyDevice(tmp_path / name)
        made.append(dev)
        return dev

    yield make
    for dev in made:
        if dev.plugged:
            dev.unplug()


@pytest.fixture
def start_reader(recorder: Recorder) -> Iterator[Callable[..., SerialReader]]:
    """Start a reader on a port with the recorder's callbacks; stopped at teardown."""
    readers: list[SerialReader] = []

    def start(port: Path | str, name: str = "front", rec: Recorder | None = None, **options) -> SerialReader:
        rec = rec or recorder
        config = ScannerConfig(name=name, port=str(port), **options)
        reader = SerialReader(config, rec.on_scan, rec.on_status, rec.on_warning)
        readers.append(reader)
        reader.start()
        return reader

    yield start
    for reader in readers:
        assert reader.stop(timeout=WAIT_S)
