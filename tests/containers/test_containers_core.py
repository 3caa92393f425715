"""Containers in the functional core: put, refusals (nothing stored), move, close, reopen,
the RTV authorisation, a vendor quota switching the rule, a lead's redisposition."""

from __future__ import annotations

from decimal import Decimal

import pytest
from containers_support import disposed, events_of, graded, operator
from sqlmodel import select

from dockstation import containers as ct
from dockstation.models import ContainerUnit, Event
from dockstation.policy import dispose, load_policy

GRADES = ["A", "B", "C", "D", "F"]


def n_events(store) -> int:
    with store.read() as s:
        return len(s.exec(select(Event)).all())


def opened(store, bench, policy, path, **kw):
    return ct.open_container(store, bench.station_id, "9001", policy=policy, paths=[path], **kw)


def test_open_gives_the_bench_s_own_id_kind_capacity_and_queues_the_label(store, bench, policy):
    c = opened(store, bench, policy, "liquidate")
    assert c.id == "CT-B07-000001" and c.kind == "gaylord" and c.capacity == 400
    assert c.destination == "Liquidation gaylord"
    assert opened(store, bench, policy, "restock").id == "CT-B07-000002"
    kinds = [e.kind for e in events_of(store)]
    assert kinds.count("container_opened") == 2 and kinds.count("container_label_queued") == 2
    with pytest.raises(ct.ContainerError) as exc:
        opened(store, bench, policy, "teleport")
    assert exc.value.code == "bad_path"
    with pytest.raises(ct.ContainerError):
        opened(store, bench, policy, "restock", container_id="CT-B07-000001")  # exists


def test_a_unit_goes_into_the_container_of_its_path(store, bench, policy):
    before = disposed(store, bench, policy, 2, grade="C", price="40.00")  # before the bench sorted
    c = opened(store, bench, policy, "liquidate")
    lpn = disposed(store, bench, policy, 1, grade="C", price="40.00")  # liquidate-c-d
    with store.read() as s:
        assert [u.lpn for u in ct.unsorted_units(s)] == [lpn]  # not the history before containers
        assert not ct.is_sorted(s, before)
        from dockstation.models import Unit
        assert ct.suggest(s, policy, s.get(Unit, lpn)).id == c.id
        assert ct.unsorted_count(s) == 1 and not ct.is_sorted(s, lpn)
    out = ct.put(store, "B07", "2001", lpn, c.id, policy=policy)
    assert out.status == "sorted" and out.container.units == 1
    assert out.container.value == Decimal("10.00")  # 40 x 0.25
    with store.read() as s:
        assert ct.is_sorted(s, lpn) and ct.unsorted_count(s) == 0 and ct.container_of(s, lpn) == c.id
    ev = events_of(store, lpn, "unit_sorted")[-1]
    assert ev.payload["container"] == c.id and ev.payload["path"] == "liquidate"
    assert ct.put(store, "B07", "2001", lpn, c.id, policy=policy).status == "already"


@pytest.mark.parametrize("case", ["other_path", "closed", "full", "other_vendor", "unknown", "not_disposed"])
def test_refusals_store_nothing(store, bench, policy, case):
    lpn = disposed(store, bench, policy, 1, grade="C", price="40.00")  # liquidate
    if case == "other_path":
        target = opened(store, bench, policy, "restock").id
    elif case == "closed":
        other = disposed(store, bench, policy, 2, grade="C", price="40.00")
        target = opened(store, bench, policy, "liquidate").id
        ct.put(store, "B07", "2001", other, target, policy=policy)
        ct.close(store, "B07", operator(bench, "grader"), target)
    elif case == "full":
        other = disposed(store, bench, policy, 2, grade="C", price="40.00")
        target = opened(store, bench, policy, "liquidate", capacity=1).id
        ct.put(store, "B07", "2001", other, target, policy=policy)
    elif case == "other_vendor":
        # headphones D, defective, in the window: vendor-defect → vendor_return, SoundCo's
        lpn = disposed(store, bench, policy, 3, category="headphones", grade="D", price="90.00",
                       reason_code="defective")
        target = opened(store, bench, policy, "vendor_return", vendor="mobitech").id
    elif case == "unknown":
        target = "CT-B07-999999"
    else:
        lpn = graded(store, 4)
        target = opened(store, bench, policy, "restock").id
    before = n_events(store)
    with pytest.raises(ct.ContainerRefused) as exc:
        ct.put(store, "B07", "2001", lpn, target, policy=policy)
    expected = {"other_path": "path", "closed": "closed", "full": "full", "other_vendor": "vendor",
                "unknown": "unknown", "not_disposed": "not_disposed"}[case]
    assert exc.value.code == expected
    assert n_events(store) == before
    with store.read() as s:
        assert s.get(ContainerUnit, lpn) is None


