"""Messages between the bench app, its background threads and its screens.

Threads (serial readers, services) only ever talk to the app through `post_message`, which is
thread-safe; everything that touches widgets then runs on the app's event loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import events
from textual.message import Message

from dockstation.scan import Classified, ScanEvent

if TYPE_CHECKING:  # the store and the receiving core load after the first screen (tui/app.py)
    from dockstation.receiving.core import Outcome


class ScanReceived(Message):
    """A scan from any source (serial reader thread, manual entry) for the one dispatcher."""

    def __init__(self, scan: ScanEvent) -> None:
        super().__init__()
        self.scan = scan


class ScanHandled(Message):
    """A scan went through the dispatcher and its result is on screen (after the commit).

    `outcome` is set when a receiving use case ran; `classified` is None if classification
    itself failed. Posted to the app; used by tests and by the latency benchmark.
    """

    def __init__(self, scan: ScanEvent, classified: Classified | None, outcome: Outcome | None) -> None:
        super().__init__()
        self.scan = scan
        self.classified = classified
        self.outcome = outcome


class KeyBurst(events.Event):
    """Keys the terminal delivered in one read, posted to the app as one event (tui/driver.py).

    A keyboard-wedge scanner's code arrives as one burst of characters: as separate events
    each key was its own task and message on the event loop (~19 for a tracking number), a
    third of the scan's time before the dispatcher on a real terminal (bench_scan.py --pty
    --split). The keys are Textual's own `Key` events, in order, with the time each was read;
    the app hands them to the wedge detector one by one, exactly as if they had come apart
    (tui/keycapture.py)."""

    def __init__(self, keys: tuple[events.Key, ...]) -> None:
        super().__init__()
        self.keys = keys


class WedgeTick(Message):
    """Time to release keys the wedge detector held (queued behind keys already read)."""


class ServiceStatus(Message):
    """A header slot changed: `slot` is "scanner:<name>", "printer", "sync" or a service name.

    `level` is one of "ok", "warn", "error", "off".
    """

    def __init__(self, slot: str, text: str, level: str) -> None:
        super().__init__()
        self.slot = slot
        self.text = text
        self.level = level


class BenchWarning(Message):
    """A warning from a background part (e.g. a scanner sending a partial code)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


@dataclass
class SoundFailed(Message):
    """The audio player thread could not sound `pattern` (`why`): the app rings the bell instead."""

    pattern: str
    why: str


@dataclass(frozen=True)
class Slot:
    """One header slot as shown: its label, text and level."""

    label: str
    text: str
    level: str = "off"
