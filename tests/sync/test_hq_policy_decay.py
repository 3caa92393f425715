"""Issue 20 at HQ: the console's rule replay (sync/hq/policy_history.py) decays a unit's recovery
estimate by the wait from receipt to the decision — the same wait (simulate.waited_days) and the
same formula (decide.decay_of) as the bench's `policy simulate` and as the trigger replay. SQLite
and PostgreSQL; the hand-worked history of console_data.py."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from console_data import load

from dockstation.config import package_config_dir
from dockstation.policy import load_policy_file
from dockstation.policy.decide import decide
from dockstation.policy.simulate import replay
from sync.hq.policy_history import hq_history
from sync.hq.trigger_history import _with_facts, hq_timelines

POLICY = (package_config_dir() / "policy.toml").read_text()
# the hand table: receipt to the (latest) decision, in hours
WAITED_HOURS = {"B07-00000001": 10, "B07-00000002": 21, "B07-00000003": 24, "B08-00000001": 4, "C01-00000001": 48}


def policy_with_decay(tmp_path: Any, rates: str) -> Any:
    text = POLICY.replace("[decay]\nrates = {}\nafter_days = 7", f"[decay]\nrates = {rates}\nafter_days = 0", 1)
    assert text != POLICY
    path = tmp_path / f"decay-{len(rates)}.toml"
    path.write_text(text)
    return load_policy_file(path)


@pytest.fixture
def history(hq_db: Any, tmp_path: Any) -> Any:
    load(hq_db, tmp_path)
    return hq_db


def test_the_rule_replay_decays_by_the_wait_from_receipt_to_the_decision(history, tmp_path):
    plain = load_policy_file(package_config_dir() / "policy.toml")
    decaying = policy_with_decay(tmp_path, "{ phones = 0.5, default = 0.25 }")
    facts = dict(hq_history(history, decaying))
    assert {lpn: round(f.days_waiting * 24, 6) for lpn, f in facts.items()} == WAITED_HOURS
    sim = replay(facts.items(), plain, decaying)
    expected = Decimal(0)
    for lpn, f in facts.items():  # the bench's own decision, with the wait from the hand table
        d = decide(decaying, replace(f, days_waiting=WAITED_HOURS[lpn] / 24))
        expected += d.recovery_value
        if f.category == "phones":
            assert d.decay > 0  # this history's waits do decay under this policy
    assert sim.candidate.total_recovery == expected < sim.in_force.total_recovery
    assert sim.value_changed >= 3  # the phones, on the same path, estimated lower


def test_the_trigger_replay_sees_the_same_decayed_facts(history, tmp_path):
    decaying = policy_with_decay(tmp_path, "{ default = 0.3 }")
    rules = dict(hq_history(history, decaying))
    merged = {tl.lpn: f for tl, f in _with_facts(hq_timelines(history), hq_history(history, decaying)) if f}
    assert merged == rules and all(f.days_waiting > 0 for f in merged.values())
