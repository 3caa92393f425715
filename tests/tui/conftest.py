"""Fixtures for the TUI tests: a BenchApp over the shared `home` (helpers in tui_helpers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockstation.receiving.core import default_triage
from dockstation.tui.app import BenchApp


@pytest.fixture
def make_app(home: Path):
    apps: list[BenchApp] = []

    def make(**kw) -> BenchApp:
        kw.setdefault("triage", default_triage)
        kw.setdefault("start_services", False)  # printer/sync/serial threads: their own tests
        app = BenchApp(home, **kw)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.store.close()
