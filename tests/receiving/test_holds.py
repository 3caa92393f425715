"""Blind receipts: held with a deadline, matched automatically after a manifest import (the lead
told), the deadline's proposal confirmed by a lead; all audited."""

from __future__ import annotations

import csv
from datetime import timedelta

import pytest
from sqlmodel import select

from dockstation.manifest import import_manifest
from dockstation.manifest_csv import COLUMNS
from dockstation.models import Event, Hold, ScanException, Unit
from dockstation.policy import load_policy
from dockstation.receiving import handle_scan, sign_in
from dockstation.receiving.holds import HoldError, apply_default, holds, match_hold, receive_held
from dockstation.scan import ScanEvent, classify
from dockstation.types import utcnow

POLICY = load_policy(None)
TORN = "420221539101026837331000039521"  # USPS IMpb with its ZIP: the part still legible


def _op(store, bench, badge):
    return sign_in(store, bench, ScanEvent(f"OP-{badge}", "t", None, utcnow()), badge).operator


def _manifest(path, rows):
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        for rma_id, order_id, line_no, gtin, tracking in rows:
            w.writerow([rma_id, order_id, "2026-11-01T10:00:00+00:00", "2099-12-01T10:00:00+00:00", "open",
                        line_no, f"SKU-{line_no}", gtin, f"Item {line_no}", "apparel", "1", "25.00", "USD", "",
                        "wrong_size", "usps", tracking])
    return path


def _held(store, bench, clerk, code=TORN, **kw):
    c = classify(code, bench.codes.patterns)
    out = handle_scan(store, bench, clerk, ScanEvent(code, "t", None, utcnow()), c)
    assert out.status == "exception" and out.exception_kind == "unknown_tracking"
    return receive_held(store, bench, clerk, code=code, hold=POLICY.hold, exception_id=out.exception_id, **kw)


def test_a_blind_receipt_is_matched_automatically_after_a_manifest_import(store, bench, tmp_path):
    clerk = _op(store, bench, "1001")
    view = _held(store, bench, clerk)
    assert view.state == "held" and view.rma_id is None
    with store.read() as s:
        hold = s.get(Hold, view.lpn)
        assert hold.tracking == "9101026837331000039521"  # normalised, as a manifest will hold it
        assert (hold.deadline_at - s.get(Unit, view.lpn).received_at) == timedelta(days=14)
        assert s.exec(select(ScanException)).one().state == "held"
    report = import_manifest(store, "B07", _manifest(tmp_path / "m.csv", [
        ("RMA-H-1", "O-1", 1, "", "9101026837331000039521")]))
    assert report.holds_matched == [(view.lpn, "RMA-H-1", 1)]
    with store.read() as s:
        unit = s.get(Unit, view.lpn)
        assert (unit.state, unit.rma_id, unit.line_no, unit.sku) == ("received", "RMA-H-1", 1, "SKU-1")
        kinds = [e.kind for e in s.exec(select(Event).where(Event.lpn == view.lpn).order_by(Event.seq))]
    assert kinds[0] == "unit_held" and "hold_matched" in kinds
    told = holds(store)  # the lead's Holds tab lists it as matched, by the manifest
    assert [(h.lpn, h.state, h.matched_rma_id, h.resolved_by) for h in told] == [(view.lpn, "matched", "RMA-H-1", "auto")]


def test_an_order_on_several_open_lines_is_a_candidate_for_the_lead(store, bench, tmp_path):
    clerk, lead = _op(store, bench, "1001"), _op(store, bench, "9001")
    view = receive_held(store, bench, clerk, code="", order_id="O-77", hold=POLICY.hold)
    import_manifest(store, "B07", _manifest(tmp_path / "m.csv", [("RMA-H-2", "O-77", 1, "", ""),
                                                                 ("RMA-H-2", "O-77", 2, "", "")]))
    [h] = holds(store)
    assert (h.state, h.candidate) == ("open", "RMA-H-2")
    with pytest.raises(HoldError, match="lead"):
        match_hold(store, bench, clerk, view.lpn, "RMA-H-2", 2)
    assert "received" in match_hold(store, bench, lead, view.lpn, "RMA-H-2", 2)
    with store.read() as s:
        assert s.get(Unit, view.lpn).line_no == 2


def test_the_deadline_proposes_the_default_action_a_lead_confirms(store, bench):
    clerk, lead = _op(store, bench, "1001"), _op(store, bench, "9001")
    view = _held(store, bench, clerk)
    [h] = holds(store)
    assert not h.due(utcnow()) and h.default_path == "liquidate"
    with pytest.raises(HoldError, match="may still be matched"):
        apply_default(store, bench, lead, view.lpn, policy=POLICY)
    later = utcnow() + timedelta(days=15)
    [h] = holds(store, now=later)
    assert h.due(later)  # the lead screen proposes it now
    with pytest.raises(HoldError, match="lead"):
        apply_default(store, bench, clerk, view.lpn, policy=POLICY, now=later)
    assert "liquidate" in apply_default(store, bench, lead, view.lpn, policy=POLICY, now=later)
    with store.read() as s:
        unit = s.get(Unit, view.lpn)
        assert (unit.state, unit.disposition, unit.rule_id) == ("disposed", "liquidate", "hold-default")
        kinds = [(e.kind, e.operator) for e in s.exec(select(Event).where(Event.lpn == view.lpn).order_by(Event.seq))]
    assert ("hold_defaulted", "9001") in kinds and ("unit_disposed", "9001") in kinds
