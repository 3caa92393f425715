"""The bench store: pragmas, UTC times, migrations, gap-free events."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import select
from store_helpers import rewind_schema

from dockstation import events
from dockstation.models import Event, Rma, ScanException
from dockstation.store import LATEST, Store, StoreError
from dockstation.types import utcnow


def test_every_connection_has_wal_full_sync_and_foreign_keys(store):
    for engine in (store.engine, store.read_engine):
        with engine.connect() as conn:
            pragma = lambda name: conn.exec_driver_sql(f"PRAGMA {name}").scalar_one()  # noqa: E731
            assert pragma("journal_mode") == "wal"
            assert pragma("synchronous") == 2  # FULL
            assert pragma("foreign_keys") == 1
            assert pragma("busy_timeout") >= 1000


def test_writes_take_the_write_lock_up_front(store):
    # BEGIN IMMEDIATE: while one writer is open, another connection cannot start writing.
    with store.write() as s:
        events.record(s, "B07", "probe")
        other = sqlite3.connect(store.path, timeout=0.05, isolation_level=None)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        other.close()


def test_foreign_keys_are_enforced(store):
    from sqlalchemy.exc import IntegrityError

    from dockstation.models import RmaLine

    with pytest.raises(IntegrityError):
        with store.write() as s:
            s.add(RmaLine(rma_id="RMA-NOPE-1", line_no=1))


def test_times_come_back_utc_aware_whatever_zone_went_in(store):
    eastern = timezone(timedelta(hours=-5))
    created = datetime(2026, 11, 1, 9, 30, tzinfo=eastern)
    with store.write() as s:
        s.add(Rma(rma_id="RMA-TZ-1", created_at=created, expires_at=created + timedelta(days=30),
                  updated_at=utcnow()))
    with store.read() as s:
        rma = s.get(Rma, "RMA-TZ-1")
    assert rma.created_at.utcoffset() == timedelta(0)
    assert rma.created_at == created  # same instant
    assert rma.created_at.hour == 14


def test_a_newer_release_migrates_an_older_database_without_losing_rows(tmp_path):
    path = tmp_path / "bench.sqlite3"
    old = Store(path)
    with old.write() as s:
        s.add(ScanException(kind="unknown_rma", code="RMA-X-1", station_id="B07"))
        events.record(s, "B07", "exception_recorded")
    old.close()
    rewind_schema(path, 1)  # a v1 database: the columns v2 added are not there yet

    new = Store(path)
    assert new.schema_version() == LATEST
    with new.read() as s:
        rows = s.exec(select(ScanException)).all()
        assert [(r.kind, r.code, r.value) for r in rows] == [("unknown_rma", "RMA-X-1", None)]
        assert len(s.exec(select(Event)).all()) == 1
    new.close()


def test_a_database_from_a_newer_release_is_refused(tmp_path):
    path = tmp_path / "bench.sqlite3"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={LATEST + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this release"):
        Store(path)


def test_counter_and_seq_survive_reopen(tmp_path):
    path = tmp_path / "bench.sqlite3"
    s1 = Store(path)
    with s1.write() as s:
        assert events.bump(s, "lpn:B07") == 1
        events.record(s, "B07", "a")
    s1.close()
    s2 = Store(path)
    with s2.write() as s:
        assert events.bump(s, "lpn:B07") == 2
        assert events.record(s, "B07", "b").seq == 2
    s2.close()


def test_migrating_from_v1_creates_the_later_indexes(tmp_path):
    path = tmp_path / "bench.sqlite3"
    Store(path).close()
    rewind_schema(path, 1, ("ix_unit_flagged_sku", "ix_rma_order_id", "ix_unit_queue", "ix_unit_open_due"))
    Store(path).close()
    conn = sqlite3.connect(path)
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    conn.close()
    assert {"ix_unit_flagged_sku", "ix_rma_order_id", "ix_unit_queue", "ix_unit_open_due"} <= names


def test_migrating_from_v11_adds_what_age_triggers_need(tmp_path):
    from datetime import UTC, datetime, timedelta

    from dockstation.policy import load_policy
    from dockstation.policy.age_config import AgeTrigger
    from dockstation.policy.triggers import run_pass

    path = tmp_path / "bench.sqlite3"
    Store(path).close()
    rewind_schema(path, 11)
    store = Store(path)
    try:
        assert store.schema_version() == LATEST
        with store.read() as s:
            names = {r[0] for r in s.connection().exec_driver_sql("SELECT name FROM sqlite_master WHERE type='index'")}
            cols = {r[1] for r in s.connection().exec_driver_sql("PRAGMA table_info(unit)")}
        assert {"ix_unit_open_received", "ix_unit_open_inspected", "ix_unit_open_updated",
                "ix_approval_request_open", "ix_age_firing_unit"} <= names
        assert {"age_path", "age_trigger"} <= cols
        base = load_policy(None)
        # every query of a pass runs on the migrated file (the indexes it names exist)
        for state in ("received", "graded", "awaiting_approval", "held"):
            p = base.model_copy(update={"age_triggers": [AgeTrigger(id=state, state=state, after_days=1,
                                                                    action="escalate", reason="r")]})
            now = datetime(2026, 11, 2, tzinfo=UTC)
            assert run_pass(store, "B07", p, now=now).fired == []
            assert run_pass(store, "B07", p, now=now + timedelta(minutes=1)).fired == []  # incremental
    finally:
        store.close()
