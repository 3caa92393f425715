"""A parcel scan runs on a plain write transaction (Store.plain_write, rows.Tx: no Session), and
stores what the Session path and the models store, byte for byte: the unit, the line's count,
the events, the counter, the receipt label's job, the exception. And the transaction keeps the
store's promises: all or nothing, errors as SQLAlchemy raises them."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import select
from store_helpers import add_rma

from dockstation import events, rows
from dockstation.models import Event, ScanException, Unit
from dockstation.policy import load_policy, make_triage
from dockstation.receiving import core, handle_scan, receive_line, sign_in
from dockstation.scan import ScanEvent, classify
from dockstation.store import Store
from dockstation.tui.inline_store import is_busy
from labels import queue

NOW = datetime(2026, 12, 4, 9, 30, 15, 123456, tzinfo=UTC)
LINE = dict(sku="PHN-9", gtin="04006381333931", description="Phone 9 — 256 GB", category="phones",
            reason_code="defective", unit_price="699.10")


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in (core, events, queue):
        monkeypatch.setattr(module, "utcnow", lambda: NOW)


@pytest.fixture
def labelled(bench, home):
    """The bench with the policy's triage (its history counts run) and receipt labels on."""
    return dataclasses.replace(bench, triage=make_triage(load_policy(home)), receipt_label=True)


def quoted(store: Store, sql: str, *args: object) -> list[tuple[str, ...]]:
    """Rows as SQLite's own literals (`quote`): the stored type and bytes, not Python's view of them."""
    conn = sqlite3.connect(store.path)
    try:
        cols = [r[1] for r in conn.execute(f"PRAGMA table_info({sql.split()[3]})")]
        q = ", ".join(f"quote({c})" for c in cols)
        return [tuple(r) for r in conn.execute(sql.replace("*", q, 1), args)]
    finally:
        conn.close()


def twin(text: tuple[str, ...], swaps: dict[str, str]) -> tuple[str, ...]:
    out = []
    for value in text:
        for old, new in swaps.items():
            value = value.replace(old, new)
        out.append(value)
    return tuple(out)


def test_a_receipt_stores_what_the_session_path_stores(store, labelled, frozen):
    add_rma(store, "RMA-P-1", [dict(LINE)])
    add_rma(store, "RMA-P-2", [dict(LINE)])
    op = sign_in(store, labelled, ScanEvent("OP-1001", "test", None, NOW), "1001").operator
    scan = ScanEvent("RMA-P-1", "test", None, NOW)
    plain = handle_scan(store, labelled, op, scan, classify("RMA-P-1", labelled.codes.patterns))
    by_session = receive_line(store, labelled, op, "RMA-P-2", 1, ScanEvent("RMA-P-2", "test", None, NOW))
    assert plain.status == by_session.status == "received"
    a, b = plain.unit.lpn, by_session.unit.lpn
    swaps = {b: a, "RMA-P-2": "RMA-P-1"}
    assert dataclasses.replace(by_session.unit, lpn=a, rma_id="RMA-P-1") == plain.unit  # the Outcome too
    unit = quoted(store, "SELECT * FROM unit WHERE lpn = ?", a)
    assert unit and unit == [twin(r, swaps) for r in quoted(store, "SELECT * FROM unit WHERE lpn = ?", b)]
    line = quoted(store, "SELECT * FROM rma_line WHERE rma_id = ?", "RMA-P-1")
    assert "1" in line[0] and line == [twin(r, swaps) for r in quoted(store, "SELECT * FROM rma_line WHERE rma_id = ?",
                                                                       "RMA-P-2")]
    # the unit's events (unit_received, label_queued), all but their seq; the label's job, all but its id
    ev = [r[:1] + r[2:] for r in quoted(store, "SELECT * FROM event WHERE lpn = ? ORDER BY seq", a)]
    job_a, job_b = (quoted(store, "SELECT * FROM print_job WHERE lpn = ?", lpn)[0] for lpn in (a, b))
    swaps[f'"job_id":{job_b[0]}'] = f'"job_id":{job_a[0]}'
    assert [e[1] for e in ev] == ["'unit_received'", "'label_queued'"]
    assert ev == [twin(r[:1] + r[2:], swaps)
                  for r in quoted(store, "SELECT * FROM event WHERE lpn = ? ORDER BY seq", b)]
    assert job_a[1:] == twin(job_b[1:], swaps)
    assert quoted(store, "SELECT * FROM counter WHERE name = ?", "lpn:B07") == [("'lpn:B07'", "2")]


