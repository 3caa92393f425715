"""Simulation on history, through the core and through `dockstation policy check/simulate`."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from click.testing import CliRunner

from dockstation.cli import main
from dockstation.config import package_config_dir
from dockstation.policy import dispose, load_policy_file, simulate
from dockstation.types import utcnow

from policy_support import graded, operator

DEFAULT = package_config_dir() / "policy.toml"


@pytest.fixture
def candidate(tmp_path):
    """The default policy with the refurbishment threshold raised from 80 to 150."""
    text = DEFAULT.read_text()
    assert 'value_at_least = "80.00"' in text and 'version = "2026.11-1"' in text
    path = tmp_path / "raise-refurb.toml"
    path.write_text(text.replace('value_at_least = "80.00"', 'value_at_least = "150.00"')
                        .replace('version = "2026.11-1"', 'version = "2026.12-rc1"'))
    return path


@pytest.fixture
def history(store, bench, policy):
    """Phones of grade C at prices around both thresholds, plus units no threshold touches."""
    old = utcnow() - timedelta(days=40)
    graded(store, 1, category="phones", grade="C", price="50.00")     # liquidate in both
    graded(store, 2, category="phones", grade="C", price="100.00")    # refurbish -> liquidate
    graded(store, 3, category="phones", grade="C", price="120.00", at=old)  # moves, but is old
    graded(store, 4, category="phones", grade="C", price="149.99")    # refurbish -> liquidate
    graded(store, 5, category="phones", grade="C", price="150.00")    # refurbish in both
    graded(store, 6, category="apparel", grade="A", price="40.00")    # restock in both
    graded(store, 7, category="phones", grade="D", price="100.00", flags=("serial_mismatch",))  # quarantine
    lpn = graded(store, 8, category="laptops", grade="D", price="90.00")  # refurbish -> liquidate
    # a stored override changes nothing: both sides are replayed
    dispose(store, bench, operator(bench, "grader"), lpn, policy=policy, path="donate", approver="9001",
            approval_reason="local_demand")
    graded(store, 9, category="toys", grade="B", price="30.00", state="received")  # not graded: skipped
    return store


def test_a_changed_threshold_moves_exactly_the_units_between_the_thresholds(history, policy, candidate):
    sim = simulate(history, policy, load_policy_file(candidate))
    assert sim.units == 8
    moved = {c.lpn: (c.old_path, c.new_path, c.old_value, c.new_value, c.delta) for c in sim.changed}
    # refurbish: price x 0.65 - cost (phones 35, laptops 60); liquidate: price x 0.25 (grade C), 0.12 (D)
    assert moved == {
        "B07-00000002": ("refurbish", "liquidate", Decimal("30.00"), Decimal("25.00"), Decimal("-5.00")),
        "B07-00000003": ("refurbish", "liquidate", Decimal("43.00"), Decimal("30.00"), Decimal("-13.00")),
        "B07-00000004": ("refurbish", "liquidate", Decimal("62.49"), Decimal("37.50"), Decimal("-24.99")),
        "B07-00000008": ("refurbish", "liquidate", Decimal("0.00"), Decimal("10.80"), Decimal("10.80")),
    }
    assert sim.delta == sum(c.delta for c in sim.changed) == Decimal("-32.19")
    assert sim.in_force.mix["refurbish"][0] == 5 and sim.candidate.mix["refurbish"][0] == 1
    assert sim.candidate.mix["liquidate"][0] == sim.in_force.mix["liquidate"][0] + 4
    assert sim.in_force.version == "2026.11-1" and sim.candidate.version == "2026.12-rc1"
    assert sum(m[0] for m in sim.candidate.mix.values()) == 8


def test_the_same_policy_changes_nothing(history, policy):
    sim = simulate(history, policy, policy)
    assert sim.changed == [] and sim.delta == 0 and sim.value_changed == 0


def test_since_limits_the_replay(history, policy, candidate):
    sim = simulate(history, policy, load_policy_file(candidate), since=utcnow() - timedelta(days=10))
    assert sim.units == 7 and {c.lpn for c in sim.changed} == {"B07-00000002", "B07-00000004", "B07-00000008"}


def _run(home, *args):
    return CliRunner().invoke(main, ["--home", str(home), "policy", *args])


def test_cli_simulate_json_follows_the_contract(home, history, candidate):
    res = _run(home, "simulate", str(candidate), "--format", "json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["policy_in_force"]["version"] == "2026.11-1" and out["candidate"]["version"] == "2026.12-rc1"
    assert out["policy_in_force"]["mix"]["refurbish"] == {"count": 5, "value": "197.99"}
    assert Decimal(out["candidate"]["total_recovery"]) - Decimal(out["policy_in_force"]["total_recovery"]) \
        == Decimal("-32.19") == Decimal(out["delta_recovery"])
    changed = {c["lpn"]: c for c in out["changed"]}
    assert set(changed) == {"B07-00000002", "B07-00000003", "B07-00000004", "B07-00000008"}
    assert {k: changed["B07-00000002"][k] for k in ("old_path", "new_path", "old_value", "new_value", "delta")} \
        == {"old_path": "refurbish", "new_path": "liquidate", "old_value": "30.00", "new_value": "25.00", "delta": "-5.00"}

    since = _run(home, "simulate", str(candidate), "--format", "json", "--since", (utcnow() - timedelta(days=10)).date().isoformat())
    assert since.exit_code == 0 and len(json.loads(since.stdout)["changed"]) == 3


def test_cli_simulate_csv_and_table(home, history, candidate):
    res = _run(home, "simulate", str(candidate), "--format", "csv")
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert [r["lpn"] for r in rows] == ["B07-00000002", "B07-00000003", "B07-00000004", "B07-00000008"]
    assert rows[0]["delta"] == "-5.00" and "delta -32.19" in res.stderr
    table = _run(home, "simulate", str(candidate))
    assert table.exit_code == 0, table.output
    assert "Recovery delta: -32.19; 4 units change path" in table.stdout
    assert "B07-00000004" in table.stdout and "refurb-electronics → liquidate-c-d" in table.stdout


def test_cli_check_prints_the_rules_and_refuses_a_bad_file(home, tmp_path):
    ok = _run(home, "check", str(DEFAULT))
    assert ok.exit_code == 0, ok.output
    assert "valid, 14 rules" in ok.stdout and "restock-a" in ok.stdout and "specialist" in ok.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text(DEFAULT.read_text().replace('path = "restock"', 'path = "resell"', 1))
    res = _run(home, "check", str(bad))
    assert res.exit_code == 1
    assert f"{bad}: rules.5.path:" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    missing = _run(home, "check", str(tmp_path / "nope.toml"))
    assert missing.exit_code == 1 and "cannot read" in missing.stderr


def test_cli_simulate_refuses_bad_input(home, candidate, tmp_path):
    res = _run(home, "simulate", str(candidate))
    assert res.exit_code == 1 and "no bench store" in res.stderr
    res = _run(home, "simulate", str(candidate), "--since", "last tuesday")
    assert res.exit_code == 2 and "expected a date" in res.stderr
