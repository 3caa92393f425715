"""Shared fixtures: a bench home with config, its store, and a small hand-made manifest."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockstation.config import load_bench_config
from dockstation.receiving import Bench
from dockstation.store import Store
from store_helpers import add_rma  # noqa: F401  (tests import it from here too)

OPERATORS = """
[[operators]]
badge = "1001"
name = "Casey Clerk"
role = "clerk"

[[operators]]
badge = "2001"
name = "Gale Grader"
role = "grader"

[[operators]]
badge = "9001"
name = "Lee Lead"
role = "lead"
"""


def make_home(path: Path, station_id: str = "B07", extra_station: str = "") -> Path:
    (path / "config").mkdir(parents=True, exist_ok=True)
    (path / "config" / "station.toml").write_text(f'station_id = "{station_id}"\n{extra_station}')
    (path / "config" / "operators.toml").write_text(OPERATORS)
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return make_home(tmp_path / "home")


@pytest.fixture
def store(home: Path) -> Store:
    s = Store.in_home(home)
    yield s
    s.close()


@pytest.fixture
def bench(home: Path) -> Bench:
    cfg = load_bench_config(home)
    return Bench(station_id=cfg.station.station_id, codes=cfg.codes, operators=cfg.operators)


@pytest.fixture
def manifest(store: Store) -> Store:
    add_rma(store, "RMA-2026-000001", [dict(sku="PHN-1", gtin="04006381333931", description="Phone X 128GB",
                                            category="phones", expected_serial="356938035643809",
                                            reason_code="defective", unit_price="699.00")],
            tracking="1Z999AA10123456784")
    add_rma(store, "RMA-2026-000002", [
        dict(sku="TSH-M", gtin="00012345678905", description="T-shirt M", category="apparel", reason_code="wrong_size"),
        dict(sku="SHO-42", gtin="04012345678901", description="Runner 42", category="footwear", reason_code="wrong_size"),
    ])
    add_rma(store, "RMA-2026-000003", [dict(sku="TOY-1", description="Robot", category="toys")], status="cancelled")
    add_rma(store, "RMA-2026-000004", [dict(sku="HOM-1", description="Lamp", category="home")], expires_in_days=-2)
    return store
