"""Manifest import: validation with line numbers, idempotence, updates, one event, the CLI."""

from __future__ import annotations

import csv
import io
import subprocess
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from click.testing import CliRunner
from sqlmodel import select

from dockstation import events, manifest, manifest_csv, manifest_feed
from dockstation.cli import main
from dockstation.manifest import COLUMNS, ManifestError, import_manifest
from dockstation.models import Event, Rma, RmaLine
from dockstation.receiving import handle_scan, sign_in
from dockstation.scan import ScanEvent, classify
from dockstation.types import utcnow

ROOT = Path(__file__).resolve().parent.parent


def row(rma: str = "RMA-2026-000001", line: int = 1, **kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "rma_id": rma, "order_id": f"O-{rma}", "created_at": "2026-11-01T09:00:00+00:00",
        "expires_at": "2099-12-01T09:00:00+01:00", "status": "open", "line_no": line,
        "sku": f"SKU-{line}", "gtin": "4006381333931", "description": "Phone X 128GB", "category": "phones",
        "qty": 1, "unit_price": "699.00", "currency": "USD", "expected_serial": "", "reason_code": "defective",
        "carrier": "ups", "tracking_number": "1Z999AA10123456784",
    }
    base.update(kw)
    return base


def write(path: Path, rows: list[dict[str, object]], columns: tuple[str, ...] | list[str] = COLUMNS,
          bom: bool = False) -> Path:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode())
    return path


GOOD = [row("RMA-2026-000001"), row("RMA-2026-000002", 1, gtin="", carrier="", tracking_number=""),
        row("RMA-2026-000002", 2, sku="SHO-42", category="footwear", qty=2, unit_price="49.9")]


def counts(report: manifest.ImportReport) -> tuple[int, int, int, int]:
    return report.inserted, report.updated, report.unchanged, report.errors


def test_good_file_loads_and_reads_back_through_the_orm(store, tmp_path):
    report = import_manifest(store, "B07", write(tmp_path / "m.csv", GOOD))
    assert counts(report) == (3, 0, 0, 0) and report.rows == 3 and report.ok
    with store.read() as s:
        rma = s.get(Rma, "RMA-2026-000001")
        # +01:00 in the file -> UTC in the store, read back aware through UTCDateTime
        assert rma.expires_at == datetime(2099, 12, 1, 8, 0, tzinfo=UTC)
        assert rma.created_at == datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
        lines = s.exec(select(RmaLine).where(RmaLine.rma_id == "RMA-2026-000002").order_by(RmaLine.line_no)).all()
    assert [(l.line_no, l.qty, l.unit_price, l.gtin, l.tracking_number) for l in lines] == [
        (1, 1, Decimal("699.00"), None, None), (2, 2, Decimal("49.9"), "4006381333931", "1Z999AA10123456784")]


def test_the_raw_time_format_is_what_sqlalchemy_writes(store, tmp_path):
    with store.write() as s:
        s.add(Rma(rma_id="RMA-ORM-1", created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
                  expires_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), updated_at=utcnow()))
    import_manifest(store, "B07", write(tmp_path / "m.csv", [row("RMA-CSV-1", created_at="2026-01-02T03:04:05Z")]))
    conn = store.raw_connection()
    raw = dict(conn.execute("SELECT rma_id, created_at FROM rma").fetchall())
    conn.close()
    assert raw["RMA-CSV-1"] == raw["RMA-ORM-1"] == "2026-01-02 03:04:05.000000"


BAD = [
    ({"created_at": "2026-11-01T09:00:00"}, "has no UTC offset"),
    ({"expires_at": "next week"}, "expires_at: not an ISO 8601 time"),
    ({"expires_at": "2026-10-01T09:00:00+00:00"}, "expires_at is before created_at"),
    ({"status": "closed"}, "status: must be open or cancelled"),
    ({"qty": "0"}, "must be 1 or more"),
    ({"qty": "one"}, "must be whole numbers"),
    ({"line_no": "1.5"}, "must be whole numbers"),
    ({"unit_price": "-1.00"}, "unit_price: must be a plain decimal number ≥ 0"),
    ({"unit_price": "12,50"}, "unit_price: not a decimal number"),
    ({"unit_price": "NaN"}, "unit_price: must be a plain decimal number ≥ 0"),
    ({"gtin": "4006381333932"}, "valid check digit"),
    ({"gtin": "40063813339"}, "valid check digit"),
    ({"sku": ""}, "sku: empty"),
    ({"order_id": ""}, "order_id: empty"),
    ({"description": "", "category": ""}, "description, category: empty (only carrier, expected_serial, gtin, tracking_number may"),
    ({"reason_code": ""}, "reason_code: empty"),
    ({"rma_id": "RMA 1"}, "rma_id: must be 1–64 printable characters"),
    ({"currency": "usd"}, "currency: must be a 3-letter"),
]


