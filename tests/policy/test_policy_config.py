"""policy.toml: the default loads; bad files are refused with file, key and reason."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from dockstation.config import ConfigError, load_layered, CodesConfig, package_config_dir
from dockstation.policy import PATHS, load_policy, load_policy_file, policy_for_home
from dockstation.policy import config as pconfig

DEFAULT = package_config_dir() / "policy.toml"


def test_default_policy_is_valid_and_covers_every_path_and_grade(default_policy):
    assert default_policy.version
    assert set(default_policy.paths) == set(PATHS)
    assert default_policy.rules[-1].when.empty
    # Undeclared items (issue 16) and risk-flagged units go to a lead before anything else.
    assert default_policy.rules[0].id == "undeclared-item" and default_policy.rules[0].path == "quarantine"
    assert default_policy.rules[1].path == "quarantine" and default_policy.rules[1].when.flagged is True
    codes = load_layered("codes.toml", CodesConfig, None)
    for path in ("restock", "open_box", "refurbish", "liquidate", "vendor_return"):
        assert {g.code for g in codes.grades} <= set(default_policy.paths[path].rates)
    assert [l.name for l in default_policy.lanes] == ["express", "standard", "specialist", "bulk"]


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "candidate.toml"
    p.write_text(text)
    return p


def _edit(old: str, new: str) -> str:
    text = DEFAULT.read_text()
    assert old in text, old
    return text.replace(old, new, 1)


@pytest.mark.parametrize("old,new,key,reason", [
    ('path = "restock"', 'path = "resell"', "rules.5.path", "Input should be"),
    ('when = { grade = ["A", "B"] }', 'when = { grade = ["A", "Z"] }', "rules.6.when.grade", "unknown grade 'Z'"),
    ('id = "open-box"', 'id = "restock-a"', "rules.6.id", "repeats rules.5"),
    ('id = "fallback"\n', 'id = "fallback"\nwhen = { grade = ["A"] }\n', "rules.13.when", "must match every unit"),
    ('risk_lane = "specialist"', 'risk_lane = "vip"', "triage.risk_lane", "lane 'vip' is not in"),
    ('{ at_least = "0", lane = "bulk" }', '{ at_least = "1", lane = "bulk" }', "triage.density.2.at_least", "last band must be 0"),
    ('rates = { A = 0.95,', 'rates = { Z = 0.95,', "paths.restock.rates.Z", "unknown grade 'Z'"),
    ('when = { flagged = true }', 'when = { flaged = true }', "rules.1.when.flaged", "Extra inputs"),
    ('version = "2026.11-1"', 'version = ""', "version", "at least 1"),
])
def test_a_bad_candidate_is_refused_with_file_key_and_reason(tmp_path, old, new, key, reason):
    f = _write(tmp_path, _edit(old, new))
    codes = load_layered("codes.toml", CodesConfig, None)
    with pytest.raises(ConfigError) as err:
        load_policy_file(f, codes)
    assert err.value.file == str(f)
    assert err.value.key == key
    assert reason in err.value.reason


def test_not_toml_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_policy_file(_write(tmp_path, "rules = [[["))


def test_a_site_layer_overrides_keys_and_is_blamed_for_its_errors(home):
    (home / "config" / "policy.toml").write_text('version = "site-7"\n[approvals]\nvalue_threshold = "100"\n')
    p = load_policy(home)
    assert p.version == "site-7" and str(p.approvals.value_threshold) == "100"
    assert p.approvals.value_paths == ["dispose", "liquidate"]  # the rest merged from the package
    (home / "config" / "policy.toml").write_text('[[rules]]\nid = "x"\npath = "restock"\nreason = "r"\n'
                                                 'when = { grade = "Q" }\n')
    with pytest.raises(ConfigError) as err:
        load_policy(home)
    assert err.value.file == str(home / "config" / "policy.toml")
    assert err.value.key == "rules.0.when"  # the only rule is also the last: it must be unconditional


def test_policy_for_home_caches_and_keeps_the_last_good_policy(home):
    site = home / "config" / "policy.toml"
    site.write_text('version = "v-good"\n')
    first = policy_for_home(home)
    assert first.version == "v-good" and policy_for_home(home) is first  # cached
    site.write_text('version = "v-bad"\n[approvals]\nvalue_threshold = "-1"\n')
    kept = policy_for_home(home)
    assert kept is first  # refused: the last good one stays in force
    assert pconfig.last_error[home].key == "approvals.value_threshold"
    site.write_text('version = "v-next"\n')
    assert policy_for_home(home).version == "v-next" and home not in pconfig.last_error


def test_a_candidate_file_is_a_whole_policy(tmp_path):
    f = _write(tmp_path, 'version = "only-a-version"\n')
    with pytest.raises(ConfigError) as err:
        load_policy_file(f)
    assert err.value.key in {"lanes", "triage", "paths", "rules", "approval_reasons"}


def test_the_shipped_file_parses_as_plain_toml():
    # the package file itself is what `policy check` users copy: keep it readable TOML
    data = tomllib.loads(DEFAULT.read_text())
    assert data["rules"][-1].get("when") is None
