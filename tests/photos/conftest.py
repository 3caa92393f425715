from __future__ import annotations

import pytest
from photo_support import SnapshotCamera, write_checklist

from dockstation.config import load_bench_config
from dockstation.inspection import load_checklists
from dockstation.receiving import Bench


@pytest.fixture
def gadgets(home):
    write_checklist(home)
    return home


@pytest.fixture
def checklists(gadgets, bench: Bench):
    return load_checklists(gadgets, bench.codes)


@pytest.fixture
def grader(bench):
    return bench.operators.by_badge("2001")


@pytest.fixture
def lead(bench):
    return bench.operators.by_badge("9001")


@pytest.fixture
def camera():
    cam = SnapshotCamera()
    yield cam
    cam.close()


@pytest.fixture
def photos_config(home):
    return load_bench_config(home).station.photos
