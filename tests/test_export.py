"""Exports: the Export JSON contract's keys, UTC ISO times, exact decimals, CSV, --since, the CLI."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from click.testing import CliRunner

from dockstation.cli import main
from dockstation.export import columns, export
from dockstation.models import Decision, ScanException, Unit
from dockstation.receiving import handle_scan, sign_in
from dockstation.scan import ScanEvent, classify
from dockstation.types import utcnow

UNIT_KEYS = {"lpn", "rma_id", "line_no", "sku", "category", "station_id", "state", "lane", "grade",
             "disposition", "recovery_value", "received_at", "inspected_at", "disposed_at", "received_by",
             "inspected_by"}
EXCEPTION_KEYS = {"kind", "code", "station_id", "at", "operator", "detail"}


def _scan(bench, store, op, code):
    return handle_scan(store, bench, op, ScanEvent(code, "test", None, utcnow()), classify(code, bench.codes.patterns))


@pytest.fixture
def worked(bench, manifest):
    """Two units (one disposed by an approved override), an exception, their events."""
    op = sign_in(manifest, bench, ScanEvent("OP-1001", "test", None, utcnow()), "1001").operator
    first = _scan(bench, manifest, op, "RMA-2026-000001").unit.lpn
    _scan(bench, manifest, op, "RMA-2026-000003")  # cancelled: an exception
    second = _scan(bench, manifest, op, "RMA-2026-000002")  # two lines: choose
    assert second.status == "choose_line"
    from dockstation.receiving import receive_line

    second_lpn = receive_line(manifest, bench, op, "RMA-2026-000002", 1,
                              ScanEvent("RMA-2026-000002", "test", None, utcnow())).unit.lpn
    now = utcnow()
    with manifest.write() as s:
        unit = s.get(Unit, first)
        unit.state, unit.grade, unit.disposition = "disposed", "B", "open_box"
        unit.recovery_value, unit.inspected_at, unit.disposed_at = Decimal("455.10"), now, now
        unit.inspected_by, unit.risk_flags = "2001", ["serial_mismatch"]
        s.add(unit)
        s.add(Decision(lpn=first, kind="policy", path="refurbish", rule_id="phones-b", recovery_value=Decimal("400"),
                       decided_at=now, decided_by="2001"))
        s.add(Decision(lpn=first, kind="override", path="restock", rule_id="override", reason="sealed box",
                       recovery_value=Decimal("600"), decided_at=now, decided_by="2001", approved_by="9001",
                       approval_reason="checked"))
        s.add(Decision(lpn=first, kind="override", path="open_box", rule_id="override", reason="scuff found",
                       recovery_value=Decimal("455.10"), decided_at=now, decided_by="2001", approved_by="9001",
                       approval_reason="ok"))
    return manifest, first, second_lpn


def _json(store, what, **kw):
    out = io.StringIO()
    n = export(store, what, "json", out, **kw)
    data = json.loads(out.getvalue())
    assert len(data) == n
    return data


def _is_utc_iso(value: str) -> bool:
    dt = datetime.fromisoformat(value)
    return dt.utcoffset() == timedelta(0) and value.endswith("+00:00")


def test_units_json_has_the_contract_keys_utc_times_and_exact_decimals(worked):
    store, first, second = worked
    units = {u["lpn"]: u for u in _json(store, "units")}
    assert set(units) == {first, second}
    u = units[first]
    assert UNIT_KEYS <= set(u)
    assert (u["state"], u["grade"], u["disposition"], u["recovery_value"]) == ("disposed", "B", "open_box", "455.10")
    assert u["station_id"] == "B07" and u["received_by"] == "1001" and u["inspected_by"] == "2001"
    assert all(_is_utc_iso(u[k]) for k in ("received_at", "inspected_at", "disposed_at", "updated_at"))
    assert u["risk_flags"] == ["serial_mismatch"] and u["unit_price"] == "699.00"
    # the last override: who, why, who approved
    assert (u["override_by"], u["override_reason"], u["approved_by"], u["approval_reason"]) == (
        "2001", "scuff found", "9001", "ok")
    v = units[second]
    assert v["inspected_at"] is None and v["override_by"] is None and v["approved_by"] is None


def test_exceptions_and_events_json(worked):
    store, first, _ = worked
    (exc,) = _json(store, "exceptions")
    assert EXCEPTION_KEYS <= set(exc)
    assert (exc["kind"], exc["code"], exc["station_id"], exc["operator"], exc["state"]) == (
        "cancelled", "RMA-2026-000003", "B07", "1001", "open")
    assert _is_utc_iso(exc["at"]) and exc["resolved_at"] is None
    evs = _json(store, "events")
    assert [e["seq"] for e in evs] == list(range(1, len(evs) + 1))
    assert [e["kind"] for e in evs] == ["operator_signed_in", "unit_received", "exception_recorded", "unit_received"]
    assert evs[1]["lpn"] == first and evs[1]["payload"]["unit_price"] == "699.00"
    assert all(_is_utc_iso(e["at"]) for e in evs)


def test_csv_has_a_header_and_the_same_columns(worked):
    store, first, _ = worked
    for what in ("units", "exceptions", "events"):
        out = io.StringIO()
        n = export(store, what, "csv", out)
        rows = list(csv.reader(io.StringIO(out.getvalue())))
        assert tuple(rows[0]) == columns(what) and len(rows) == n + 1
    out = io.StringIO()
    export(store, "units", "csv", out)
    units = {r["lpn"]: r for r in csv.DictReader(io.StringIO(out.getvalue()))}
    assert json.loads(units[first]["risk_flags"]) == ["serial_mismatch"]
    assert units[first]["recovery_value"] == "455.10" and _is_utc_iso(units[first]["received_at"])
    out = io.StringIO()
    export(store, "events", "csv", out)
    ev = list(csv.DictReader(io.StringIO(out.getvalue())))[1]
    assert json.loads(ev["payload"])["sku"] == "PHN-1" and ev["operator"] == "1001"


def test_since_filters_by_time(worked):
    store, *_ = worked
    future = utcnow() + timedelta(days=1)
    assert _json(store, "units", since=future) == [] and _json(store, "events", since=future) == []
    with store.write() as s:
        exc = s.get(ScanException, 1)
        exc.at = utcnow() - timedelta(days=10)
        exc.state, exc.resolved_at, exc.resolved_by = "voided", utcnow(), "9001"
        s.add(exc)
    week_ago = utcnow() - timedelta(days=7)
    assert [e["state"] for e in _json(store, "exceptions", since=week_ago)] == ["voided"]  # resolved since
    assert len(_json(store, "units", since=datetime(2000, 1, 1, tzinfo=UTC))) == 2


def test_empty_exports_are_valid(store):
    assert _json(store, "units") == []
    out = io.StringIO()
    export(store, "exceptions", "csv", out)
    assert out.getvalue().splitlines() == [",".join(columns("exceptions"))]


def test_cli_export(worked, home, tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["--home", str(home), "export", "units", "--format", "json"])
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.output)) == 2
    target = tmp_path / "out" / "ex.csv"
    target.parent.mkdir()
    res = runner.invoke(main, ["--home", str(home), "export", "exceptions", "--format", "csv", "-o", str(target),
                               "--since", "2000-01-01"])
    assert res.exit_code == 0, res.output
    assert target.read_text().startswith("kind,code,station_id,at,operator,detail") and not list(target.parent.glob("*.part"))
    res = runner.invoke(main, ["--home", str(home), "export", "events", "--since", "last tuesday"])
    assert res.exit_code == 1 and "--since: not a date" in res.output
    res = runner.invoke(main, ["--home", str(tmp_path / "nowhere"), "export", "units"])
    assert res.exit_code == 1 and "no bench database" in res.output
    assert not (tmp_path / "nowhere").exists()