def test_a_receipt_and_an_exception_store_what_the_models_store(store, bench, frozen):
    add_rma(store, "RMA-P-1", [dict(LINE)])
    op = sign_in(store, bench, ScanEvent("OP-1001", "test", None, NOW), "1001").operator
    out = handle_scan(store, bench, op, ScanEvent("RMA-P-1", "test", None, NOW),
                      classify("RMA-P-1", bench.codes.patterns))
    bad = handle_scan(store, bench, op, ScanEvent("RMA-2026-999999", "test", None, NOW),
                      classify("RMA-2026-999999", bench.codes.patterns))
    assert out.status == "received" and bad.exception_kind == "unknown_rma"
    # The same values through the models, under other keys: every column stored alike.
    with store.read() as s:
        unit = s.get(Unit, out.unit.lpn)
        exc = s.get(ScanException, bad.exception_id)
        evs = list(s.exec(select(Event).where(Event.kind.in_(["unit_received", "exception_recorded"]))  # type: ignore[attr-defined]
                          .order_by(Event.seq)))
        copies = [Unit(**{**unit.model_dump(), "lpn": "B07-99999999"}),
                  ScanException(**{**exc.model_dump(), "id": 999}),
                  *[Event(**{**e.model_dump(), "seq": 900 + e.seq}) for e in evs]]
    with store.write() as s:
        s.add_all(copies)
    assert twin(quoted(store, "SELECT * FROM unit WHERE lpn = ?", "B07-99999999")[0], {"B07-99999999": out.unit.lpn}) \
        == quoted(store, "SELECT * FROM unit WHERE lpn = ?", out.unit.lpn)[0]
    assert quoted(store, "SELECT * FROM scan_exception WHERE id = ?", 999)[0][1:] \
        == quoted(store, "SELECT * FROM scan_exception WHERE id = ?", bad.exception_id)[0][1:]
    for e in evs:
        mine, model = (quoted(store, "SELECT * FROM event WHERE seq = ?", seq)[0] for seq in (e.seq, 900 + e.seq))
        assert mine[:1] + mine[2:] == model[:1] + model[2:]


def test_a_plain_transaction_is_all_or_nothing_and_raises_as_sqlalchemy_does(store):
    count = "SELECT count(*) FROM counter"
    with pytest.raises(RuntimeError):
        with store.plain_write() as tx:
            events.bump(tx, "doomed")
            raise RuntimeError("power cut")
    with pytest.raises(DBAPIError) as err:  # a failing statement: wrapped, its values hidden
        with store.plain_write() as tx:
            events.bump(tx, "doomed too")
            rows.execute(tx, "INSERT INTO counter (name, value) VALUES (?, ?)", ("doomed too", 1))
    assert isinstance(err.value.orig, sqlite3.IntegrityError) and "doomed" not in str(err.value)
    with store.plain_write() as tx:  # the connection went back to the pool usable
        assert rows.first(tx, count)[0] == 0
        events.bump(tx, "kept")
    with store.read() as s:
        assert s.connection().exec_driver_sql(count).scalar_one() == 1


