"""Start-up of the bench TUI: the policy in force checked, and the GC and other threads kept off
the scan path."""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dockstation.config import BenchConfig
    from dockstation.receiving.core import Triage


def load_triage(home: Path, config: BenchConfig) -> Triage:
    """Lanes from the policy in force at `home`; a bad policy.toml stops the start (ConfigError)."""
    from dockstation.policy.config import policy_for_home
    from dockstation.policy.triage import triage_for_home

    policy_for_home(home)  # validate now: the bench never starts half-configured
    return triage_for_home(home)  # follows policy changes pulled from HQ, keeps the last good


class IdleGC:
    """Python's cyclic GC kept off the scan path: it collects when the bench is idle.

    Left to itself, the GC collects whenever enough objects were allocated, i.e. in the middle
    of a scan (a scan allocates thousands): young collections of 1–8 ms several times a scan now
    and then, and full ones that scanned the whole heap, 60–230 ms, about one scan in a hundred
    (bench/README.md). So, once the first screen is up:
    - the objects made by start-up (Textual's DOM and CSS, SQLAlchemy's mappers, the
      configuration) are frozen, after one collection: later full collections skip them;
    - automatic collection is off; `after_scan` (called once the scan's result has been painted)
      collects the young generations, and every `FULL_EVERY`th scan all of them;
    - `tick` (every `TICK_S`) does the same for work that is not a scan (lead screen, services),
      as the GC would have, and a full collection every `FULL_TICKS`th tick.
    Memory is freed by reference counting as usual; only objects in reference cycles wait for
    the next of these collections. `stop` gives the GC back its automatic collection.

    Also while it runs: the interpreter's switch interval is `SWITCH_S` (Python's is 5 ms). A
    thread that holds the GIL when the event loop wants it back (the print worker rendering a
    label, the sync or photo uploads) keeps it up to that long: a scan's commit releases the GIL
    for its fsync, and each time it waited for up to 5 ms to get it back (bench_scan.py --pty).
    """

    SWITCH_S = 0.001

    FULL_EVERY = 100
    TICK_S = 2.0
    FULL_TICKS = 30

    def __init__(self) -> None:
        self.scans = 0
        self.ticks = 0
        self.active = False
        self._switch = sys.getswitchinterval()

    def start(self) -> None:
        gc.collect()
        gc.freeze()
        gc.disable()
        self._switch = sys.getswitchinterval()
        sys.setswitchinterval(self.SWITCH_S)
        self.active = True

    def stop(self) -> None:
        if self.active:
            self.active = False
            gc.enable()
            sys.setswitchinterval(self._switch)

    def after_scan(self) -> None:
        from dockstation.foreground import FOREGROUND

        FOREGROUND.scan_shown()  # the print worker's turn: the scan's label now (foreground.py)
        if self.active:
            self.scans += 1
            gc.collect(2 if self.scans % self.FULL_EVERY == 0 else 1)

    def tick(self) -> None:
        if not self.active:
            return
        self.ticks += 1
        if self.ticks % self.FULL_TICKS == 0:
            gc.collect()
        elif gc.get_count()[0] > gc.get_threshold()[0]:
            gc.collect(1)