def test_scanning_another_container_moves_the_unit(store, bench, policy):
    lpn = disposed(store, bench, policy, 1, grade="C", price="40.00")
    a, b = opened(store, bench, policy, "liquidate"), opened(store, bench, policy, "liquidate")
    ct.put(store, "B07", "2001", lpn, a.id, policy=policy)
    out = ct.put(store, "B07", "2001", lpn, b.id, policy=policy)
    assert out.status == "moved" and out.previous == a.id
    assert ct.get(store, a.id).units == 0 and ct.get(store, a.id).value == Decimal("0.00")
    assert ct.get(store, b.id).units == 1
    moved = events_of(store, lpn, "unit_moved")[-1]
    assert moved.payload["from"] == a.id and moved.payload["container"] == b.id


def test_close_refused_when_empty_then_closed_with_lot_grade_and_the_lpns(store, bench, policy):
    c = opened(store, bench, policy, "liquidate")
    grader = operator(bench, "grader")
    with pytest.raises(ct.ContainerError) as exc:
        ct.close(store, "B07", grader, c.id)
    assert exc.value.code == "empty"
    lpns = [disposed(store, bench, policy, i, grade=g, price="40.00") for i, g in ((1, "C"), (2, "D"), (3, "C"))]
    for lpn in lpns:
        ct.put(store, "B07", "2001", lpn, c.id, policy=policy)
    closed = ct.close(store, "B07", grader, c.id, grade_order=GRADES)
    assert closed.state == "closed" and closed.lot_grade == "D" and closed.units == 3
    ev = events_of(store, kind="container_closed")[-1]
    assert ev.payload["lpns"] == lpns and ev.payload["lot_grade"] == "D"
    with pytest.raises(ct.ContainerError):
        ct.close(store, "B07", grader, c.id)
    with pytest.raises(ct.ContainerError) as exc:
        ct.reopen(store, "B07", grader, c.id, "more room")
    assert exc.value.code == "not_lead"
    again = ct.reopen(store, "B07", operator(bench, "lead"), c.id, "one more unit fits")
    assert again.state == "open" and again.reopened == 1 and again.lot_grade is None
    assert events_of(store, kind="container_reopened")[-1].payload["reason"] == "one more unit fits"


def test_an_rtv_box_closes_only_with_the_vendor_s_authorisation(store, bench, policy):
    lpn = disposed(store, bench, policy, 1, category="headphones", grade="D", price="90.00", reason_code="defective")
    c = opened(store, bench, policy, "vendor_return")
    assert c.kind == "rtv_box" and c.vendor is None
    ct.put(store, "B07", "2001", lpn, c.id, policy=policy)
    assert ct.get(store, c.id).vendor == "soundco"  # the first unit's vendor
    other = disposed(store, bench, policy, 2, category="phones", grade="D", price="90.00", reason_code="defective")
    with pytest.raises(ct.ContainerRefused) as exc:
        ct.put(store, "B07", "2001", other, c.id, policy=policy)
    assert exc.value.code == "vendor"
    with pytest.raises(ct.ContainerError) as exc:
        ct.close(store, "B07", operator(bench, "grader"), c.id)
    assert exc.value.code == "needs_authorisation"
    with pytest.raises(ct.ContainerError):
        ct.close(store, "B07", operator(bench, "grader"), c.id, authorisation="RA 1; DROP")
    closed = ct.close(store, "B07", operator(bench, "grader"), c.id, authorisation="RA-SC-7781")
    assert closed.authorisation == "RA-SC-7781"