def test_a_plain_transaction_on_a_locked_database_fails_busy_before_writing(store):
    other = sqlite3.connect(store.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    pooled = store.engine.raw_connection()
    pooled.driver_connection.execute("PRAGMA busy_timeout=0")  # as InlineStore sets it for an inline call
    pooled.close()
    try:
        with pytest.raises(OperationalError) as err:
            with store.plain_write() as tx:
                events.bump(tx, "never")
        assert is_busy(err.value)
    finally:
        other.execute("COMMIT")
        other.close()
        pooled = store.engine.raw_connection()
        pooled.driver_connection.execute("PRAGMA busy_timeout=5000")
        pooled.close()
    with store.read() as s:
        assert s.connection().exec_driver_sql("SELECT count(*) FROM counter").scalar_one() == 0


def test_triage_for_home_applies_a_changed_policy_from_the_next_receipt(store, bench, home, frozen):
    """The rule (policy.config.policy_for_home): a layer file's change, seen by its size or
    modification time, is in force for the next receipt, with no delay; an unchanged policy is
    not loaded again, and its triage is made once."""
    from dockstation.policy import config as pconfig
    from dockstation.policy import triage_for_home

    add_rma(store, "RMA-P-1", [dict(LINE, category="apparel", unit_price="49.99")])
    add_rma(store, "RMA-P-2", [dict(LINE, category="apparel", unit_price="49.99")])
    add_rma(store, "RMA-P-3", [dict(LINE, category="apparel", unit_price="49.99")])
    b = dataclasses.replace(bench, triage=triage_for_home(home))
    op = sign_in(store, b, ScanEvent("OP-1001", "test", None, NOW), "1001").operator

    def receive(rma_id: str) -> str:
        out = handle_scan(store, b, op, ScanEvent(rma_id, "test", None, NOW), classify(rma_id, b.codes.patterns))
        assert out.status == "received"
        return out.unit.lane

    assert receive("RMA-P-1") == "standard"
    before = pconfig._cache[home][1]
    site = home / "config" / "policy.toml"
    site.write_text('[triage]\ndensity = [{ at_least = "0", lane = "bulk" }]\n'
                    '[[rules]]\nid = "all"\npath = "restock"\nreason = "all"\n')
    assert receive("RMA-P-2") == "bulk"  # the very next receipt
    after = pconfig._cache[home][1]
    assert after is not before
    assert receive("RMA-P-3") == "bulk" and pconfig._cache[home][1] is after  # not loaded again
    with store.read() as s:
        assert [u.lane for u in s.exec(select(Unit).order_by(Unit.lpn))] == ["standard", "bulk", "bulk"]


def test_times_written_one_after_another_are_each_stored_as_the_model_stores_them(store):
    """A datetime column's bind remembers the last value (rows.bind_processor): an equal instant
    in another zone is the same text, a naive time is UTC, and any other time is formatted anew."""
    a = datetime(2026, 12, 4, 9, 30, 15, 123456, tzinfo=UTC)
    times = [a, a.astimezone(timezone(timedelta(hours=2))), a.replace(tzinfo=None) + timedelta(hours=2),
             a + timedelta(microseconds=1), a]
    with store.plain_write() as tx:
        seqs = [events.record(tx, "B07", "k", at=t).seq for t in times]
        rows.insert(tx, ScanException, kind="k", code="c", station_id="B07", at=times[2], source="s")
    own = Event.__table__.c.at.type._cached_bind_processor(store.engine.dialect)  # not remembered
    stored = [quoted(store, "SELECT * FROM event WHERE seq = ?", seq)[0][3] for seq in seqs]
    assert stored == [f"'{own(t)}'" for t in times]
    assert stored == ["'2026-12-04 09:30:15.123456'"] * 2 + ["'2026-12-04 11:30:15.123456'",
                                                             "'2026-12-04 09:30:15.123457'", "'2026-12-04 09:30:15.123456'"]
    assert quoted(store, "SELECT * FROM scan_exception")[0][4] == "'2026-12-04 11:30:15.123456'"
