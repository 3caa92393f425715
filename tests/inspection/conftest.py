"""Fixtures for inspection tests: units of every default category, received and ready to inspect."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest

from dockstation.config import Operator
from dockstation.inspection import Checklists, load_checklists
from dockstation.models import Rma, RmaLine
from dockstation.receiving import Bench, receive_line
from dockstation.scan import ScanEvent
from dockstation.store import Store
from dockstation.types import utcnow
from inspection_support import CATEGORIES


@pytest.fixture
def checklists(home, bench: Bench) -> Checklists:
    return load_checklists(home, bench.codes)


@pytest.fixture
def grader(bench: Bench) -> Operator:
    op = bench.operators.by_badge("2001")
    assert op is not None and op.role == "grader"
    return op


@pytest.fixture
def receive(store: Store, bench: Bench) -> Callable[..., str]:
    """Receive one unit of `category` (a fresh RMA each time) and return its LPN."""
    counter = iter(range(1, 10_000))

    def make(category: str, **line: object) -> str:
        n = next(counter)
        rma_id = f"RMA-INSP-{n:05d}"
        now = utcnow()
        fields = {**CATEGORIES.get(category, {}), **line}
        with store.write() as s:
            s.add(Rma(rma_id=rma_id, order_id=f"O-{n}", created_at=now - timedelta(days=2),
                      expires_at=now + timedelta(days=30), status="open", updated_at=now))
            s.add(RmaLine(rma_id=rma_id, line_no=1, sku=f"SKU-{category}", description=f"A {category} item",
                          category=category, unit_price=Decimal("120.00"), **fields))
        clerk = bench.operators.by_badge("1001")
        out = receive_line(store, bench, clerk, rma_id, 1, ScanEvent(rma_id, "test", None, now))
        assert out.status == "received", out.message
        return out.unit.lpn

    return make