@pytest.mark.parametrize(("change", "reason"), BAD, ids=[b[1] for b in BAD])
def test_a_bad_row_is_reported_with_its_line_and_good_rows_still_load(store, tmp_path, change, reason):
    rows = [*GOOD, row("RMA-2026-000009", **change), row("RMA-2026-000010")]
    report = import_manifest(store, "B07", write(tmp_path / "m.csv", rows))
    assert counts(report) == (4, 0, 0, 1)
    (err,) = report.error_rows
    assert err.line == 5 and reason in err.reason, err  # header is line 1
    with store.read() as s:
        assert s.get(RmaLine, ("RMA-2026-000010", 1)) is not None
        assert s.get(Rma, "RMA-2026-000009") is None  # never an RMA without a line


def test_wrong_field_count_and_disagreeing_rma_rows_are_bad_rows(store, tmp_path):
    path = write(tmp_path / "m.csv", [*GOOD, row("RMA-2026-000002", 3, status="cancelled"),
                                      row("RMA-2026-000002", 2, sku="OTHER")])
    with path.open("a") as fh:
        fh.write("RMA-2026-000011,short,row\n")
    report = import_manifest(store, "B07", path)
    assert counts(report) == (3, 0, 0, 3)
    by_line = {e.line: e.reason for e in report.error_rows}
    assert "differ from an earlier row of the RMA" in by_line[5]
    assert "appears twice" in by_line[6]
    assert "expected 17 fields" in by_line[7]


def test_disagreements_across_batches_are_caught_too(store, tmp_path, monkeypatch):
    monkeypatch.setattr(manifest_csv, "BATCH_ROWS", 2)
    rows = [row("RMA-A", 1), row("RMA-A", 2), row("RMA-B", 1), row("RMA-A", 3, status="cancelled"),
            row("RMA-B", 2), row("RMA-A", 1, sku="CHANGED"), row("RMA-A", 2)]
    report = import_manifest(store, "B07", write(tmp_path / "m.csv", rows))
    assert {e.line: e.reason.split(":")[0] for e in report.error_rows} == {
        5: "RMA-A", 7: "RMA-A line 1 appears twice in the file"}
    # the identical repeat of RMA-A line 2 (line 8) is harmless and counted as unchanged
    assert counts(report) == (4, 0, 1, 2) and report.rows == 7
    with store.read() as s:
        assert s.get(Rma, "RMA-A").status == "open" and s.get(RmaLine, ("RMA-A", 1)).sku == "SKU-1"


def test_reimport_is_idempotent_and_records_one_event_per_import(store, tmp_path):
    path = write(tmp_path / "m.csv", GOOD)
    first = import_manifest(store, "B07", path, operator="9001")
    again = import_manifest(store, "B07", path)
    assert counts(first) == (3, 0, 0, 0) and counts(again) == (0, 0, 3, 0)
    with store.read() as s:
        evs = s.exec(select(Event).order_by(Event.seq)).all()
        rma = s.get(Rma, "RMA-2026-000001")
    assert [e.kind for e in evs] == ["manifest_imported", "manifest_imported"]
    assert evs[0].operator == "9001" and evs[0].station_id == "B07"
    assert evs[0].payload == {"file": "m.csv", "rows": 3, "inserted": 3, "updated": 0, "unchanged": 0, "errors": 0}
    assert evs[1].payload["unchanged"] == 3
    assert rma.updated_at < evs[1].at  # nothing was rewritten by the second import


def test_changed_rows_update_and_received_qty_is_kept(store, tmp_path):
    import_manifest(store, "B07", write(tmp_path / "m.csv", GOOD))
    with store.write() as s:
        line = s.get(RmaLine, ("RMA-2026-000002", 2))
        line.received_qty = 2
        s.add(line)
    changed = [GOOD[0], row("RMA-2026-000002", 1, gtin="", carrier="", tracking_number="", status="cancelled"),
               row("RMA-2026-000002", 2, sku="SHO-43", category="footwear", qty=3, unit_price="45.00",
                   status="cancelled"), row("RMA-2026-000003")]
    report = import_manifest(store, "B07", write(tmp_path / "m2.csv", changed))
    # line 1 of RMA 2 is unchanged itself but its RMA was cancelled: both rows of RMA 2 are updated
    assert counts(report) == (1, 2, 1, 0)
    with store.read() as s:
        line = s.get(RmaLine, ("RMA-2026-000002", 2))
        assert (line.sku, line.qty, line.unit_price, line.received_qty) == ("SHO-43", 3, Decimal("45.00"), 2)
        assert s.get(Rma, "RMA-2026-000002").status == "cancelled"
    # a later manifest without the received line leaves it, and its received_qty, alone
    report = import_manifest(store, "B07", write(tmp_path / "m3.csv", [GOOD[0]]))
    assert counts(report) == (0, 0, 1, 0)


