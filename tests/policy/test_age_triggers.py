"""Age-based triggers (issue 20): a fake clock walks units through each kind of trigger; each
fires once per unit across a restart; a unit mid-inspection is left alone until it is finished."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from dockstation.config import ConfigError
from dockstation.kpis.report import EventRow, kpi_report
from dockstation.models import AgeFiring, ApprovalRequest, Hold, Inspection, Unit
from dockstation.policy import load_policy, load_policy_file
from dockstation.policy.awaiting import approve, settle
from dockstation.policy.dispose import dispose, propose
from dockstation.policy.triggers import moved_since, run_pass
from dockstation.receiving.holds import receive_held
from dockstation.store import Store
from dockstation.tui.disposition_render import body
from policy_support import events_of, graded, operator, unit

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)

TRIGGERS = """
[[age_triggers]]
id = "slow-receipt"
state = "received"
after_days = 2
action = "lane"
lane = "express"
reason = "Waiting 2 days ungraded: grade it first"

[[age_triggers]]
id = "apparel-season"
state = "graded"
after_days = 30
when = { category = "apparel" }
action = "reroute"
path = "liquidate"
reason = "Apparel past its resale window: liquidate"

[[age_triggers]]
id = "approval-stuck"
state = "awaiting_approval"
after_hours = 12
action = "escalate"
reason = "Awaiting a lead for over 12 hours"

[[age_triggers]]
id = "hold-aging"
state = "held"
after_days = 7
action = "reroute"
path = "recycle"
reason = "Held a week unmatched: recycle at the deadline"

[decay]
rates = { apparel = 0.10 }
after_days = 7
"""


@pytest.fixture
def policy(home):
    (home / "config" / "policy.toml").write_text(TRIGGERS)
    return load_policy(home)


def received_unit(store: Store, n: int, at: datetime, *, category: str = "apparel", price: str = "40.00") -> str:
    lpn = graded(store, n, category=category, price=price, at=at, state="received", grade=None)
    with store.write() as s:
        u = s.get(Unit, lpn)
        u.received_at, u.inspected_at, u.inspected_by, u.grade = at, None, None, None
        s.add(u)
        for insp in s.exec(select(Inspection).where(Inspection.lpn == lpn)):
            s.delete(insp)
    return lpn


def firings(store: Store, lpn: str) -> list[AgeFiring]:
    with store.read() as s:
        return list(s.exec(select(AgeFiring).where(AgeFiring.lpn == lpn)))


def test_lane_trigger_walks_a_received_unit_to_express_once(store, bench, policy):
    lpn = received_unit(store, 1, T0)
    assert run_pass(store, "B07", policy, now=T0 + timedelta(days=1)).fired == []
    out = run_pass(store, "B07", policy, now=T0 + timedelta(days=2, minutes=1))
    assert [(f.lpn, f.trigger_id, f.previous, f.target) for f in out.fired] == [(lpn, "slow-receipt", "bulk", "express")] \
        or [(f.lpn, f.trigger_id, f.target) for f in out.fired] == [(lpn, "slow-receipt", "express")]
    u = unit(store, lpn)
    assert u.lane == "express"
    assert u.sla_due_at.replace(tzinfo=UTC) == T0 + timedelta(days=2, minutes=1, hours=8)
    (ev,) = events_of(store, lpn, "age_trigger_fired")
    assert ev.payload["trigger_id"] == "slow-receipt" and ev.payload["policy_version"] == policy.version
    assert ev.payload["action"] == "lane" and ev.payload["target"] == "express"
    # later passes, and a clock set back then forward again, never fire it a second time
    assert run_pass(store, "B07", policy, now=T0 + timedelta(days=3)).fired == []
    assert run_pass(store, "B07", policy, now=T0 + timedelta(days=1)).fired == []
    assert run_pass(store, "B07", policy, now=T0 + timedelta(days=9)).fired == []
    assert len(events_of(store, lpn, "age_trigger_fired")) == 1


def test_fires_once_across_a_restart(home, policy):
    store = Store.in_home(home)
    lpn = received_unit(store, 1, T0)
    assert len(run_pass(store, "B07", policy, now=T0 + timedelta(days=3)).fired) == 1
    store.close()
    again = Store.in_home(home)  # a restarted bench: a new process, the same file
    try:
        assert run_pass(again, "B07", load_policy(home), now=T0 + timedelta(days=4)).fired == []
        assert len(events_of(again, lpn, "age_trigger_fired")) == 1
        assert len(firings(again, lpn)) == 1
    finally:
        again.close()


def test_reroute_changes_the_proposed_path_and_the_decision_says_why(store, bench, policy):
    lpn = graded(store, 1, category="apparel", grade="A", price="40.00", at=T0)
    assert propose(store, bench, lpn, policy=policy, now=T0 + timedelta(days=1)).decision.path == "restock"
    assert run_pass(store, "B07", policy, now=T0 + timedelta(days=29)).fired == []
    (f,) = run_pass(store, "B07", policy, now=T0 + timedelta(days=31)).fired
    assert (f.trigger_id, f.action, f.target) == ("apparel-season", "reroute", "liquidate")
    prop = propose(store, bench, lpn, policy=policy, now=T0 + timedelta(days=31))
    d = prop.decision
    assert d.path == "liquidate" and d.rule_id == "age:apparel-season" and d.trigger_id == "apparel-season"
    assert "Apparel past its resale window" in d.reason
    out = dispose(store, bench, operator(bench, "grader"), lpn, policy=policy, now=T0 + timedelta(days=31))
    assert out.ok and out.path == "liquidate"
    (ev,) = events_of(store, lpn, "unit_disposed")
    assert ev.payload["trigger_id"] == "apparel-season" and ev.payload["rule_id"] == "age:apparel-season"


def test_escalate_an_approval_that_waits_and_reroute_what_it_asks(store, bench, tmp_path, home):
    (home / "config" / "policy.toml").write_text(TRIGGERS + """
