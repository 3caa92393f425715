"""One input, one transaction (issue 13's fast path, bench_flow.py): CMD:ALLPASS on the unit in
hand opens and all-passes its inspection in one commit; a use case that grades the unit returns
the policy's proposal made in that commit; a parcel scan commits once; events written as plain
SQL are stored as the ORM stored them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from inspection_support import IMEI
from sqlalchemy import event
from sqlmodel import select

from dockstation import events
from dockstation import inspection as ins
from dockstation.models import Event, Inspection, Unit
from dockstation.policy import load_policy
from dockstation.policy.dispose import propose
from dockstation.receiving import handle_scan
from dockstation.scan import ScanEvent, classify
from dockstation.store import Store
from dockstation.types import utcnow


def kinds(store: Store, lpn: str) -> list[str]:
    with store.read() as s:
        return [e.kind for e in s.exec(select(Event).where(Event.lpn == lpn).order_by(Event.seq))]


@pytest.fixture
def commits(store: Store) -> list[int]:
    """One entry per commit of the store's write engine."""
    seen: list[int] = []
    event.listen(store.engine, "commit", lambda conn: seen.append(1))
    return seen


@pytest.fixture
def transactions(store: Store) -> list[str]:
    """One entry per transaction begun, read or write: the BEGINs SQLite runs, so a Session's and
    a plain transaction's (Store.plain_write, the parcel scan) count alike."""
    seen: list[str] = []
    for engine, kind in ((store.engine, "write"), (store.read_engine, "read")):
        def traced(conn, _record, kind=kind):
            conn.set_trace_callback(lambda sql: seen.append(kind) if sql.startswith("BEGIN") else None)

        event.listen(engine, "connect", traced)
        engine.dispose()  # connections from now on are traced
    return seen


def test_all_pass_unit_opens_and_all_passes_in_one_commit(store, bench, grader, checklists, receive, commits):
    lpn = receive("phones")
    before = kinds(store, lpn)
    commits.clear()
    view = ins.all_pass_unit(store, bench, grader, lpn, checklists)
    assert len(commits) == 1
    assert view.status == "open" and view.all_pass and view.step is not None and view.step.value == "imei"
    added = kinds(store, lpn)[len(before):]
    assert added[0] == "inspection_started" and added[-1] == "inspection_all_pass"
    assert set(added[1:-1]) == {"inspection_answered"} and len(added) - 2 == len(view.answers)
    assert view.proposal is None  # not graded: it waits for the IMEI
    view = ins.answer_scan(store, bench, grader, view.inspection_id, ins.Scanned(IMEI), checklists)
    assert view.status == "done" and view.grade == "A" and view.proposal is None  # no policy given


def test_all_pass_unit_is_all_or_nothing(store, bench, grader, checklists, receive, monkeypatch):
    lpn = receive("toys")
    before = kinds(store, lpn)
    real, calls = events.record, []

    def failing(*args, **kwargs):
        calls.append(args[2])
        if len(calls) == 3:  # after inspection_started and one answer
            raise RuntimeError("power cut")
        return real(*args, **kwargs)

    monkeypatch.setattr(events, "record", failing)
    with pytest.raises(RuntimeError):
        ins.all_pass_unit(store, bench, grader, lpn, checklists)
    monkeypatch.setattr(events, "record", real)
    assert calls[:2] == ["inspection_started", "inspection_answered"]
    with store.read() as s:
        assert s.get(Unit, lpn).state == "received"
        assert s.exec(select(Inspection).where(Inspection.lpn == lpn)).all() == []
    assert kinds(store, lpn) == before


def test_all_pass_unit_resumes_an_open_inspection(store, bench, grader, checklists, receive):
    lpn = receive("phones")
    opened = ins.open_inspection(store, bench, grader, lpn, checklists)
    view = ins.all_pass_unit(store, bench, grader, lpn, checklists)
    assert view.inspection_id == opened.inspection_id and view.all_pass
    assert kinds(store, lpn).count("inspection_started") == 1


def test_the_grading_commit_carries_the_proposal_the_screen_would_read(home, store, bench, grader, checklists,
                                                                       receive, commits):
    policy = load_policy(home)
    lpn = receive("phones")
    view = ins.all_pass_unit(store, bench, grader, lpn, checklists, policy=policy)
    assert view.proposal is None
    commits.clear()
    view = ins.answer_scan(store, bench, grader, view.inspection_id, ins.Scanned(IMEI), checklists, policy=policy)
    assert len(commits) == 1 and view.status == "done"
    made, read = view.proposal, propose(store, bench, lpn, policy=policy)
    assert made is not None and made.lpn == lpn and made.state == "graded"
    assert made.decision == read.decision and made.refund == read.refund and made.approval == read.approval
    assert made.options == read.options
    assert made.facts.grade == "A" and made.facts.answers == read.facts.answers
    assert made.facts.reason_code == read.facts.reason_code == "defective"
    assert made.facts.days_since_purchase == read.facts.days_since_purchase == 2


def test_a_parcel_scan_is_one_transaction(store, bench, grader, transactions):
    from dockstation.models import Rma, RmaLine

    now = utcnow()
    with store.write() as s:
        s.add(Rma(rma_id="RMA-ONE-1", order_id="O-1", created_at=now, expires_at=now.replace(year=now.year + 1),
                  status="open", updated_at=now))
        s.add(RmaLine(rma_id="RMA-ONE-1", line_no=1, sku="S", description="d", category="toys",
                      unit_price=Decimal("10.00")))
    transactions.clear()
    out = handle_scan(store, bench, grader, ScanEvent("RMA-ONE-1", "test", None, now),
                      classify("RMA-ONE-1", bench.codes.patterns))
    assert out.status == "received" and transactions == ["write"]  # the look-up and the receipt
    transactions.clear()
    again = handle_scan(store, bench, grader, ScanEvent("RMA-ONE-1", "test", None, now),
                        classify("RMA-ONE-1", bench.codes.patterns))
    assert again.exception_kind == "duplicate" and transactions == ["write"]  # the exception, with its event


def test_an_event_is_stored_as_the_orm_stores_it(store):
    at = datetime(2026, 12, 3, 22, 31, 9, 803402, tzinfo=UTC)
    payload = {"b": Decimal("12.50"), "a": [1, "x"], "when": at, "name": "Zoë"}
    with store.write() as s:
        s.add(Event(station_id="B07", seq=1, kind="by_hand", at=at))  # an Event added, not yet flushed
        first = events.record(s, "B07", "probe", operator="2001", lpn="B07-00000001", rma_id="RMA-1",
                              payload=payload, at=at)
        second = events.record(s, "B07", "probe2")
    assert (first.seq, second.seq) == (2, 3)  # the hand-added row counted: gap-free
    with store.read() as s:
        row = s.get(Event, ("B07", 2))
        raw = s.connection().exec_driver_sql("SELECT at, payload FROM event WHERE seq = 2").one()
    assert row.at == at and row.operator == "2001" and row.lpn == "B07-00000001" and row.rma_id == "RMA-1"
    assert row.payload == {"a": [1, "x"], "b": "12.50", "name": "Zoë", "when": "2026-12-03T22:31:09.803402+00:00"}
    assert raw == ("2026-12-03 22:31:09.803402",
                   '{"a":[1,"x"],"b":"12.50","name":"Zoë","when":"2026-12-03T22:31:09.803402+00:00"}')
