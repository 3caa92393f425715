"""Layered, validated configuration: a bad file is refused with file, key and reason."""

from __future__ import annotations

import pytest

from dockstation.config import ConfigError, load_bench_config


def test_defaults_load_with_the_station_id_from_home(home):
    cfg = load_bench_config(home)
    assert cfg.station.station_id == "B07"
    assert [g.code for g in cfg.codes.grades] == ["A", "B", "C", "D", "F"]
    assert cfg.operators.by_badge("9001").role == "lead"


def test_home_overrides_merge_key_by_key(home):
    (home / "config" / "codes.toml").write_text('[reason_codes]\nsite_special = "Site reason"\n')
    cfg = load_bench_config(home)
    assert cfg.codes.reason_codes["site_special"] == "Site reason"
    assert "defective" in cfg.codes.reason_codes  # package defaults still there


@pytest.mark.parametrize(
    ("file", "text", "key", "reason"),
    [
        ("station.toml", 'station_id = "b 07"\n', "station_id", "pattern"),
        ("station.toml", 'station_id = "B07"\n[wedge]\nmax_gap_ms = -1\n', "wedge.max_gap_ms", "greater than 0"),
        ("station.toml", 'station_id = "B07"\n[[scanners]]\nname = "x"\nport = "/dev/x"\nparity = "Q"\n',
         "scanners.0.parity", "Input should be"),
        ("station.toml", 'station_id = "B07"\nbogus = 1\n', "bogus", "Extra inputs"),
        ("operators.toml", '[[operators]]\nbadge = "1"\nname = "A"\nrole = "boss"\n', "operators.0.role", "clerk"),
        ("codes.toml", "[patterns]\nrma = '(['\n", "patterns", "regular expression"),
        ("station.toml", 'station_id = "B07\n', "", "not valid TOML"),
    ],
)
def test_bad_files_are_refused_naming_file_key_and_reason(home, file, text, key, reason):
    (home / "config" / file).write_text(text)
    with pytest.raises(ConfigError) as info:
        load_bench_config(home)
    err = info.value
    assert err.file == str(home / "config" / file)
    assert err.key.startswith(key)
    assert reason in err.reason


def test_missing_station_file_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="station.toml"):
        load_bench_config(tmp_path)
