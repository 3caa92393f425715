"""Store migration v4 (the lead screen's indexes): an older bench database opens, keeps its rows,
gains the indexes, and its lead screen figures are those of a fresh database."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import UTC

from bench_seed import LANES, NOW, seed
from store_helpers import rewind_schema

from dockstation.kpis.bench import LeadCache, lead_snapshot
from dockstation.kpis.config import KpisConfig
from dockstation.store import LATEST, Store

V4 = ("ix_unit_open_lane_due", "ix_event_kind_at_op", "ix_event_disposal")


def indexes(path) -> dict[str, str]:
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"))
    finally:
        conn.close()


def figures(store) -> dict:
    d = dataclasses.asdict(lead_snapshot(store, KpisConfig(), now=NOW, lane_sla=LANES, tz=UTC, cache=LeadCache()))
    d.pop("elapsed_ms")
    return d


def test_a_v3_bench_database_gains_the_lead_indexes(tmp_path):
    path = tmp_path / "bench.sqlite3"
    store = Store(path)
    assert LATEST >= 4 and set(V4) <= set(indexes(path))  # a new database has them from the start
    seed(store)
    expected = figures(store)
    store.close()
    rewind_schema(path, 3, V4)  # make it what release v3 left behind

    store = Store(path)
    try:
        assert store.schema_version() == LATEST
        found = indexes(path)
        assert set(V4) <= set(found)
        # the partial index's WHERE is the lead query's hold test, character for character
        assert found["ix_event_disposal"].endswith(
            "WHERE kind = 'unit_disposed' AND instr(payload, '\"path\":\"quarantine\"') = 0")
        assert figures(store) == expected
    finally:
        store.close()


def test_a_v1_bench_database_migrates_through_v4(tmp_path):
    path = tmp_path / "bench.sqlite3"
    Store(path).close()
    rewind_schema(path, 1, (*V4, "ix_unit_queue", "ix_unit_open_due"))
    store = Store(path)
    try:
        assert store.schema_version() == LATEST
        assert {*V4, "ix_unit_queue", "ix_unit_open_due"} <= set(indexes(path))
        seed(store)
        assert figures(store)["open_units"] == 7
    finally:
        store.close()
