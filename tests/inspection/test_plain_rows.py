"""Rows the fast path writes as plain SQL (dockstation/rows.py: the unit, the inspection, the
decision, the parcel) are stored byte for byte as the ORM stores the same values: each row is
read raw, then the ORM rewrites every column of it from the values it loads, and the raw row must
not change (rolled back). The checker itself is shown to catch a row in another format."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from inspection_support import IMEI
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import Session, select

from dockstation import inspection as ins
from dockstation import rows
from dockstation.models import Decision, Inspection, Parcel, Unit
from dockstation.policy import load_policy
from dockstation.policy.awaiting import settle
from dockstation.store import Store


def stored_and_orm(store: Store, model: Any, key: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """The row as stored, and as the ORM writes the values it reads of it (every column)."""
    table = model.__table__
    (pk,) = [c.name for c in table.primary_key.columns]
    names = [c.name for c in table.columns]
    sql = f"SELECT {', '.join(names)} FROM {table.name} WHERE {pk} = ?"
    with Session(store.engine) as s:
        conn = s.connection()
        stored = tuple(conn.exec_driver_sql(sql, (key,)).one())
        obj = s.get(model, key)
        for name in names:
            if name != pk:
                flag_modified(obj, name)
        s.flush()
        rewritten = tuple(conn.exec_driver_sql(sql, (key,)).one())
        s.rollback()
    return stored, rewritten


def test_the_fast_path_stores_its_rows_as_the_orm_does(home, store, bench, grader, checklists, receive):
    policy = load_policy(home)
    lpn = receive("phones")
    view = ins.all_pass_unit(store, bench, grader, lpn, checklists, policy=policy)
    view = ins.answer_scan(store, bench, grader, view.inspection_id, ins.Scanned(IMEI), checklists, policy=policy)
    assert view.status == "done" and view.proposal is not None
    out = settle(store, bench, grader, lpn, policy=policy)
    assert out.ok
    with store.read() as s:
        unit = s.get(Unit, lpn)
        decision = s.exec(select(Decision).where(Decision.lpn == lpn)).one()
        inspection = s.exec(select(Inspection).where(Inspection.lpn == lpn)).one()
        parcel = s.get(Parcel, unit.rma_id)
    assert unit.state == "disposed" and unit.grade == "A" and unit.refund_amount is not None
    assert inspection.status == "done" and inspection.all_pass and inspection.answers
    assert parcel is not None and parcel.refund_decided_at is not None
    for model, key in ((Unit, lpn), (Inspection, inspection.id), (Decision, decision.id), (Parcel, unit.rma_id)):
        stored, orm = stored_and_orm(store, model, key)
        assert stored == orm, model.__name__


def test_a_cancelled_inspection_and_a_row_inserted_with_defaults_are_stored_as_the_orm_does(
        store, bench, grader, checklists, receive):
    lpn = receive("toys")
    view = ins.open_inspection(store, bench, grader, lpn, checklists)
    view = ins.set_note(store, bench, grader, view.inspection_id, "Scuffed <b>box</b>", checklists)
    ins.cancel(store, bench, grader, view.inspection_id, checklists)
    for model, key in ((Unit, lpn), (Inspection, view.inspection_id)):
        stored, orm = stored_and_orm(store, model, key)
        assert stored == orm, model.__name__
    # rows.insert fills what is not given with the model's defaults, as constructing it does
    at = datetime(2026, 12, 3, 22, 31, 9, 803402, tzinfo=UTC)
    given = dict(lpn=lpn, path="restock", rule_id="r1", recovery_value=Decimal("12.50"), decided_at=at)
    with store.write() as s:
        plain = rows.insert(s, Decision, **given)
        s.add(Decision(**given))
    with store.read() as s:
        raw = s.connection().exec_driver_sql("SELECT * FROM decision WHERE lpn = ? ORDER BY id", (lpn,)).all()
    assert plain.id == raw[0][0] and raw[0][1:] == raw[1][1:]


@pytest.mark.parametrize("column, value", [("updated_at", "2026-12-03T22:31:09"),
                                           ("risk_flags", '[ "a" ]'), ("sla_due_at", "2026-12-03 22:31:09")])
def test_the_check_sees_a_row_stored_another_way(store, receive, column, value):  # a T, spaces, no microseconds
    lpn = receive("toys")
    with store.write() as s:
        s.connection().exec_driver_sql(f"UPDATE unit SET {column} = ? WHERE lpn = ?", (value, lpn))
    stored, orm = stored_and_orm(store, Unit, lpn)
    assert stored != orm


def test_a_failing_plain_statement_comes_wrapped_as_sqlalchemy_wraps_it_and_rolls_back(store, receive):
    lpn = receive("toys")
    with pytest.raises(IntegrityError) as failed:  # what store_failures.explain and the screens expect
        with store.write() as s:
            unit = rows.get(s, Unit, lpn)
            unit.state = "graded"
            rows.save(s, unit)
            rows.execute(s, "INSERT INTO unit (lpn, line_no, station_id) VALUES (?, 0, 'B07')", (lpn,))
    assert isinstance(failed.value.orig, sqlite3.IntegrityError) and lpn not in str(failed.value)  # values hidden
    with store.read() as s:
        assert s.get(Unit, lpn).state == "received"  # the whole transaction rolled back
