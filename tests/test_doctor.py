"""`dockstation doctor` through the CLI, against a real HQ on loopback (issue 14, item 10)."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner
from hq_loopback import LoopbackHQ

from dockstation.cli import main
from dockstation.doctor import Check, _clock, _State
from dockstation.store import DB_NAME, LATEST, Store
from sync.hq.db import add_station


@pytest.fixture
def hq(tmp_path):
    server = LoopbackHQ(tmp_path / "hq.sqlite3")
    yield server
    server.stop()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def station(home: Path, extra: str) -> None:
    (home / "config" / "station.toml").write_text(f'station_id = "B07"\n{extra}')


def doctor(home: Path, *args: str):
    return CliRunner().invoke(main, ["--home", str(home), "doctor", *args])


def by_name(result) -> dict[str, dict]:
    return {c["name"]: c for c in json.loads(result.stdout)["checks"]}


def test_a_healthy_bench_passes_every_check_one_line_each(home, store, hq):
    token = add_station(hq.db, "B07", site="SITE1")
    station(home, f'[hq]\nurl = "{hq.url}"\ntoken = "{token}"\n[printer]\nurl = "dir://{home}/labels"\n')
    result = doctor(home)
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert [line.split()[2] for line in lines] == ["config", "operators", "home", "store", "photos", "printer",
                                                    "scanners", "cameras", "hq", "clock", "log"]
    assert all(line.startswith("✔ ok") for line in lines), result.stdout
    assert "token accepted" in result.stdout and "of HQ" in result.stdout
    assert str(home / "logs" / "dockstation.log") in lines[-1]
    assert token not in result.output

    as_json = doctor(home, "--format", "json")
    assert as_json.exit_code == 0
    report = json.loads(as_json.stdout)
    assert report["ok"] is True and report["log_file"] == str(home / "logs" / "dockstation.log")
    assert {c["status"] for c in report["checks"]} == {"ok"}


def test_a_broken_bench_fails_with_the_reasons_and_a_non_zero_exit(home, store, hq, tmp_path):
    add_station(hq.db, "B07", site="SITE1")
    station(home, f'[hq]\nurl = "{hq.url}"\ntoken = "not-the-token"\n'
                  f'[printer]\nurl = "tcp://127.0.0.1:{closed_port()}?timeout=2"\n'
                  f'[[scanners]]\nname = "front"\nport = "{tmp_path}/usb-Acme-if00"\n')
    (home / "config" / "operators.toml").unlink()
    result = doctor(home, "--format", "json")
    assert result.exit_code == 1
    checks = by_name(result)
    assert checks["hq"]["status"] == "fail" and "refuses the token" in checks["hq"]["detail"]
    assert checks["printer"]["status"] == "fail" and "not reachable" in checks["printer"]["detail"]
    assert checks["scanners"]["status"] == "fail" and "front" in checks["scanners"]["detail"]
    assert checks["operators"]["status"] == "fail" and "nobody can sign in" in checks["operators"]["detail"]
    assert checks["clock"]["status"] == "ok"  # HQ answered (401), its Date header still tells the time
    assert result.stderr.strip() == "dockstation: 4 check(s) failed: operators, printer, scanners, hq"


def test_hq_unreachable_fails_and_the_clock_is_skipped(home, store):
    station(home, f'[hq]\nurl = "http://127.0.0.1:{closed_port()}"\ntoken = "t0k3n-value"\n')
    checks = by_name(doctor(home, "--format", "json"))
    assert checks["hq"]["status"] == "fail" and "unreachable" in checks["hq"]["detail"]
    assert checks["clock"]["status"] == "skip"


def test_without_hq_the_bench_is_offline_not_failing(home, store):
    result = doctor(home)
    assert result.exit_code == 0
    assert "- skip  hq" in result.stdout and "works offline" in result.stdout


def test_a_bad_config_a_newer_or_damaged_store_and_a_missing_home_fail(home, tmp_path):
    store = Store.in_home(home)
    store.close()
    (home / "config" / "station.toml").write_bytes(b'station_id = "B07"\nsite = "Lyon \xe9"\n')
    import sqlite3

    conn = sqlite3.connect(home / DB_NAME)
    conn.execute(f"PRAGMA user_version={LATEST + 1}")
    conn.close()
    checks = by_name(doctor(home, "--format", "json"))
    assert checks["config"]["status"] == "fail" and "not UTF-8" in checks["config"]["detail"]
    assert checks["store"]["status"] == "fail" and "newer than this release" in checks["store"]["detail"]

    conn = sqlite3.connect(home / DB_NAME)
    conn.execute(f"PRAGMA user_version={LATEST}")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray((home / DB_NAME).read_bytes())
    for page in range(4096, len(data), 4096):  # every table's page header overwritten
        data[page:page + 8] = b"\xff" * 8
    (home / DB_NAME).write_bytes(bytes(data))
    checks = by_name(doctor(home, "--format", "json"))
    assert checks["store"]["status"] == "fail" and "delete nothing" in checks["store"]["detail"]

    result = doctor(tmp_path / "nowhere")
    assert result.exit_code == 1 and "no bench in" in result.stdout
    assert not (tmp_path / "nowhere").exists()  # the doctor changes nothing


@pytest.mark.parametrize(("skew", "status"), [(0.4, "ok"), (-30, "warn"), (600, "fail"), (-3600, "fail")])
def test_clock_skew_against_hq(skew, status, tmp_path):
    st = _State(tmp_path)
    st.skew_s = skew
    check = _clock(st)
    assert isinstance(check, Check) and check.status == status
    if status != "ok":
        assert ("ahead of" if skew > 0 else "behind") in check.detail


def test_the_doctor_command_is_in_the_readme():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert "dockstation doctor" in readme and os.path.join("logs", "dockstation.log") in readme
