"""Start-up of the bench TUI: the first screen before the store, nothing lost meanwhile.

The first screen needs the configuration and the widgets only; the store (SQLAlchemy), the
receiving core, the policy and biip load in a thread once it is drawn (tui/app.py). These tests
show what is imported before that, that a scan read meanwhile waits for the store and is
received, and that a store found unusable then still ends the command with exit 1 and a reason.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

from tui_helpers import burst, see, wait_for

from dockstation.tui.app import BenchApp

HEAVY = ("sqlalchemy", "sqlmodel", "biip", "labels", "httpx", "PIL", "dockstation.store",
         "dockstation.receiving", "dockstation.models", "dockstation.inspection", "dockstation.policy")


def test_the_first_screen_needs_no_store_nor_receiving_core():
    code = ("import sys; import dockstation.tui.app; "
            "print('\\n'.join(sorted(m for m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ}, timeout=120).stdout.split()
    loaded = [m for m in out if any(m == h or m.startswith(h + ".") for h in HEAVY)]
    assert "dockstation.tui.receive" in out and loaded == []


async def test_a_scan_read_before_the_store_is_open_waits_and_is_received(home, manifest, monkeypatch):
    release = threading.Event()
    real = BenchApp._load_core

    def slow_load(self, store, triage):  # the store opens only when the test says so
        assert release.wait(30)
        return real(self, store, triage)

    monkeypatch.setattr(BenchApp, "_load_core", slow_load)
    app = BenchApp(home, start_services=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await see(pilot, app, "Scan your badge")  # the first screen is up without the store
        assert not app._core_ready.is_set()
        burst(app, "OP-1001\rRMA-2026-000001\r")
        await pilot.pause(0.2)
        assert app.scans_done == 0  # waiting in the dispatcher's queue, not dropped
        release.set()
        await wait_for(pilot, lambda: app.scans_done == 2, "both scans")
        await see(pilot, app, "Received B07-00000001")
    app.store.close()


async def test_a_store_that_cannot_be_opened_ends_the_app_with_its_reason(home, monkeypatch):
    from dockstation.store import StoreError

    def broken(self, store, triage):
        raise StoreError("database schema v99 is newer than this release")

    monkeypatch.setattr(BenchApp, "_load_core", broken)
    app = BenchApp(home, start_services=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.return_code == 1, "the app to end")
    assert app.startup_error == (f"cannot open the bench database in {home}: "
                                 "database schema v99 is newer than this release")


async def test_a_bad_policy_file_found_after_the_first_screen_ends_the_app_with_its_reason(home):
    (home / "config" / "policy.toml").write_text("this is = not [ toml\n")
    app = BenchApp(home, start_services=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.return_code == 1, "the app to end")
    assert app.startup_error.startswith("configuration refused: ") and "policy.toml" in app.startup_error


def test_the_idle_gc_shortens_the_switch_interval_while_it_runs_and_gives_it_back():
    """startup.IdleGC: a worker thread holding the GIL gives it back to the event loop within
    SWITCH_S, not Python's 5 ms (a scan's commit releases the GIL for its fsync)."""
    import gc
    import sys

    from dockstation.tui.startup import IdleGC

    before = sys.getswitchinterval()
    idle = IdleGC()
    idle.start()
    try:
        assert sys.getswitchinterval() == IdleGC.SWITCH_S < before
    finally:
        idle.stop()
        gc.unfreeze()
    assert sys.getswitchinterval() == before and gc.isenabled()