def test_a_vendor_s_weekly_quota_switches_the_rule_and_says_why(home, store, bench):
    (home / "config" / "policy.toml").write_text('[vendors.soundco]\nname = "SoundCo"\n'
                                                 'categories = ["headphones"]\nweekly_quota_units = 2\n')
    policy = load_policy(home)
    paths = []
    for i in range(1, 4):
        lpn = graded(store, i, category="headphones", grade="D", price="90.00", reason_code="defective")
        out = dispose(store, bench, operator(bench, "grader"), lpn, policy=policy)
        paths.append((out.path, out.rule_id, out.reason))
    assert [p[0] for p in paths[:2]] == ["vendor_return", "vendor_return"]
    path, rule, reason = paths[2]
    assert path == "refurbish" and rule == "refurb-electronics"
    assert "vendor-defect skipped" in reason and "SoundCo" in reason and "quota" in reason


def test_a_lead_s_redisposition_takes_the_unit_out_of_its_container(store, bench, policy):
    lpn = disposed(store, bench, policy, 1, grade="C", price="40.00")
    c = opened(store, bench, policy, "liquidate")
    ct.put(store, "B07", "2001", lpn, c.id, policy=policy)
    lead = operator(bench, "lead")
    out = dispose(store, bench, lead, lpn, policy=policy, path="donate", approver="9001",
                  approval_reason="local_demand")
    assert out.status == "disposed" and out.kind == "redisposition"
    with store.read() as s:
        assert not ct.is_sorted(s, lpn) and ct.unsorted_count(s) == 1
    assert ct.get(store, c.id).units == 0
    assert events_of(store, lpn, "unit_unsorted")[-1].payload["container"] == c.id
    assert events_of(store, lpn, "unit_disposed")[-1].payload["left_container"] == c.id
    jobs = [e for e in events_of(store, lpn, "label_queued")]
    assert len(jobs) == 2  # a new disposition label, same LPN


def test_lot_grade_is_the_lowest_on_the_scale():
    assert ct.lot_grade(["A", "C", "B"], GRADES) == "C"
    assert ct.lot_grade(["A", None], GRADES) == "A"
    assert ct.lot_grade([], GRADES) is None
    assert ct.lot_grade(["A", "ZZ"], GRADES) == "ZZ"  # off the scale: the lowest


def test_kpis_and_simulate_see_both_decisions_of_a_redisposed_unit(store, bench, policy):
    from datetime import timedelta

    from dockstation.kpis.export import bench_report
    from dockstation.policy import simulate
    from dockstation.types import utcnow

    kept = disposed(store, bench, policy, 1, grade="C", price="40.00")
    changed = disposed(store, bench, policy, 2, grade="C", price="40.00")
    dispose(store, bench, operator(bench, "lead"), changed, policy=policy, path="donate", approver="9001",
            approval_reason="local_demand")
    report = bench_report(store, utcnow() - timedelta(days=1), now=utcnow() + timedelta(seconds=1))
    assert report.total.disposed == 2 and report.total.right_first_time == 1  # the redisposed one is not
    sim = simulate(store, policy, policy)
    assert sim.units == 2 and sim.changed == []  # both units replayed, on their facts
    assert [e.payload["kind"] for e in events_of(store, changed, "unit_disposed")] == ["policy", "redisposition"]
    assert kept != changed


def test_settle_names_the_container_that_takes_the_unit_in_its_own_transaction(store, bench, policy):
    """The grader's Enter (settle) reads the container the screen names next while it writes, so the
    screen reads nothing after it: the hint is the one `suggest` gives, or None when none is open."""
    from dockstation.policy.awaiting import settle

    grader = operator(bench, "grader")
    none_open = settle(store, bench, grader, graded(store, 3, grade="C", price="40.00"), policy=policy)
    assert none_open.ok and none_open.extra["container"] is None
    small = opened(store, bench, policy, "liquidate", capacity=5)
    c = opened(store, bench, policy, "liquidate")
    ct.put(store, "B07", "2001", disposed(store, bench, policy, 4, grade="C", price="40.00"), c.id, policy=policy)
    out = settle(store, bench, grader, graded(store, 5, grade="C", price="40.00"), policy=policy)
    assert out.ok and out.path == "liquidate"
    hint = out.extra["container"]
    assert (hint.id, hint.destination, hint.units, hint.capacity) == (c.id, c.destination, 1, c.capacity)
    assert hint.id != small.id  # the fullest open one of its path, as suggest says
