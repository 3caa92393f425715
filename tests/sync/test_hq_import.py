"""HQ manifest import through the shared reader (dockstation.manifest_csv): same rules as the bench."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from dockstation import manifest_csv
from dockstation.manifest_csv import COLUMNS, ManifestError
from sync.hq.manifest_import import import_csv, served_reason_codes


def row(rma: str, line: int = 1, **kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "rma_id": rma, "order_id": f"O-{rma}", "created_at": "2026-11-01T09:00:00+00:00",
        "expires_at": "2099-12-01T09:00:00+00:00", "status": "open", "line_no": line, "sku": f"SKU-{line}",
        "gtin": "", "description": "Lamp", "category": "home", "qty": 1, "unit_price": "20.00",
        "currency": "EUR", "expected_serial": "", "reason_code": "defective", "carrier": "",
        "tracking_number": ""}
    base.update(kw)
    return base


def write(path: Path, rows: list[dict[str, object]]) -> Path:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def test_hq_import_warns_of_unknown_reason_codes_and_refuses_empty_ones(hq_db, tmp_path, monkeypatch):
    monkeypatch.setattr(manifest_csv, "BATCH_ROWS", 2)
    rows = [row("RMA-H1"), row("RMA-H2", reason_code="broken"), row("RMA-H3", reason_code=""),
            row("RMA-H4", reason_code="broken"), row("RMA-H1", 2)]
    report = import_csv(hq_db, write(tmp_path / "m.csv", rows))
    assert (report.rmas_new, report.errors) == (3, 1)
    assert report.error_rows[0].line == 4 and "reason_code: empty" in report.error_rows[0].reason
    assert report.warnings == ["line 3: reason_code 'broken' is not in codes.toml [reason_codes]; "
                               "2 rows with it, loaded as they are"]
    again = import_csv(hq_db, tmp_path / "m.csv", reason_codes={"defective", "broken"})
    assert (again.rmas_unchanged, again.warnings) == (3, [])


def test_hq_reason_codes_follow_the_served_config_dir(tmp_path, monkeypatch):
    assert "defective" in (served_reason_codes() or ())
    (tmp_path / "codes.toml").write_text('[reason_codes]\nbroken = "Broken"\n')
    monkeypatch.setenv("DOCKSTATION_HQ_CONFIG_DIR", str(tmp_path))
    assert {"defective", "broken"} <= set(served_reason_codes() or ())


def test_hq_import_refuses_what_the_bench_refuses(hq_db, tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes(b"rma_id,order_id\n\xff\n")
    with pytest.raises(ManifestError, match="not valid UTF-8"):
        import_csv(hq_db, path)