def test_bom_extra_columns_and_column_order(store, tmp_path):
    cols = ["note", *reversed(COLUMNS)]
    report = import_manifest(store, "B07", write(tmp_path / "m.csv", [dict(GOOD[0], note="x")], cols, bom=True))
    assert counts(report) == (1, 0, 0, 0)
    assert report.warnings == ["ignored column(s): 'note'"]


def test_a_missing_column_refuses_the_file_and_loads_nothing(store, tmp_path):
    cols = [c for c in COLUMNS if c != "qty"]
    with pytest.raises(ManifestError, match=r"line 1: missing required column\(s\): qty"):
        import_manifest(store, "B07", write(tmp_path / "m.csv", GOOD, cols))
    with pytest.raises(ManifestError, match="is the header row missing"):
        import_manifest(store, "B07", write(tmp_path / "n.csv", GOOD[1:], list(GOOD[0].values())))  # type: ignore[arg-type]
    with store.read() as s:
        assert s.exec(select(Rma)).first() is None and s.exec(select(Event)).first() is None


def test_bad_encoding_refuses_the_file_with_its_line(store, tmp_path):
    path = write(tmp_path / "m.csv", GOOD)
    lines = path.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b"Phone X 128GB", "Téléphone".encode("latin-1"))  # file line 3
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(ManifestError, match=r"line 3: not valid UTF-8 \(byte 0xE9"):
        import_manifest(store, "B07", path)
    with store.read() as s:
        assert s.exec(select(Rma)).first() is None


