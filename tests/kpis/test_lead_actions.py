"""A lead's actions on the exception queue: each audited in the same transaction, refusals change
nothing, and only a lead may act."""

from __future__ import annotations

import pytest
from sqlmodel import select

from dockstation.kpis.actions import LeadActionError, match_exception, quarantine_exception, void_exception
from dockstation.models import Counter, Event, RmaLine, ScanException, Unit
from dockstation.receiving.core import record_exception

LEAD = "9001"


def op(bench, badge):
    return bench.operators.by_badge(badge)


def new_exception(store, bench, kind="unknown_code", code="???"):
    with store.write() as s:
        return record_exception(s, bench, kind=kind, code=code, operator="1001", source="test").id


def events_after(store, seq):
    with store.read() as s:
        return s.exec(select(Event).where(Event.seq > seq).order_by(Event.seq)).all()


def last_seq(store):
    with store.read() as s:
        return max([e.seq for e in s.exec(select(Event))], default=0)


def test_match_receives_the_line_and_resolves_in_one_transaction(bench, manifest):
    xid = new_exception(manifest, bench, "unknown_tracking", "1Z999AA10000000006")
    seq = last_seq(manifest)
    res = match_exception(manifest, bench, op(bench, LEAD), xid, "RMA-2026-000002", 2)
    assert res.action == "matched" and res.lpn == "B07-00000001"
    with manifest.read() as s:
        unit = s.get(Unit, res.lpn)
        assert (unit.rma_id, unit.line_no, unit.sku, unit.received_by) == ("RMA-2026-000002", 2, "SHO-42", LEAD)
        assert s.get(RmaLine, ("RMA-2026-000002", 2)).received_qty == 1
        exc = s.get(ScanException, xid)
        assert (exc.state, exc.resolved_by, exc.lpn) == ("matched", LEAD, res.lpn) and exc.resolved_at
    evs = events_after(manifest, seq)
    assert [e.kind for e in evs] == ["unit_received", "exception_resolved"]
    assert evs[0].lpn == res.lpn and evs[0].payload["exception_id"] == xid
    assert evs[1].operator == LEAD and evs[1].payload["id"] == xid and evs[1].payload["action"] == "matched"
    assert evs[1].payload["lpn"] == res.lpn
    # the lead's match overrides a cancelled RMA (the clerk's scan could not)
    xid2 = new_exception(manifest, bench, "cancelled", "RMA-2026-000003")
    assert match_exception(manifest, bench, op(bench, LEAD), xid2, "RMA-2026-000003", 1).lpn == "B07-00000002"


def test_refusals_change_nothing(bench, manifest):
    xid = new_exception(manifest, bench)
    seq = last_seq(manifest)
    with pytest.raises(LeadActionError, match="Only a lead"):
        match_exception(manifest, bench, op(bench, "1001"), xid, "RMA-2026-000001", 1)
    with pytest.raises(LeadActionError, match="Only a lead"):
        void_exception(manifest, bench, op(bench, "2001"), xid, "no")
    with pytest.raises(LeadActionError, match="Only a lead"):
        quarantine_exception(manifest, bench, None, xid)
    with pytest.raises(LeadActionError, match="has no line 9"):
        match_exception(manifest, bench, op(bench, LEAD), xid, "RMA-2026-000001", 9)
    with pytest.raises(LeadActionError, match="No exception #999"):
        quarantine_exception(manifest, bench, op(bench, LEAD), 999)
    with pytest.raises(LeadActionError, match="reason is needed"):
        void_exception(manifest, bench, op(bench, LEAD), xid, "   ")
    assert events_after(manifest, seq) == []
    with manifest.read() as s:
        assert s.get(ScanException, xid).state == "open"


def test_a_full_line_is_refused_and_rolls_back_the_lpn(bench, manifest):
    first, second = new_exception(manifest, bench), new_exception(manifest, bench)
    match_exception(manifest, bench, op(bench, LEAD), first, "RMA-2026-000001", 1)
    seq = last_seq(manifest)
    with pytest.raises(LeadActionError, match="already fully received"):
        match_exception(manifest, bench, op(bench, LEAD), second, "RMA-2026-000001", 1)
    assert events_after(manifest, seq) == []
    with manifest.read() as s:
        assert s.get(Counter, "lpn:B07").value == 1 and len(s.exec(select(Unit)).all()) == 1
    with pytest.raises(LeadActionError, match="already matched"):
        quarantine_exception(manifest, bench, op(bench, LEAD), first)


def test_quarantine_and_void_are_audited(bench, manifest):
    q, v = new_exception(manifest, bench), new_exception(manifest, bench)
    seq = last_seq(manifest)
    quarantine_exception(manifest, bench, op(bench, LEAD), q)
    void_exception(manifest, bench, op(bench, LEAD), v, "test label\x1b[31m scanned by mistake")
    evs = events_after(manifest, seq)
    assert [(e.kind, e.payload["id"], e.payload["action"]) for e in evs] == \
        [("exception_resolved", q, "quarantined"), ("exception_resolved", v, "voided")]
    assert evs[1].payload["reason"].startswith("test label") and evs[1].payload["lpn"] is None
    with manifest.read() as s:
        assert s.get(ScanException, q).state == "quarantined"
        assert (s.get(ScanException, v).state, s.get(ScanException, v).resolved_by) == ("voided", LEAD)
