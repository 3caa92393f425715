"""Hostile manifest rows (issue 14 item 6), through the CLI, at the bench and at HQ.

Each bad row is refused with its line number and reason, the good rows load, and nothing odd is
stored: numbers beyond the integer columns, prices in exponent notation or without bound, NUL
characters. A folder given as the file is refused with exit 1 like any unreadable file.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from dockstation import manifest_feed
from dockstation.cli import main
from dockstation.store import DB_NAME
from tests.test_manifest import GOOD, row, write

HUGE = str(2**63)  # one past SQLite's INTEGER: used to crash the whole import


def _import(home: Path, path: Path):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["--home", str(home), "manifest", "import", str(path)])


def _lines(home: Path) -> dict[str, tuple]:
    conn = sqlite3.connect(home / DB_NAME)
    try:
        return {r[0]: r[1:] for r in conn.execute(
            "SELECT rma_id, line_no, qty, unit_price, description FROM rma_line")}
    finally:
        conn.close()


REFUSED = [
    ({"qty": HUGE}, "qty: 9223372036854775808 is above the limit of 100000"),
    ({"line_no": HUGE}, "line_no: 9223372036854775808 is above the limit of 999999"),
    ({"qty": str(2**31)}, "qty: 2147483648 is above the limit"),
    ({"line_no": "9" * 5000}, "line_no and qty must be whole numbers"),
    ({"qty": "-" + HUGE}, "line_no and qty must be 1 or more"),
    ({"unit_price": "1e3"}, "unit_price: must be a plain decimal number"),
    ({"unit_price": "1e999"}, "unit_price: must be a plain decimal number"),
    ({"unit_price": "Infinity"}, "unit_price: must be a plain decimal number"),
    ({"unit_price": "1000000.01"}, "unit_price: 1000000.01 is above the limit of 1000000"),
    ({"unit_price": "5.123456"}, "unit_price: must be a plain decimal number ≥ 0 with at most 4 decimals"),
    ({"unit_price": " 5.00"}, "unit_price: must be a plain decimal number"),
    ({"unit_price": "+5"}, "unit_price: must be a plain decimal number"),
    ({"description": "Phone\x00X"}, "description: holds a NUL character"),
    ({"sku": "\x00"}, "sku: holds a NUL character"),
    ({"order_id": "O-\x001"}, "order_id: holds a NUL character"),
]


@pytest.mark.parametrize(("change", "reason"), REFUSED, ids=[r[1][:40] for r in REFUSED])
def test_a_hostile_row_is_refused_with_its_line_and_the_good_rows_load(home, tmp_path, change, reason):
    rows = [*GOOD, row("RMA-BAD-1", **change), row("RMA-2026-000010")]
    res = _import(home, write(tmp_path / "m.csv", rows))
    assert res.exit_code == 2, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert "5 rows: 4 inserted, 0 updated, 0 unchanged, 1 refused" in res.output
    assert f"  line 5: {reason}" in res.output, res.output
    stored = _lines(home)
    assert "RMA-BAD-1" not in stored and "RMA-2026-000010" in stored
    assert not any("\x00" in str(v) for values in stored.values() for v in values)


ACCEPTED = [("0", "0"), ("0.5", "0.5"), ("1000000", "1000000"), ("1000000.0000", "1000000.0000"),
            ("12.50", "12.50"), ("007.1", "7.1")]


@pytest.mark.parametrize(("price", "stored"), ACCEPTED)
def test_plain_prices_within_the_bound_load_as_written(home, tmp_path, price, stored):
    res = _import(home, write(tmp_path / "m.csv", [row("RMA-P", unit_price=price, qty=100_000, line=999_999)]))
    assert res.exit_code == 0, res.output
    assert _lines(home)["RMA-P"] == (999_999, 100_000, stored, "Phone X 128GB")


def test_the_parser_process_refuses_the_same_rows(home, tmp_path, monkeypatch):
    monkeypatch.setattr(manifest_feed, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(manifest_feed, "_spare_cpu", lambda: True)
    calls = []
    real_popen = manifest_feed.subprocess.Popen
    monkeypatch.setattr(manifest_feed.subprocess, "Popen", lambda *a, **kw: calls.append(a) or real_popen(*a, **kw))
    rows = [*GOOD, row("RMA-H1", qty=HUGE), row("RMA-H2", unit_price="1e999"),
            row("RMA-H3", description="a\x00b"), row("RMA-H4")]
    res = _import(home, write(tmp_path / "m.csv", rows))
    assert calls and res.exit_code == 2, res.output
    assert "7 rows: 4 inserted, 0 updated, 0 unchanged, 3 refused" in res.output
    assert "line 5: qty:" in res.output and "line 6: unit_price:" in res.output and "line 7: description:" in res.output


def test_a_folder_given_as_the_file_is_refused_with_exit_1(home, tmp_path):
    folder = tmp_path / "manifests"
    folder.mkdir()
    res = _import(home, folder)
    assert res.exit_code == 1, res.output
    assert res.output.strip().splitlines() == [f"dockstation: {folder}: file refused: is a folder, not a CSV file"]


def test_a_missing_file_is_refused_with_exit_1(home, tmp_path):
    res = _import(home, tmp_path / "nope.csv")
    assert res.exit_code == 1
    assert "file refused: no such file" in res.output


# -- HQ reads manifests with the same parser: the same rows are refused there ---------------------
def test_hq_import_refuses_the_same_rows_and_a_folder(tmp_path):
    db = f"sqlite:///{tmp_path / 'hq.sqlite3'}"
    runner = CliRunner()
    rows = [*GOOD, row("RMA-H1", line_no=HUGE), row("RMA-H2", unit_price="1e3"),
            row("RMA-H3", expected_serial="SN\x00"), row("RMA-H4")]
    res = runner.invoke(main, ["hq", "import-manifest", str(write(tmp_path / "m.csv", rows)), "--db", db])
    assert res.exit_code == 2, res.output
    assert "line 5: line_no:" in res.output and "line 6: unit_price:" in res.output
    assert "line 7: expected_serial: holds a NUL character" in res.output
    conn = sqlite3.connect(tmp_path / "hq.sqlite3")
    try:
        assert {r[0] for r in conn.execute("SELECT rma_id FROM hq_rma")} == {
            "RMA-2026-000001", "RMA-2026-000002", "RMA-H4"}
    finally:
        conn.close()
    folder = tmp_path / "folder"
    folder.mkdir()
    res = runner.invoke(main, ["hq", "import-manifest", str(folder), "--db", db])
    assert res.exit_code == 1 and "is a folder, not a CSV file" in res.output
