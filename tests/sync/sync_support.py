"""Helpers for the sync tests: a bench that syncs, and comparing its events with HQ's."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from dockstation import events
from dockstation.config import StationConfig, load_layered
from dockstation.models import Event
from dockstation.store import Store
from sync.client import SyncClient
from sync.hq.db import HQDatabase, HqEvent


@dataclass
class BenchSide:
    home: Path
    store: Store
    station_id: str

    def station(self) -> StationConfig:
        return load_layered("station.toml", StationConfig, self.home, required=True)

    def client(self, **kw: Any) -> SyncClient:
        return SyncClient(self.store, self.home, self.station(), **kw)

    def set_hq(self, url: str, token: str) -> None:
        (self.home / "config" / "station.toml").write_text(
            f'station_id = "{self.station_id}"\n[hq]\nurl = "{url}"\ntoken = "{token}"\ninterval_seconds = 1\n')

    def record(self, n: int, *, at: datetime | None = None) -> None:
        """n events like a day at the bench: each unit received, inspected, graded, disposed."""
        steps = ("unit_received", "inspection_started", "unit_graded", "unit_disposed")
        with self.store.write() as s:
            first = events.next_seq(s, self.station_id)
            for i in range(first, first + n):
                unit, step = divmod(i - 1, len(steps))
                kind = steps[step]
                payload: dict[str, Any] = {
                    "unit_received": {"line_no": 1, "sku": "PHN-1", "category": "phones", "lane": "standard",
                                      "sla_hours": 24, "unit_price": "699.00", "currency": "USD"},
                    "inspection_started": {"inspection_id": unit, "checklist": "phones"},
                    "unit_graded": {"grade": "B", "flags": [], "category": "phones"},
                    "unit_disposed": {"kind": "policy", "path": "open_box", "rule_id": "r1",
                                      "recovery_value": "480.00", "grade": "B"},
                }[kind]
                events.record(s, self.station_id, kind, operator="1001", lpn=f"{self.station_id}-{unit + 1:08d}",
                              rma_id="RMA-2026-000001", payload=payload, at=at)


def event_key(seq: int, kind: str, at: datetime, operator: str | None, lpn: str | None,
              rma_id: str | None, payload: Any) -> tuple[Any, ...]:
    from dockstation.types import as_utc

    return (seq, kind, as_utc(at).isoformat(), operator, lpn, rma_id, json.dumps(payload, sort_keys=True))


def bench_events(bench: BenchSide) -> list[tuple[Any, ...]]:
    with bench.store.read() as s:
        rows = s.exec(select(Event).where(Event.station_id == bench.station_id).order_by(Event.seq)).scalars().all()
        return [event_key(e.seq, e.kind, e.at, e.operator, e.lpn, e.rma_id, e.payload) for e in rows]


def hq_events(db: HQDatabase, station_id: str) -> list[tuple[Any, ...]]:
    t = HqEvent.__table__
    with db.read() as conn:
        rows = conn.execute(select(t).where(t.c.station_id == station_id).order_by(t.c.seq)).all()
    return [event_key(r.seq, r.kind, r.at, r.operator, r.lpn, r.rma_id, r.payload) for r in rows]


def assert_hq_holds_exactly(db: HQDatabase, bench: BenchSide) -> None:
    """HQ holds the bench's events, each once, with the bench's content: nothing lost, nothing doubled."""
    theirs, ours = hq_events(db, bench.station_id), bench_events(bench)
    assert len(theirs) == len(set(theirs))
    assert theirs == ours


