"""`dockstation policy simulate` replays the candidate's age triggers over a hand-built history:
what they would have moved, recovered or lost (issue 20)."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner
from sqlmodel import select

import dockstation
from dockstation.cli import main
from dockstation.models import ApprovalRequest, Hold, Inspection, Unit
from dockstation.policy import load_policy_file
from dockstation.policy.simulate import simulate
from dockstation.policy.trigger_sim import replay_triggers, timelines
from dockstation.types import utcnow
from policy_support import graded

CANDIDATE_TRIGGERS = """
[[age_triggers]]
id = "apparel-30d"
state = "received"
after_days = 30
when = { category = "apparel" }
action = "reroute"
path = "liquidate"
reason = "Apparel past its resale window"

[[age_triggers]]
id = "ungraded-2d"
state = "received"
after_days = 2
when = { category = "phones" }
action = "lane"
lane = "express"
reason = "Grade it next"

[[age_triggers]]
id = "approval-24h"
state = "awaiting_approval"
after_hours = 24
action = "escalate"
reason = "Waiting a day for a lead"

[[age_triggers]]
id = "held-10d"
state = "held"
after_days = 10
action = "reroute"
path = "recycle"
reason = "Held 10 days"
"""


def candidate_file(tmp_path: Path) -> Path:
    text = (Path(dockstation.__file__).parent.parent / "config" / "policy.toml").read_text()
    text = text.replace('version = "2026.11-1"', 'version = "2026.12-aging"')
    path = tmp_path / "candidate.toml"
    path.write_text(text.replace("[[rules]]", CANDIDATE_TRIGGERS + "\n[[rules]]", 1))
    return path


def history(store, now):
    """Five units, each a case worked out by hand."""
    def edit(lpn, **kw):
        with store.write() as s:
            u = s.get(Unit, lpn)
            for k, v in kw.items():
                setattr(u, k, v)
            s.add(u)

    # 1. apparel, 35 days ungraded, then disposed restock (A: 0.95 x 40.00 = 38.00); liquidate would
    #    have recovered 0.40 x 40.00 = 16.00: a loss of 22.00
    u1 = graded(store, 1, category="apparel", grade="A", price="40.00", at=now - timedelta(days=5), state="disposed")
    edit(u1, received_at=now - timedelta(days=40), disposed_at=now - timedelta(days=5), disposition="restock")
    # 2. apparel graded the day after receipt: never waited 30 days
    u2 = graded(store, 2, category="apparel", grade="A", price="40.00", at=now - timedelta(days=9))
    edit(u2, received_at=now - timedelta(days=10))
    # 3. a phone received 3 days ago, not graded yet: moved to express
    u3 = graded(store, 3, category="phones", grade=None, price="300.00", at=now, state="received")
    edit(u3, received_at=now - timedelta(days=3), inspected_at=None, grade=None)
    with store.write() as s:
        for insp in s.exec(select(Inspection).where(Inspection.lpn == u3)):
            s.delete(insp)
    # 4. a phone waiting two days for a lead: escalated
    u4 = graded(store, 4, category="phones", grade="B", price="300.00", at=now - timedelta(days=3),
                state="awaiting_approval")
    with store.write() as s:
        s.add(ApprovalRequest(lpn=u4, path="liquidate", policy_path="refurbish", rule_id="r", kind="override",
                              requested_at=now - timedelta(days=2), requested_by="2001"))
    # 5. a blind receipt held 12 days: its default re-routed
    u5 = graded(store, 5, category="", grade=None, price="0", at=now, state="held")
    edit(u5, received_at=now - timedelta(days=12), inspected_at=None, grade=None, rma_id=None, line_no=0)
    with store.write() as s:
        s.add(Hold(lpn=u5, code="X", deadline_at=now + timedelta(days=2)))
    return [u1, u2, u3, u4, u5]


def test_replay_on_a_hand_built_history(store, tmp_path):
    now = utcnow()
    u1, _u2, u3, u4, u5 = history(store, now)
    candidate = load_policy_file(candidate_file(tmp_path))
    from dockstation.policy.simulate import history as graded_history

    facts = dict(graded_history(store, candidate))
    r = replay_triggers(timelines(store), facts, candidate, now)
    got = {(f.lpn, f.trigger_id) for f in r.fired}
    assert got == {(u1, "apparel-30d"), (u3, "ungraded-2d"), (u4, "approval-24h"), (u5, "held-10d")}
    t = r.by_trigger
    assert t["apparel-30d"].units == 1 and t["apparel-30d"].lost == Decimal("22.00") and t["apparel-30d"].recovered == 0
    assert r.delta == Decimal("-22.00")
    (f1,) = [f for f in r.fired if f.lpn == u1]
    assert (f1.old_path, f1.new_path, f1.old_value, f1.new_value) == ("restock", "liquidate", Decimal("38.00"),
                                                                      Decimal("16.00"))
    assert f1.at == now - timedelta(days=10)  # received 40 days ago + 30
    # the same history a day earlier: the phone had waited 2 days exactly, not more; the approval 1 day
    earlier = replay_triggers(timelines(store), facts, candidate, now - timedelta(days=1))
    assert {(f.lpn, f.trigger_id) for f in earlier.fired} == {(u1, "apparel-30d"), (u5, "held-10d")}


def test_policy_simulate_json_lists_what_triggers_would_do(home, store, tmp_path):
    now = utcnow()
    u1, *_ = history(store, now)
    out = CliRunner().invoke(main, ["--home", str(home), "policy", "simulate", str(candidate_file(tmp_path)),
                                    "--format", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    trig = data["triggers"]
    assert trig["in_force"]["by_trigger"] == {}  # the shipped policy has its triggers switched off
    cand = trig["candidate"]
    assert cand["version"] == "2026.12-aging"
    assert {k: v["units"] for k, v in cand["by_trigger"].items()} == {
        "apparel-30d": 1, "ungraded-2d": 1, "approval-24h": 1, "held-10d": 1}
    assert cand["by_trigger"]["apparel-30d"]["lost"] == "22.00" and cand["delta_recovery"] == "-22.00"
    assert [f["lpn"] for f in trig["fired"] if f["trigger_id"] == "apparel-30d"] == [u1]
    table = CliRunner().invoke(main, ["--home", str(home), "policy", "simulate", str(candidate_file(tmp_path))])
    assert table.exit_code == 0 and "Age triggers, candidate 2026.12-aging" in table.output
    assert "apparel-30d" in table.output and "22.00" in table.output
    check = CliRunner().invoke(main, ["--home", str(home), "policy", "check", str(candidate_file(tmp_path))])
    assert check.exit_code == 0 and "Age triggers" in check.output and "held-10d" in check.output


def test_simulate_without_triggers_has_no_triggers_key(store):
    from dockstation.policy import load_policy

    p = load_policy(None)
    assert "triggers" not in simulate(store, p, p).as_json()


def test_replay_of_an_unsorted_trigger_on_hand_built_timelines(tmp_path):
    from datetime import UTC, datetime

    from dockstation.policy.trigger_sim import Timeline

    text = (Path(dockstation.__file__).parent.parent / "config" / "policy.toml").read_text()
    path = tmp_path / "c.toml"
    path.write_text(text.replace("[[rules]]", '[[age_triggers]]\nid = "unsorted-4h"\nstate = "unsorted"\n'
                                 'after_hours = 4\naction = "escalate"\nreason = "r"\n\n[[rules]]', 1))
    policy = load_policy_file(path)
    t0 = datetime(2026, 11, 2, 8, tzinfo=UTC)

    def line(lpn, sortable, sorted_after):
        return Timeline(lpn=lpn, category="toys", lane="bulk", unit_price=Decimal("10"), sku="S", grade="C",
                        flags=frozenset(), received_at=t0 - timedelta(days=1), inspected_at=t0, disposed_at=t0,
                        sortable=sortable, sorted_at=None if sorted_after is None else t0 + sorted_after)

    lines = [line("B07-1", True, timedelta(hours=6)),  # sorted late: it had waited 6 h
             line("B07-2", True, timedelta(hours=2)),  # sorted in time
             line("B07-3", True, None),  # still waiting at as_of
             line("B07-4", False, None)]  # disposed before the bench had containers
    r = replay_triggers(lines, {}, policy, t0 + timedelta(hours=5))
    assert [(f.lpn, f.at) for f in r.fired] == [("B07-1", t0 + timedelta(hours=4)), ("B07-3", t0 + timedelta(hours=4))]
