"""Store v13 (issue 20): the trigger pass's indexes carry the category and lane (and the changed
units' index the LPN); a bench database that went through v12 gets them on opening. Store v14:
the trigger cursors' table and the deferred firings' partial indexes (the pass's query uses them)."""

from __future__ import annotations

import sqlite3

from dockstation.policy.triggers import _DEFERRED as DEFERRED
from dockstation.store import LATEST, Store

OLD_V12 = {
    "ix_unit_open_received": "unit (state, received_at, lpn)",
    "ix_unit_open_inspected": "unit (state, inspected_at, lpn)",
    "ix_unit_open_updated": "unit (updated_at)",
}
NEW = {
    "ix_unit_open_received": ["state", "received_at", "lpn", "category", "lane"],
    "ix_unit_open_inspected": ["state", "inspected_at", "lpn", "category", "lane"],
    "ix_unit_open_updated": ["updated_at", "lpn", "state"],
}


def columns(path) -> dict[str, list[str]]:
    conn = sqlite3.connect(path)
    try:
        return {name: [r[2] for r in conn.execute(f"PRAGMA index_info({name})")] for name in NEW}
    finally:
        conn.close()


def test_a_v12_database_gets_the_wider_trigger_indexes(tmp_path):
    path = tmp_path / "bench.sqlite3"
    Store(path).close()
    assert columns(path) == NEW  # a new database: made at LATEST
    conn = sqlite3.connect(path)
    for name, on in OLD_V12.items():  # as v12 made them
        conn.execute(f"DROP INDEX {name}")
        conn.execute(f"CREATE INDEX {name} ON {on} WHERE state NOT IN ('disposed', 'voided')")
    conn.execute("PRAGMA user_version=12")
    conn.commit()
    conn.close()
    assert columns(path)["ix_unit_open_updated"] == ["updated_at"]
    store = Store(path)
    try:
        assert store.schema_version() == LATEST >= 13
    finally:
        store.close()
    assert columns(path) == NEW


V14 = {"ix_age_firing_deferred": ["lpn", "trigger_id", "due_at", "waited_hours"], "ix_unit_inspecting": ["lpn"],
       "ix_age_firing_stamp": ["lpn", "fired_at", "action"]}


def test_a_v13_database_gets_the_trigger_cursors_and_the_deferred_indexes(tmp_path):
    path = tmp_path / "bench.sqlite3"
    Store(path).close()
    conn = sqlite3.connect(path)
    for name in V14:  # as v13 had it
        conn.execute(f"DROP INDEX {name}")
    conn.execute("DROP TABLE trigger_cursor")
    conn.execute("PRAGMA user_version=13")
    conn.commit()
    conn.close()
    store = Store(path)
    try:
        assert store.schema_version() == LATEST >= 14
        with store.write() as s:  # the table is there and takes a cursor
            s.connection().exec_driver_sql("INSERT INTO trigger_cursor (trigger_id, cursor) VALUES ('t', '{}')")
    finally:
        store.close()
    conn = sqlite3.connect(path)
    try:
        assert {name: [r[2] for r in conn.execute(f"PRAGMA index_info({name})")] for name in V14} == V14
        plan = " ".join(str(r) for r in conn.execute("EXPLAIN QUERY PLAN " + DEFERRED))
        assert "ix_age_firing_deferred" in plan and "ix_unit_inspecting" in plan
    finally:
        conn.close()
