from __future__ import annotations

from datetime import UTC, datetime

import pytest

from labels.model import Label


@pytest.fixture
def when() -> datetime:
    return datetime(2026, 11, 23, 18, 16, 5, tzinfo=UTC)


@pytest.fixture
def label(when: datetime) -> Label:
    return Label(
        lpn="B07-00012345", path="open_box", grade="B", lane="express", destination="Aisle 12 / Bay 4",
        sku="SKU-4711-BLK-XL", description="Wireless headphones, black, with charging case",
        station_id="B07", date=when, rma_id="RMA-2026-000123", reprint=0,
    )
