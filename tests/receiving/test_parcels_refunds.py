"""A 3-line RMA with one line missing and one undeclared item: the events, the partial refund,
the export; an empty parcel in one input; a full parcel decided without CMD:DONE."""

from __future__ import annotations

import json
from decimal import Decimal

from sqlmodel import select

from store_helpers import add_rma
from dockstation.export import export
from dockstation.models import Event, Unit
from dockstation.policy import dispose, load_policy
from dockstation.receiving import handle_scan, receive_line, sign_in
from dockstation.receiving.parcels import close_parcel, receive_undeclared
from dockstation.scan import ScanEvent, classify
from dockstation.types import utcnow

POLICY = load_policy(None)


def _op(store, bench, badge="2001"):
    return sign_in(store, bench, ScanEvent(f"OP-{badge}", "t", None, utcnow()), badge).operator


def _ev(code):
    return ScanEvent(code, "t", None, utcnow())


def _three_lines(store):
    add_rma(store, "RMA-3L", [
        dict(sku="HP-1", gtin="04006381333931", description="Headphones", category="headphones",
             reason_code="changed_mind", unit_price="100.00"),
        dict(sku="TS-1", gtin="00012345678905", description="T-shirt", category="apparel",
             reason_code="wrong_size", unit_price="50.00"),
        dict(sku="CAP-1", gtin="04012345678901", description="Cap", category="apparel",
             reason_code="wrong_size", unit_price="30.00"),
    ], tracking="1Z999AA10123456784")


def _grade(store, lpn, grade="A"):
    with store.write() as s:
        u = s.get(Unit, lpn)
        u.state, u.grade = "graded", grade
        s.add(u)


def _kinds(store, rma_id):
    with store.read() as s:
        return [e.kind for e in s.exec(select(Event).where(Event.rma_id == rma_id).order_by(Event.seq))]


def test_three_lines_one_missing_one_undeclared(bench, store, tmp_path):
    _three_lines(store)
    op = _op(store, bench)
    first = handle_scan(store, bench, op, _ev("1Z999AA10123456784"), classify("1Z999AA10123456784", bench.codes.patterns))
    assert first.status == "choose_line"
    a = receive_line(store, bench, op, "RMA-3L", 1, _ev("04006381333931"))
    assert a.progress == (1, 3) and "1 of 3" in a.message
    b = receive_line(store, bench, op, "RMA-3L", 2, _ev("00012345678905"))
    assert b.progress == (2, 3)
    extra = receive_undeclared(store, bench, op, "RMA-3L", "05901234123457", _ev("05901234123457"))
    assert extra.status == "received" and extra.progress == (2, 3)
    assert "undeclared_item" in extra.unit.risk_flags and extra.unit.line_no == 0

    closed = close_parcel(store, bench, op, "RMA-3L", policy=POLICY)
    assert closed.ok and not closed.empty and closed.refund is None  # its units are not disposed yet
    assert [(m["line_no"], m["sku"], m["qty"], m["value"]) for m in closed.missing] == [(3, "CAP-1", 1, "30.00")]
    assert "1 missing" in closed.message

    for lpn in (a.unit.lpn, b.unit.lpn, extra.unit.lpn):
        _grade(store, lpn)
        out = dispose(store, bench, op, lpn, policy=POLICY)
        assert out.ok
    with store.read() as s:
        assert s.get(Unit, extra.unit.lpn).disposition == "quarantine"  # routed by the policy's rule
    kinds = _kinds(store, "RMA-3L")
    assert kinds.count("line_missing") == 1 and kinds.count("parcel_closed") == 1
    assert kinds[-1] == "refund_decided" and kinds.count("refund_decided") == 1
    with store.read() as s:
        decided = s.exec(select(Event).where(Event.kind == "refund_decided")).one().payload
    assert decided["refund"] == "partial" and Decimal(decided["amount"]) == Decimal("150.00")
    assert decided["currency"] == "USD" and "Not in the parcel: CAP-1 x1 (30.00 USD withheld)" in decided["reason"]
    assert "missing-lines" in decided["rules"] and decided["policy_version"] == POLICY.version
    assert [m["sku"] for m in decided["missing_lines"]] == ["CAP-1"]
    undeclared = [u for u in decided["units"] if u["undeclared"]]
    assert len(undeclared) == 1 and undeclared[0]["refund"] == "none" and undeclared[0]["amount"] == "0.00"
    assert sorted(decided["lpns"]) == sorted([a.unit.lpn, b.unit.lpn, extra.unit.lpn])

    # the export: the units (the undeclared one flagged) and the events that say it all
    out = tmp_path / "units.json"
    with out.open("w") as fh:
        export(store, "units", "json", fh)
    units = {u["lpn"]: u for u in json.loads(out.read_text())}
    assert "undeclared_item" in units[extra.unit.lpn]["risk_flags"] and units[extra.unit.lpn]["line_no"] == 0
    assert units[a.unit.lpn]["refund"] == "full"
    ev = tmp_path / "events.json"
    with ev.open("w") as fh:
        export(store, "events", "json", fh)
    kinds = [e["kind"] for e in json.loads(ev.read_text()) if e["rma_id"] == "RMA-3L"]
    assert {"line_missing", "parcel_closed", "refund_decided"} <= set(kinds)


def test_an_empty_parcel_in_one_input(bench, store):
    _three_lines(store)
    op = _op(store, bench)
    closed = close_parcel(store, bench, op, "RMA-3L", policy=POLICY)  # the one input: CMD:DONE
    assert closed.empty and "EMPTY" in closed.message and len(closed.missing) == 3
    assert closed.refund["refund"] == "none" and closed.refund["reason"] == "Parcel arrived empty"
    assert closed.refund["rules"] == ["parcel-empty"]
    again = close_parcel(store, bench, op, "RMA-3L", policy=POLICY)
    assert not again.ok and "already closed" in again.message
    assert _kinds(store, "RMA-3L").count("refund_decided") == 1


def test_a_parcel_received_whole_is_decided_when_its_last_unit_is_disposed(bench, store):
    add_rma(store, "RMA-1", [dict(sku="TS-1", description="T", category="apparel", reason_code="wrong_size",
                                  unit_price="20.00", qty=2)])
    op = _op(store, bench)
    units = [receive_line(store, bench, op, "RMA-1", 1, _ev("RMA-1")) for _ in range(2)]
    assert units[1].progress == (2, 2)
    _grade(store, units[0].unit.lpn)
    dispose(store, bench, op, units[0].unit.lpn, policy=POLICY)
    assert "refund_decided" not in _kinds(store, "RMA-1")
    _grade(store, units[1].unit.lpn, "D")  # customer damage: a partial refund for this one
    dispose(store, bench, op, units[1].unit.lpn, policy=POLICY)
    with store.read() as s:
        decided = s.exec(select(Event).where(Event.kind == "refund_decided")).one().payload
    assert decided["refund"] == "partial" and decided["missing_lines"] == []
    assert Decimal(decided["amount"]) == Decimal("20.00") + Decimal("14.00")  # 30% fee on the second