def test_the_last_batch_and_the_event_commit_together(store, tmp_path, monkeypatch):
    monkeypatch.setattr(manifest_csv, "BATCH_ROWS", 2)

    def broken(*a, **kw):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(events, "record", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        import_manifest(store, "B07", write(tmp_path / "m.csv", [*GOOD, row("RMA-4"), row("RMA-LAST")]))
    with store.read() as s:  # earlier batches committed; the last one went with the event
        assert s.get(Rma, "RMA-2026-000001") is not None and s.get(Rma, "RMA-LAST") is None


@pytest.fixture
def parallel(monkeypatch):
    monkeypatch.setattr(manifest_feed, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(manifest_feed, "_spare_cpu", lambda: True)


def test_a_large_file_parses_in_a_child_process_with_the_same_result(store, tmp_path, parallel, monkeypatch):
    calls = []
    real_popen = manifest_feed.subprocess.Popen
    monkeypatch.setattr(manifest_feed.subprocess, "Popen", lambda *a, **kw: calls.append(a) or real_popen(*a, **kw))
    rows = [row(f"RMA-P-{i:05d}", 1 + i % 3) for i in range(300)] + [row("RMA-BAD", qty=0)]
    report = import_manifest(store, "B07", write(tmp_path / "m.csv", rows))
    assert len(calls) == 1  # it did run in a child
    assert counts(report) == (300, 0, 0, 1) and report.error_rows[0].line == 302
    assert counts(import_manifest(store, "B07", tmp_path / "m.csv")) == (0, 0, 300, 1)


def test_a_parser_process_failure_is_an_error_not_a_hang(store, tmp_path, parallel, monkeypatch):
    monkeypatch.setattr(manifest_feed.sys, "executable", "/bin/false")
    with pytest.raises(RuntimeError, match="manifest parser process failed"):
        import_manifest(store, "B07", write(tmp_path / "m.csv", GOOD))
    with store.read() as s:
        assert s.exec(select(Event)).first() is None


def test_an_imported_manifest_is_received_by_the_bench(bench, store, tmp_path):
    import_manifest(store, "B07", write(tmp_path / "m.csv", GOOD))
    op = sign_in(store, bench, ScanEvent("OP-1001", "test", None, utcnow()), "1001").operator
    code = "1Z999AA10123456784"
    out = handle_scan(store, bench, op, ScanEvent(code, "test", None, utcnow()), classify(code, bench.codes.patterns))
    assert out.status == "received" and out.unit.rma_id == "RMA-2026-000001"


# -- CLI ---------------------------------------------------------------------------------------
def test_cli_import_exit_codes_and_summary(home, tmp_path):
    runner = CliRunner()
    good = write(tmp_path / "good.csv", GOOD)
    res = runner.invoke(main, ["--home", str(home), "manifest", "import", str(good)])
    assert res.exit_code == 0, res.output
    assert "3 rows: 3 inserted, 0 updated, 0 unchanged, 0 refused" in res.output
    bad = write(tmp_path / "bad.csv", [*GOOD, row("RMA-X", qty="0"), row("RMA-Y", created_at="2026-11-01")])
    res = runner.invoke(main, ["--home", str(home), "manifest", "import", str(bad)])
    assert res.exit_code == 2
    assert "line 5: line_no and qty must be 1 or more" in res.output and "line 6: created_at" in res.output
    refused = write(tmp_path / "refused.csv", GOOD, [c for c in COLUMNS if c != "status"])
    res = runner.invoke(main, ["--home", str(home), "manifest", "import", str(refused)])
    assert res.exit_code == 1 and "missing required column(s): status" in res.output


def test_cli_generate_then_import_in_a_real_process(home, tmp_path):
    exe = ROOT / ".venv" / "bin" / "dockstation"
    if not exe.exists():
        pytest.skip(f"{exe} is not installed (make install)")
    path = tmp_path / "gen.csv"
    env = {"PATH": "/usr/bin:/bin", "DOCKSTATION_HOME": str(home)}
    gen = subprocess.run([str(exe), "manifest", "generate", str(path), "--rmas", "50", "--seed", "3"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert gen.returncode == 0, gen.stderr
    ok = subprocess.run([str(exe), "manifest", "import", str(path)], capture_output=True, text=True,
                        env=env, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "0 refused" in ok.stdout
    path.write_text(path.read_text() + "RMA-ZZZ-1,,2026-11-01T00:00:00Z,,open,1,S,,d,c,1,1,USD,,r,,\n")
    bad = subprocess.run([str(exe), "manifest", "import", str(path)], capture_output=True, text=True,
                         env=env, timeout=120)
    assert bad.returncode == 2 and "unchanged, 1 refused" in bad.stdout
    missing = subprocess.run([str(exe), "manifest", "import", str(tmp_path / "nope.csv")],
                             capture_output=True, text=True, env=env, timeout=120)
    assert missing.returncode == 1 and missing.stderr.startswith("dockstation: ")


def test_an_rma_change_counts_every_row_of_the_rma_across_batches(store, tmp_path, monkeypatch):
    monkeypatch.setattr(manifest_csv, "BATCH_ROWS", 2)
    rows = [row("RMA-S", n) for n in (1, 2, 3)] + [row("RMA-T", 1)]
    assert counts(import_manifest(store, "B07", write(tmp_path / "a.csv", rows))) == (4, 0, 0, 0)
    rows = [row("RMA-S", n, status="cancelled") for n in (1, 2, 3)] + [row("RMA-T", 1)]
    assert counts(import_manifest(store, "B07", write(tmp_path / "b.csv", rows))) == (0, 3, 1, 0)


@pytest.mark.parametrize(("text", "stored"), [
    ("2026-11-17T19:59:09-05:00", "2026-11-18 00:59:09.000000"),
    ("2026-11-17T19:59:09.25+01:00", "2026-11-17 18:59:09.250000"),
    ("2026-11-17T19:59:09Z", "2026-11-17 19:59:09.000000"),
    ("2026-03-29T01:30:00+05:45", "2026-03-28 19:45:00.000000"),
])
def test_times_are_stored_as_utc(text, stored):
    assert manifest_csv._time(text, "created_at") == stored
    assert manifest.db_time(datetime.fromisoformat(text)) == stored


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
       st.integers(-23, 23), st.sampled_from(["00", "30", "45"]), st.sampled_from("T "))
def test_the_hour_cache_gives_the_same_utc_text(when, hours, minutes, sep):
    text = f"{when:%Y-%m-%d}{sep}{when:%H:%M:%S}{'-' if hours < 0 else '+'}{abs(hours):02d}:{minutes}"
    cache: dict[str, str] = {}
    try:
        plain = manifest_csv._time(text, "created_at")
    except manifest_csv._Bad:
        with pytest.raises(manifest_csv._Bad):
            manifest_csv._time(text, "created_at", cache)
        return
    assert manifest_csv._time(text, "created_at", cache) == plain  # fills the cache
    assert manifest_csv._time(text, "created_at", cache) == plain  # reads it
    assert plain == manifest.db_time(datetime.fromisoformat(text))


def test_a_time_out_of_range_is_a_bad_row():
    with pytest.raises(manifest_csv._Bad, match="out of range"):
        manifest_csv._time("0001-01-01T00:00:00+01:00", "created_at")


def test_line_numbers_count_physical_lines_of_quoted_fields(store, tmp_path):
    rows = [row("RMA-M1", description="two\nlines"), row("RMA-M2", qty=0), row("RMA-M3")]
    report = import_manifest(store, "B07", write(tmp_path / "m.csv", rows))
    assert counts(report) == (2, 0, 0, 1) and report.error_rows[0].line == 4
    with store.read() as s:
        assert s.get(RmaLine, ("RMA-M1", 1)).description == "two\nlines"


# -- reason codes: a code unknown to codes.toml loads, with a line-numbered warning -------------
def test_an_unknown_reason_code_loads_with_a_line_numbered_warning(store, tmp_path, monkeypatch):
    monkeypatch.setattr(manifest_csv, "BATCH_ROWS", 2)  # the warning counts rows across batches
    rows = [*GOOD, row("RMA-R1", reason_code="broken"), row("RMA-R2", reason_code="broken"),
            row("RMA-R3", reason_code="zz_other")]
    report = import_manifest(store, "B07", write(tmp_path / "m.csv", rows))
    assert counts(report) == (6, 0, 0, 0)
    assert report.warnings == [
        "line 5: reason_code 'broken' is not in codes.toml [reason_codes]; 2 rows with it, loaded as they are",
        "line 7: reason_code 'zz_other' is not in codes.toml [reason_codes]; 1 row with it, loaded as they are"]
    with store.read() as s:
        assert s.get(RmaLine, ("RMA-R1", 1)).reason_code == "broken"


def test_a_site_reason_code_is_known_and_an_explicit_list_wins(store, tmp_path):
    (store.path.parent / "config").mkdir(exist_ok=True)
    (store.path.parent / "config" / "codes.toml").write_text('[reason_codes]\nbroken = "Broken"\n')
    path = write(tmp_path / "m.csv", [row("RMA-R1", reason_code="broken")])
    assert import_manifest(store, "B07", path).warnings == []
    report = import_manifest(store, "B07", path, reason_codes={"defective"})
    assert report.warnings and "'broken'" in report.warnings[0]


def test_unknown_reason_codes_are_counted_across_batches_and_in_the_child(store, tmp_path, parallel, monkeypatch):
    monkeypatch.setattr(manifest_csv, "BATCH_ROWS", 2)  # not seen by the child: its own batches
    rows = [row(f"RMA-U{i}", reason_code="nope" if i % 2 else "defective") for i in range(9)]
    report = import_manifest(store, "B07", write(tmp_path / "m.csv", rows))
    assert report.warnings == ["line 3: reason_code 'nope' is not in codes.toml [reason_codes]; 4 rows "
                               "with it, loaded as they are"]


def test_many_unknown_codes_are_capped_in_the_warnings(tmp_path):
    rows = [row(f"RMA-C{i}", reason_code=f"c{i}") for i in range(manifest_csv.MAX_UNKNOWN_CODES + 5)]
    mf = manifest_csv.open_manifest(write(tmp_path / "m.csv", rows))
    unknown: dict = {}
    for batch in mf.batches("2026-11-30 00:00:00.000000", reason_codes=()):
        manifest_csv.merge_unknown_reasons(unknown, batch.unknown_reasons)
    warnings = manifest_csv.unknown_reason_warnings(unknown)
    assert len(warnings) == manifest_csv.MAX_UNKNOWN_CODES + 1
    assert warnings[-1].startswith(f"line {manifest_csv.MAX_UNKNOWN_CODES + 2}: 5 rows with other reason codes")


def test_the_public_reader_refuses_a_file_and_yields_batches(tmp_path):
    with pytest.raises(ManifestError, match="missing required column"):
        manifest_csv.open_manifest(write(tmp_path / "bad.csv", GOOD, COLUMNS[:-1]))
    mf = manifest_csv.open_manifest(write(tmp_path / "m.csv", [*GOOD, row("RMA-X", qty=0)],
                                          [*COLUMNS, "note"]))
    assert mf.warnings == ["ignored column(s): 'note'"] and mf.size == (tmp_path / "m.csv").stat().st_size
    (batch,) = mf.batches("2026-11-30 00:00:00.000000")
    assert [r[0] for r in batch.rmas] == ["RMA-2026-000001", "RMA-2026-000002"]
    assert batch.numbers == [2, 3, 4] and batch.rows == 4 and batch.nbad == 1 and batch.errors[0].line == 5
    assert batch.unknown_reasons == {}  # reason_codes=None: not checked
