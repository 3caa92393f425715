"""The "awaiting approval" queue in the core: settle (carry out or park), the queue, approve/change."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from dockstation.models import ApprovalRequest
from dockstation.policy import DispositionError, approve, dispose, pending, settle
from dockstation.types import utcnow
from sync.hq.units import unit_view

from policy_support import decisions_of, events_of, graded, operator, unit


def requests_of(store, lpn):
    with store.read() as s:
        return list(s.exec(select(ApprovalRequest).where(ApprovalRequest.lpn == lpn).order_by(ApprovalRequest.id)))


def test_settle_carries_out_a_decision_that_needs_no_lead(store, bench, policy):
    lpn = graded(store, 1, category="apparel", grade="A", price="40.00")
    out = settle(store, bench, operator(bench, "grader"), lpn, policy=policy)
    assert out.status == "disposed" and out.path == "restock"
    assert unit(store, lpn).state == "disposed" and requests_of(store, lpn) == []
    assert [e.kind for e in events_of(store, lpn)] == ["unit_disposed", "refund_recommended", "label_queued"]


def test_settle_parks_a_decision_that_needs_a_lead_with_its_event_in_one_transaction(store, bench, policy):
    lpn = graded(store, 2, category="home", grade="D", price="399.00")  # liquidate above the threshold
    out = settle(store, bench, operator(bench, "grader"), lpn, policy=policy)
    assert out.status == "awaiting_approval" and out.path == "liquidate" and "a lead" in out.message
    u = unit(store, lpn)
    assert u.state == "awaiting_approval" and u.disposition is None
    [req] = requests_of(store, lpn)
    assert (req.state, req.path, req.policy_path, req.kind, req.requested_by) == (
        "open", "liquidate", "liquidate", "policy", "2001")
    [ev] = events_of(store, lpn)
    assert ev.kind == "approval_requested" and ev.operator == "2001"
    assert ev.payload["request_id"] == req.id and ev.payload["path"] == "liquidate"
    assert ev.payload["why"] and ev.payload["unit_price"] == "399.00"
    # the same decision again (the grader scans its LPN and moves on once more): nothing new
    again = settle(store, bench, operator(bench, "grader"), lpn, policy=policy)
    assert again.status == "awaiting_approval" and again.extra["again"] is True
    assert len(events_of(store, lpn)) == 1 and len(requests_of(store, lpn)) == 1


def test_an_override_left_for_a_lead_waits_with_its_path_and_a_new_choice_replaces_it(store, bench, policy):
    lpn = graded(store, 3, category="apparel", grade="B", price="59.00")
    grader = operator(bench, "grader")
    settle(store, bench, grader, lpn, policy=policy, path="donate")
    settle(store, bench, grader, lpn, policy=policy, path="recycle")
    first, second = requests_of(store, lpn)
    assert (first.path, first.state) == ("donate", "withdrawn") and (second.path, second.state) == ("recycle", "open")
    assert events_of(store, lpn)[-1].payload["replaces"] == first.id
    count, rows = pending(store)
    assert count == 1 and rows[0].path == "recycle" and rows[0].policy_path == "open_box"
    assert rows[0].requested_by == "2001" and rows[0].graded_by == "2001"


def test_the_queue_lists_waiting_units_oldest_first(store, bench, policy):
    now = utcnow()
    a = graded(store, 4, category="home", grade="D", price="399.00")
    b = graded(store, 5, category="home", grade="D", price="499.00")
    settle(store, bench, operator(bench, "grader"), b, policy=policy, now=now - timedelta(hours=2))
    settle(store, bench, operator(bench, "grader"), a, policy=policy, now=now)
    count, rows = pending(store)
    assert count == 2 and [r.lpn for r in rows] == [b, a]
    assert rows[0].since == now - timedelta(hours=2) and rows[0].why


def test_a_lead_approves_the_path_asked_for(store, bench, policy):
    lpn = graded(store, 6, category="home", grade="D", price="399.00")
    settle(store, bench, operator(bench, "grader"), lpn, policy=policy)
    out = approve(store, bench, operator(bench, "lead"), lpn, policy=policy, reason="inspection_error")
    assert out.status == "disposed" and out.path == "liquidate" and out.approved_by == "9001"
    assert unit(store, lpn).state == "disposed"
    [req] = requests_of(store, lpn)
    assert (req.state, req.resolved_by) == ("approved", "9001")
    [d] = decisions_of(store, lpn)
    assert (d.kind, d.decided_by, d.approved_by, d.approval_reason) == ("policy", "2001", "9001", "inspection_error")
    disposed = events_of(store, lpn, "unit_disposed")[0]
    assert disposed.operator == "9001" and disposed.payload["request_id"] == req.id
    assert disposed.payload["requested_by"] == "2001"
    assert pending(store) == (0, [])


def test_a_lead_changes_the_path_and_refusals_are_audited(store, bench, policy):
    lpn = graded(store, 7, category="home", grade="D", price="399.00")
    settle(store, bench, operator(bench, "grader"), lpn, policy=policy)
    refused = approve(store, bench, operator(bench, "grader"), lpn, policy=policy, reason="local_demand")
    assert refused.status == "refused" and "only a lead can approve" in refused.message
    bad_reason = approve(store, bench, operator(bench, "lead"), lpn, policy=policy, reason="because")
    assert bad_reason.status == "refused" and unit(store, lpn).state == "awaiting_approval"
    assert [e.kind for e in events_of(store, lpn)] == ["approval_requested", "approval_refused", "approval_refused"]
    out = approve(store, bench, operator(bench, "lead"), lpn, policy=policy, reason="local_demand", path="donate")
    assert out.status == "disposed" and out.kind == "override" and out.path == "donate"
    [req] = requests_of(store, lpn)
    assert req.state == "changed"
    [d] = decisions_of(store, lpn)
    assert (d.kind, d.decided_by, d.approved_by) == ("override", "9001", "9001")
    with pytest.raises(DispositionError, match="not awaiting approval"):
        approve(store, bench, operator(bench, "lead"), lpn, policy=policy, reason="local_demand")


def test_a_waiting_unit_disposed_at_the_bench_withdraws_its_request(store, bench, policy):
    lpn = graded(store, 8, category="apparel", grade="B", price="59.00")
    grader = operator(bench, "grader")
    settle(store, bench, grader, lpn, policy=policy, path="donate")  # an override left for a lead
    out = dispose(store, bench, grader, lpn, policy=policy)  # then the policy's own path after all
    assert out.status == "disposed" and out.path == "open_box"
    [req] = requests_of(store, lpn)
    assert (req.state, req.resolved_by) == ("withdrawn", "2001")


def test_a_redisposition_nobody_approved_is_left_as_it_was(store, bench, policy):
    lpn = graded(store, 9, category="apparel", grade="A", price="40.00")
    dispose(store, bench, operator(bench, "grader"), lpn, policy=policy)
    out = settle(store, bench, operator(bench, "grader"), lpn, policy=policy, path="donate")
    assert out.status == "unchanged" and unit(store, lpn).disposition == "restock"


def test_hq_folds_the_wait_and_its_end(store, bench, policy):
    lpn = graded(store, 10, category="home", grade="D", price="399.00")
    settle(store, bench, operator(bench, "grader"), lpn, policy=policy)
    rows = [dict(station_id=e.station_id, seq=e.seq, kind=e.kind, at=e.at, operator=e.operator, lpn=e.lpn,
                 payload=e.payload) for e in events_of(store, lpn)]
    assert unit_view(rows, utcnow())["state"] == "awaiting_approval"
    approve(store, bench, operator(bench, "lead"), lpn, policy=policy, reason="inspection_error")
    rows = [dict(station_id=e.station_id, seq=e.seq, kind=e.kind, at=e.at, operator=e.operator, lpn=e.lpn,
                 payload=e.payload) for e in events_of(store, lpn)]
    assert unit_view(rows, utcnow())["state"] == "disposed"


def test_the_units_export_shows_what_a_waiting_unit_waits_with(store, bench, policy):
    import io
    import json

    from dockstation.export import export

    lpn = graded(store, 11, category="home", grade="D", price="399.00")
    settle(store, bench, operator(bench, "grader"), lpn, policy=policy)
    out = io.StringIO()
    export(store, "units", "json", out)
    [row] = [u for u in json.loads(out.getvalue()) if u["lpn"] == lpn]
    assert (row["state"], row["awaiting_path"], row["awaiting_requested_by"]) == (
        "awaiting_approval", "liquidate", "2001")
    assert row["awaiting_since"].endswith("+00:00")
