"""propose/dispose over the store: decisions, approvals (clerk refused, lead accepted), refunds."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dockstation.policy import DispositionError, check_approver, dispose, propose

from policy_support import decisions_of, events_of, graded, operator, unit


def test_policy_path_is_explained_stored_and_evented_with_a_refund(store, bench, policy):
    lpn = graded(store, 1, category="phones", grade="A", price="699.00", reason_code="changed_mind")
    prop = propose(store, bench, lpn, policy=policy)
    assert (prop.decision.path, prop.decision.rule_id) == ("restock", "restock-a")
    assert prop.decision.recovery_value == Decimal("664.05") and not prop.needs_approval
    assert prop.refund.refund == "full" and prop.refund.amount == Decimal("699.00")

    out = dispose(store, bench, operator(bench, "grader"), lpn, policy=policy)
    assert out.status == "disposed" and out.kind == "policy" and out.path == "restock"
    u = unit(store, lpn)
    assert (u.state, u.disposition, u.rule_id, u.policy_version) == ("disposed", "restock", "restock-a", policy.version)
    assert u.destination == "Sellable stock" and u.recovery_value == Decimal("664.05")
    assert (u.refund, u.refund_amount) == ("full", Decimal("699.00")) and u.disposed_at is not None
    [d] = decisions_of(store, lpn)
    assert (d.kind, d.path, d.rule_id, d.decided_by, d.approved_by) == ("policy", "restock", "restock-a", "2001", None)
    kinds = [e.kind for e in events_of(store, lpn)]
    assert kinds == ["unit_disposed", "refund_recommended", "label_queued"]
    disposed, refund, queued = events_of(store, lpn)
    assert queued.payload["job_id"] == out.label_job_id and queued.operator == "2001"
    for key in ("kind", "path", "rule_id", "reason", "policy_version", "destination", "recovery_value",
                "category", "grade", "unit_price", "flags", "approved_by", "approval_reason"):
        assert key in disposed.payload, key
    assert disposed.payload["recovery_value"] == "664.05" and disposed.payload["category"] == "phones"
    assert refund.payload == {**refund.payload, "refund": "full", "amount": "699.00", "reason": "Returned as sold"}


def test_a_flagged_unit_goes_to_quarantine_without_a_lead(store, bench, policy):
    lpn = graded(store, 2, category="phones", grade="A", price="699.00", flags=("serial_mismatch",))
    out = dispose(store, bench, operator(bench, "grader"), lpn, policy=policy)
    assert out.status == "quarantined" and out.rule_id == "risk-hold"
    assert unit(store, lpn).state == "quarantined"
    kinds = [e.kind for e in events_of(store, lpn)]
    assert kinds == ["unit_disposed", "unit_quarantined", "refund_recommended", "label_queued"]
    assert events_of(store, lpn, "unit_quarantined")[0].payload["reason"].startswith("Risk flag")


def test_override_needs_a_lead_clerk_refused_lead_accepted_both_audited(store, bench, policy):
    lpn = graded(store, 3, category="apparel", grade="B", price="59.00")
    grader = operator(bench, "grader")
    asked = dispose(store, bench, grader, lpn, policy=policy, path="donate")
    assert asked.status == "needs_approval" and "instead of the policy's open_box" in asked.approval[0]
    assert unit(store, lpn).state == "graded" and events_of(store, lpn) == []  # nothing written

    refused = dispose(store, bench, grader, lpn, policy=policy, path="donate", approver="1001",
                      approval_reason="local_demand")
    assert refused.status == "refused" and "only a lead can approve" in refused.message
    assert unit(store, lpn).state == "graded" and decisions_of(store, lpn) == []
    [ev] = events_of(store, lpn)
    assert ev.kind == "approval_refused" and ev.operator == "2001"
    assert ev.payload["badge"] == "1001" and "clerk" in ev.payload["reason"]

    ok = dispose(store, bench, grader, lpn, policy=policy, path="donate", approver="9001",
                 approval_reason="local_demand")
    assert ok.status == "disposed" and ok.kind == "override" and ok.approved_by == "9001"
    [d] = decisions_of(store, lpn)
    assert (d.kind, d.path, d.rule_id, d.approved_by, d.approval_reason) == \
        ("override", "donate", "open-box", "9001", "local_demand")
    assert d.decided_by == "2001" and d.decided_at is not None
    disposed = events_of(store, lpn, "unit_disposed")[0]
    assert disposed.payload["approved_by"] == "9001" and disposed.payload["approval_reason"] == "local_demand"
    assert disposed.payload["policy_path"] == "open_box" and disposed.payload["kind"] == "override"


def test_unknown_badge_and_unknown_reason_are_refused_and_audited(store, bench, policy):
    lpn = graded(store, 4, category="apparel", grade="B")
    grader = operator(bench, "grader")
    for badge, reason, why in [("7777", "local_demand", "unknown badge"), ("9001", "because", "unknown approval reason"),
                               ("2001", "local_demand", "grader")]:
        out = dispose(store, bench, grader, lpn, policy=policy, path="liquidate", approver=badge, approval_reason=reason)
        assert out.status == "refused" and why in out.message
    assert [e.kind for e in events_of(store, lpn)] == ["approval_refused"] * 3
    assert unit(store, lpn).state == "graded"


def test_check_approver_is_the_badge_step_of_the_bench(store, bench, policy):
    lpn = graded(store, 5, category="apparel", grade="B")
    grader = operator(bench, "grader")
    refused = check_approver(store, bench, grader, lpn, "1001", policy=policy, path="donate")
    assert refused.status == "refused"
    lead = check_approver(store, bench, grader, lpn, "9001", policy=policy, path="donate")
    assert lead.role == "lead"
    assert [e.kind for e in events_of(store, lpn)] == ["approval_refused"]


def test_liquidating_a_valuable_unit_needs_a_lead(store, bench, policy):
    lpn = graded(store, 6, category="home", grade="D", price="399.00")
    prop = propose(store, bench, lpn, policy=policy)
    assert prop.decision.path == "liquidate" and prop.needs_approval
    assert "above 250" in prop.approval[0]
    assert dispose(store, bench, operator(bench, "grader"), lpn, policy=policy).status == "needs_approval"
    out = dispose(store, bench, operator(bench, "grader"), lpn, policy=policy, approver="9001",
                  approval_reason="local_demand")
    assert out.status == "disposed" and out.kind == "policy" and out.approved_by == "9001"


def test_redisposition_needs_a_lead_and_keeps_the_refund(store, bench, policy):
    lpn = graded(store, 7, category="phones", grade="A", price="500.00", flags=("activation_locked",))
    grader = operator(bench, "grader")
    assert dispose(store, bench, grader, lpn, policy=policy).status == "quarantined"
    prop = propose(store, bench, lpn, policy=policy)
    assert prop.kind == "redisposition" and prop.current_path == "quarantine" and prop.needs_approval
    assert dispose(store, bench, grader, lpn, policy=policy, path="restock").status == "needs_approval"
    out = dispose(store, bench, grader, lpn, policy=policy, path="vendor_return", approver="9001",
                  approval_reason="risk_cleared")
    assert out.status == "disposed" and out.kind == "redisposition"
    assert [d.kind for d in decisions_of(store, lpn)] == ["policy", "redisposition"]
    assert unit(store, lpn).disposition == "vendor_return"
    assert [e.kind for e in events_of(store, lpn)] == ["unit_disposed", "unit_quarantined", "refund_recommended",
                                                       "label_queued", "unit_disposed", "label_queued"]
    assert events_of(store, lpn, "unit_disposed")[-1].payload["previous_path"] == "quarantine"


@pytest.mark.parametrize("flags,grade,reason,refund,amount", [
    ((), "A", "changed_mind", "full", "100.00"),
    (("missing_accessories",), "B", "changed_mind", "partial", "85.00"),
    (("missing_accessories",), "D", "changed_mind", "partial", "55.00"),  # 15% + 30% customer damage
    ((), "D", "defective", "full", "100.00"),  # damaged, but the customer says defective: no fee
    (("empty_box",), "F", "changed_mind", "none", "0.00"),
    (("wrong_item", "missing_accessories"), "C", "changed_mind", "none", "0.00"),
    (("serial_mismatch",), "D", "defective", "none", "0.00"),  # not the unit sold
    (("activation_locked",), "C", "defective", "none", "0.00"),
])
def test_refund_recommendation(store, bench, policy, flags, grade, reason, refund, amount):
    lpn = graded(store, 8, category="home", grade=grade, price="100.00", flags=flags, reason_code=reason)
    r = propose(store, bench, lpn, policy=policy).refund
    assert (r.refund, r.amount) == (refund, Decimal(amount))
    assert r.reason


def test_units_that_cannot_be_disposed(store, bench, policy):
    with pytest.raises(DispositionError, match="unknown unit"):
        propose(store, bench, "B07-99999999", policy=policy)
    lpn = graded(store, 9, state="inspecting")
    with pytest.raises(DispositionError, match="grade it first"):
        dispose(store, bench, operator(bench, "grader"), lpn, policy=policy)
    lpn = graded(store, 10)
    with pytest.raises(DispositionError, match="clerk"):
        dispose(store, bench, operator(bench, "clerk"), lpn, policy=policy)
    with pytest.raises(DispositionError, match="unknown path"):
        dispose(store, bench, operator(bench, "grader"), lpn, policy=policy, path="sell")


def test_checklist_answers_flags_and_vendor_window_choose_paths(store, bench, policy):
    unsafe = graded(store, 11, category="toys", grade="F", flags=("safety_risk",), price="400")
    prop = propose(store, bench, unsafe, policy=policy)
    assert prop.decision.rule_id == "unsafe" and not prop.needs_approval  # a condition, not a risk
    dead = {"powers_on": {"value": "fail", "result": "fail", "label": "Fail"}}
    laptop = graded(store, 14, category="laptops", grade="F", price="900", answers=dead)
    assert propose(store, bench, laptop, policy=policy).decision.rule_id == "dead-device-refurb"
    cheap = graded(store, 15, category="laptops", grade="F", price="200", answers=dead)
    assert propose(store, bench, cheap, policy=policy).decision.rule_id == "ewaste"
    fresh = graded(store, 12, category="phones", grade="D", reason_code="defective", age_days=10, price="300")
    old = graded(store, 13, category="phones", grade="D", reason_code="defective", age_days=90, price="300")
    assert propose(store, bench, fresh, policy=policy).decision.path == "vendor_return"
    assert propose(store, bench, old, policy=policy).decision.path == "refurbish"


def test_the_label_job_is_queued_in_the_dispose_transaction(store, bench, policy, monkeypatch):
    from dockstation.models import PrintJob

    lpn = graded(store, 20, category="apparel", grade="A")
    out = dispose(store, bench, operator(bench, "grader"), lpn, policy=policy)
    with store.read() as s:
        job = s.get(PrintJob, out.label_job_id)
    assert job.lpn == lpn and job.state == "queued" and job.kind == "label"

    def broken(session, lpn, station_id, **kw):
        raise RuntimeError("spool full")

    monkeypatch.setattr("labels.queue.queue_job", broken)  # what the dispose transaction queues through
    other = graded(store, 21, category="apparel", grade="A")
    with pytest.raises(RuntimeError):
        dispose(store, bench, operator(bench, "grader"), other, policy=policy)
    assert unit(store, other).state == "graded" and events_of(store, other) == []  # all or nothing
    assert decisions_of(store, other) == []
