"""Search by RMA, tracking number, order id, customer name and e-mail, SKU and GTIN: the core and
`dockstation manifest search TEXT --format json`."""

from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner

from dockstation.cli import main
from dockstation.manifest import import_manifest
from dockstation.manifest_csv import COLUMNS
from dockstation.search import search

HEADER = [*COLUMNS, "customer_name", "customer_email"]
ROWS = [
    # rma, order, line, sku, gtin, tracking, name, email, status
    ("RMA-S-001", "ORD-1001", 1, "PHN-10001", "4006381333931", "1Z999AA10123456784", "Zoë Müller-Lüdenscheidt",
     "zoe.mueller@example.com", "open"),
    ("RMA-S-002", "ORD-1002", 1, "APP-20002", "", "", "Zoe Adams", "ZADAMS@example.org", "open"),
    ("RMA-S-002", "ORD-1002", 2, "PHN-10001", "4006381333931", "", "Zoe Adams", "ZADAMS@example.org", "open"),
    ("RMA-S-003", "ORD-1003", 1, "APP-20002", "", "", "Mark [bold]O'Neil", "mark@example.net", "cancelled"),
]


@pytest.fixture
def home_with_manifest(home, store, tmp_path):
    path = tmp_path / "m.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for rma, order, n, sku, gtin, tracking, name, email, status in ROWS:
            w.writerow([rma, order, "2026-11-01T10:00:00+00:00", "2099-12-01T10:00:00+00:00", status, n, sku, gtin,
                        f"Item {sku}", "phones", "1", "10.00", "USD", "", "defective", "", tracking, name, email])
    report = import_manifest(store, "B07", path)
    assert report.errors == 0 and report.warnings == []
    return home


@pytest.mark.parametrize("text,expected,kind", [
    ("RMA-S-002", ["RMA-S-002"], "rma"),
    ("ORD-1001", ["RMA-S-001"], "order"),
    ("1Z999AA10123456784", ["RMA-S-001"], "tracking"),
    ("zadams@EXAMPLE.org", ["RMA-S-002"], "email"),        # any case
    ("zoe", ["RMA-S-001", "RMA-S-002"], "name"),           # diacritics folded: Zoë
    ("müller", ["RMA-S-001"], "name"),
    ("zoe ada", ["RMA-S-002"], "name"),                    # every word, each a prefix
    ("PHN-10001", ["RMA-S-001", "RMA-S-002"], "sku"),
    ("04006381333931", ["RMA-S-001", "RMA-S-002"], "gtin"),  # GTIN-14 finds the GTIN-13 of the manifest
    ("APP-20002", ["RMA-S-002"], "sku"),                   # RMA-S-003 is cancelled: not to receive
])
def test_search_core(home_with_manifest, store, text, expected, kind):
    found = search(store, text)
    assert sorted(m.rma_id for m in found) == expected
    assert all(m.matched_on[0] == kind for m in found)


def test_search_all_includes_what_cannot_be_received(home_with_manifest, store):
    assert [m.rma_id for m in search(store, "mark", open_only=False)] == ["RMA-S-003"]
    assert search(store, "mark") == []