[[age_triggers]]
id = "approval-liquidate"
state = "awaiting_approval"
after_days = 2
action = "reroute"
path = "liquidate"
reason = "Two days without a lead: liquidate"
""")
    policy = load_policy(home)
    lpn = graded(store, 1, category="phones", grade="A", price="699.00", at=T0, flags=("serial_mismatch",))
    # a risk-flagged phone: the policy's quarantine is fine, an override to restock needs a lead
    out = settle(store, bench, operator(bench, "grader"), lpn, policy=policy, path="restock", now=T0)
    assert out.status == "awaiting_approval"
    assert run_pass(store, "B07", policy, now=T0 + timedelta(hours=11)).fired == []
    (esc,) = run_pass(store, "B07", policy, now=T0 + timedelta(hours=13)).fired
    assert (esc.trigger_id, esc.action) == ("approval-stuck", "escalate")
    (rr,) = run_pass(store, "B07", policy, now=T0 + timedelta(days=2, hours=1)).fired
    assert (rr.trigger_id, rr.previous, rr.target) == ("approval-liquidate", "restock", "liquidate")
    with store.read() as s:
        req = s.exec(select(ApprovalRequest).where(ApprovalRequest.lpn == lpn, ApprovalRequest.state == "open")).one()
    assert req.path == "liquidate" and any("approval-liquidate" in w for w in req.why)
    done = approve(store, bench, operator(bench, "lead"), lpn, policy=policy, reason="risk_cleared",
                   now=T0 + timedelta(days=3))
    assert done.ok and done.path == "liquidate"
    count, rows = moved_since(store, T0 + timedelta(days=2))
    assert count == 1 and rows[0].trigger_id == "approval-liquidate"


def test_hold_default_path_rerouted(store, bench, policy):
    view = receive_held(store, bench, operator(bench, "clerk"), code="1Z999AA19999999999", hold=policy.hold, now=T0)
    assert run_pass(store, "B07", policy, now=T0 + timedelta(days=6)).fired == []
    (f,) = run_pass(store, "B07", policy, now=T0 + timedelta(days=8)).fired
    assert (f.lpn, f.previous, f.target) == (view.lpn, "liquidate", "recycle")
    with store.read() as s:
        assert s.get(Hold, view.lpn).default_path == "recycle"


def test_a_unit_mid_inspection_is_untouched_until_it_is_finished(store, bench, policy):
    lpn = received_unit(store, 1, T0)
    with store.write() as s:  # a grader has it open
        u = s.get(Unit, lpn)
        u.state = "inspecting"
        s.add(u)
    out = run_pass(store, "B07", policy, now=T0 + timedelta(days=3))
    assert out.fired == [] and out.deferred == 1
    assert unit(store, lpn).lane != "express" and events_of(store, lpn, "age_trigger_fired") == []
    assert run_pass(store, "B07", policy, now=T0 + timedelta(days=3, hours=1)).fired == []
    with store.write() as s:  # the grader finishes: graded
        u = s.get(Unit, lpn)
        u.state, u.grade, u.inspected_at = "graded", "B", T0 + timedelta(days=3, hours=2)
        s.add(u)
    (f,) = run_pass(store, "B07", policy, now=T0 + timedelta(days=3, hours=3)).fired
    assert f.trigger_id == "slow-receipt" and unit(store, lpn).lane == "express"
    (ev,) = events_of(store, lpn, "age_trigger_fired")
    assert ev.payload["deferred"] is True and ev.payload["unit_state"] == "graded"


def test_a_unit_open_on_a_screen_is_busy(store, bench, policy):
    lpn = graded(store, 1, category="apparel", grade="A", price="40.00", at=T0)
    assert run_pass(store, "B07", policy, now=T0 + timedelta(days=31), busy={lpn}).deferred == 1
    assert unit(store, lpn).age_path is None
    assert len(run_pass(store, "B07", policy, now=T0 + timedelta(days=31, minutes=5)).fired) == 1
    assert unit(store, lpn).age_path == "liquidate"


def test_decay_lowers_the_recovery_estimate(store, bench, policy):
    lpn = graded(store, 1, category="apparel", grade="A", price="100.00", at=T0)
    with store.write() as s:
        u = s.get(Unit, lpn)
        u.received_at = T0
        s.add(u)
    fresh = propose(store, bench, lpn, policy=policy, now=T0 + timedelta(days=7)).decision
    assert fresh.decay == Decimal("0.00") and fresh.recovery_value == Decimal("95.00")  # restock A 0.95
    prop = propose(store, bench, lpn, policy=policy, now=T0 + timedelta(days=21))
    aged = prop.decision
    # 21 days waited, 7 of them ordinary handling: 2 weeks x 10 % of 95.00
    assert aged.decay == Decimal("19.00") and aged.recovery_value == Decimal("76.00")
    # the decision shows the decay (the disposition screen's text)
    shown = body(prop, "decide", aged.path, policy).plain
    assert "Recovery estimate 76.00 USD (−19.00: 3 wk waiting)" in shown
    assert prop.option("liquidate").recovery_value == Decimal("32.00")  # 40.00 less 2 weeks x 10 %
    out = dispose(store, bench, operator(bench, "grader"), lpn, policy=policy, now=T0 + timedelta(days=21))
    assert out.recovery_value == Decimal("76.00")
    (ev,) = events_of(store, lpn, "unit_disposed")
    assert ev.payload["decay"] == "19.00" and ev.payload["recovery_value"] == "76.00"
    # the KPIs count it as margin leakage by aging (the bench's own events, as `export kpis` folds them)
    rows = [EventRow(e.station_id, e.seq, e.kind, e.at, e.lpn, e.payload) for e in events_of(store)]
    report = kpi_report(rows, T0, T0 + timedelta(days=30))
    assert [(x.type, x.source, x.value) for x in report.total.leakage] == [("apparel", "aging", Decimal("19.00"))]


BAD = [
    ('state = "lost"\nafter_days = 1\naction = "escalate"', "age_triggers.0", "not a waiting state"),
    ('state = "graded"\nafter_days = 1\naction = "lane"\nlane = "nowhere"', "age_triggers.0.lane", "not in [[lanes]]"),
    ('state = "graded"\nafter_days = 1\naction = "reroute"', "age_triggers.0", "needs `path`"),
    ('state = "graded"\nafter_days = 1\naction = "reroute"\npath = "shred"', "age_triggers.0.path", "no [paths.shred]"),
    ('state = "graded"\naction = "escalate"', "age_triggers.0", "after_days or after_hours"),
    ('state = "graded"\nafter_days = 1\naction = "escalate"\nwhen = { grade = "Z" }', "age_triggers.0.when.grade",
     "unknown grade"),
    ('state = "graded"\nafter_days = 1\naction = "escalate"\nwhen = { answers = { a = "b" } }',
     "age_triggers.0.when.answers", "Extra inputs"),
]


@pytest.mark.parametrize(("body", "key", "why"), BAD)
def test_triggers_are_validated_like_rules(tmp_path, body, key, why):
    from pathlib import Path

    import dockstation
    from dockstation.config import CodesConfig, load_layered

    text = (Path(dockstation.__file__).parent.parent / "config" / "policy.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("[[rules]]", f'[[age_triggers]]\nid = "x"\nreason = "r"\n{body}\n\n[[rules]]', 1))
    codes = load_layered("codes.toml", CodesConfig, None, required=True)
    with pytest.raises(ConfigError) as err:
        load_policy_file(bad, codes)
    assert key in str(err.value) and why in str(err.value), str(err.value)


UNSORTED = """
[[age_triggers]]
id = "unsorted-4h"
state = "unsorted"
after_hours = 4
action = "escalate"
reason = "Disposed 4 hours ago and in no container"
"""


def test_a_disposed_unit_not_sorted_into_a_container_is_raised_to_the_lead(home, store, bench):
    from dockstation.containers import open_container, put

    (home / "config" / "policy.toml").write_text(UNSORTED)
    policy = load_policy(home)
    grader = operator(bench, "grader")
    before = graded(store, 1, category="apparel", grade="C", price="20.00", at=T0)
    dispose(store, bench, grader, before, policy=policy, now=T0)  # before the bench's first container
    ct = open_container(store, "B07", "9001", policy=policy, paths=["liquidate"], queue_label=False,
                        now=T0 + timedelta(hours=1))
    waiting, sorted_ = (graded(store, n, category="apparel", grade="C", price="20.00", at=T0 + timedelta(hours=2))
                        for n in (2, 3))
    for lpn in (waiting, sorted_):
        assert dispose(store, bench, grader, lpn, policy=policy, now=T0 + timedelta(hours=2)).path == "liquidate"
    assert put(store, "B07", "2001", sorted_, ct.id, policy=policy, now=T0 + timedelta(hours=3)).status == "sorted"
    assert run_pass(store, "B07", policy, now=T0 + timedelta(hours=5)).fired == []
    (f,) = run_pass(store, "B07", policy, now=T0 + timedelta(hours=6, minutes=1)).fired
    assert (f.lpn, f.trigger_id, f.action) == (waiting, "unsorted-4h", "escalate")
    assert run_pass(store, "B07", policy, now=T0 + timedelta(days=2)).fired == []  # once
    (ev,) = events_of(store, waiting, "age_trigger_fired")
    assert ev.payload["state"] == "unsorted" and ev.payload["unit_state"] == "disposed"


def test_an_unsorted_unit_takes_only_escalate(tmp_path):
    from pathlib import Path

    import dockstation

    text = (Path(dockstation.__file__).parent.parent / "config" / "policy.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("[[rules]]", '[[age_triggers]]\nid = "x"\nreason = "r"\nstate = "unsorted"\n'
                                "after_days = 1\naction = \"lane\"\nlane = \"express\"\n\n[[rules]]", 1))
    with pytest.raises(ConfigError, match="takes only action = escalate"):
        load_policy_file(bad)