@pytest.mark.parametrize("text,expected", [
    ("ORD-1002", ["RMA-S-002"]), ("Zoë", ["RMA-S-001", "RMA-S-002"]), ("zoe.mueller@example.com", ["RMA-S-001"]),
    ("PHN-10001", ["RMA-S-001", "RMA-S-002"]), ("4006381333931", ["RMA-S-001", "RMA-S-002"]),
])
def test_manifest_search_cli_json(home_with_manifest, text, expected):
    result = CliRunner().invoke(main, ["--home", str(home_with_manifest), "manifest", "search", text, "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert sorted(r["rma_id"] for r in rows) == expected
    assert {"order_id", "customer_name", "customer_email", "lines", "matched_on", "open_items"} <= set(rows[0])


def test_manifest_search_cli_nothing_found_exits_3(home_with_manifest):
    result = CliRunner().invoke(main, ["--home", str(home_with_manifest), "manifest", "search", "nobody-at-all",
                                       "--format", "json"])
    assert result.exit_code == 3 and json.loads(result.stdout) == []


def _fts_ok(store) -> None:
    """The name index holds exactly the words of the rma table's names, row by row: compared,
    through fts5vocab ('instance': term, row, column, offset), with an index built afresh from
    the table. (FTS5's own integrity-check counts a row with no name, which the triggers leave
    out of the index on purpose, as missing.)"""
    raw = store.raw_connection()
    try:
        raw.execute("CREATE VIRTUAL TABLE temp.ref USING fts5(customer_name, tokenize='unicode61 remove_diacritics 2')")
        raw.execute("INSERT INTO ref (rowid, customer_name) SELECT rowid, customer_name FROM rma "
                    "WHERE customer_name IS NOT NULL")
        raw.execute("CREATE VIRTUAL TABLE temp.v_ref USING fts5vocab(temp, ref, instance)")
        raw.execute("CREATE VIRTUAL TABLE temp.v_ours USING fts5vocab(main, rma_fts, instance)")
        ours = raw.execute("SELECT term, doc, offset FROM temp.v_ours ORDER BY 1, 2, 3").fetchall()
        ref = raw.execute("SELECT term, doc, offset FROM temp.v_ref ORDER BY 1, 2, 3").fetchall()
    finally:
        raw.close()
    assert ours and ours == ref


def _triggers(store) -> set[str]:
    with store.read() as s:
        return {r for (r,) in s.connection().exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'rma_fts_%'")}


def test_names_indexed_in_bulk_at_import_stay_right_through_re_imports(home_with_manifest, store, tmp_path):
    """The import indexes names in one statement per batch (store.names_indexed_in_bulk), not by
    the insert trigger: the index matches the table after a first import and after a re-import
    that changes, removes and adds names; the trigger is back for every other writer."""
    _fts_ok(store)
    assert _triggers(store) == {"rma_fts_ai", "rma_fts_ad", "rma_fts_au"}
    path = tmp_path / "m2.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for rma, name in (("RMA-S-001", "Zoë Schmidt"), ("RMA-S-002", ""), ("RMA-S-009", "Priya Novak")):
            w.writerow([rma, f"ORD-{rma}", "2026-11-01T10:00:00+00:00", "2099-12-01T10:00:00+00:00", "open", 1,
                        "SKU-1", "", "Item", "phones", "1", "10.00", "USD", "", "defective", "", "", name, ""])
    assert import_manifest(store, "B07", path).errors == 0
    _fts_ok(store)
    assert [m.rma_id for m in search(store, "schmidt")] == ["RMA-S-001"]
    assert search(store, "müller") == [] and search(store, "adams") == []
    assert [m.rma_id for m in search(store, "priya nov")] == ["RMA-S-009"]
    assert _triggers(store) == {"rma_fts_ai", "rma_fts_ad", "rma_fts_au"}


def test_a_failed_import_leaves_the_name_trigger_in_place(store, tmp_path, monkeypatch):
    """The trigger is dropped inside the batch's transaction: a batch that fails rolls it back."""
    from dockstation import manifest as m

    path = tmp_path / "m.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        w.writerow(["RMA-X-1", "ORD-X", "2026-11-01T10:00:00+00:00", "2099-12-01T10:00:00+00:00", "open", 1, "SKU-1",
                    "", "Item", "phones", "1", "10.00", "USD", "", "defective", "", "", "Ada Lovelace", ""])

    def broken(*a, **kw):
        raise OSError("disk gone")

    monkeypatch.setattr(m, "_record_event", broken)  # the last batch's transaction fails
    with pytest.raises(OSError):
        import_manifest(store, "B07", path)
    assert "rma_fts_ai" in _triggers(store) and search(store, "lovelace") == []
    monkeypatch.undo()
    assert import_manifest(store, "B07", path).errors == 0
    assert [r.rma_id for r in search(store, "lovelace")] == ["RMA-X-1"]
    _fts_ok(store)
