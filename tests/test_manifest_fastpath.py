"""New rows are inserted first (INSERT OR IGNORE), then the rows that met an existing one go
through the upserts (dockstation/manifest.py, `_Writer._put`): the same reports and the same
rows as the upserts alone, whatever a sequence of files repeats, changes or contradicts."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockstation import manifest, manifest_csv
from dockstation.manifest import import_manifest
from dockstation.store import Store
from tests.test_manifest import row, write

ROW = st.fixed_dictionaries({
    "rma": st.sampled_from(["RMA-A", "RMA-B", "RMA-C"]), "line": st.integers(1, 3),
    "status": st.sampled_from(["open", "open", "cancelled"]), "sku": st.sampled_from(["S1", "S2"]),
    "qty": st.integers(1, 2)})
FILES = st.lists(st.lists(ROW, min_size=1, max_size=12), min_size=1, max_size=3)


def _run(files: list[list[dict]], work: Path, upserts_only: bool, batch: int) -> tuple[list, list]:
    store = Store(work / ("a.sqlite3" if upserts_only else "b.sqlite3"))
    reports = []
    try:
        for n, rows in enumerate(files):
            path = write(work / f"m{n}.csv", [row(r["rma"], r["line"], status=r["status"], sku=r["sku"],
                                                  qty=r["qty"]) for r in rows])
            report = import_manifest(store, "B07", path, reason_codes=None)
            reports.append((report.rows, report.inserted, report.updated, report.unchanged, report.errors,
                            [(e.line, e.reason) for e in report.error_rows]))
    finally:
        store.close()
    conn = sqlite3.connect(store.path)
    try:
        lines = conn.execute("SELECT r.rma_id, r.status, l.line_no, l.sku, l.qty FROM rma r "
                             "JOIN rma_line l USING (rma_id) ORDER BY 1, 3").fetchall()
    finally:
        conn.close()
    return reports, lines


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=FILES, batch=st.sampled_from([1, 2, 3, 20_000]))
def test_insert_first_gives_what_the_upserts_alone_give(files, batch, monkeypatch):
    monkeypatch.setattr(manifest_csv, "BATCH_ROWS", batch)
    real_init = manifest._Writer.__init__
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        fast = _run(files, work, False, batch)

        def upserts_only(self, *a, **kw):  # type: ignore[no-untyped-def]
            real_init(self, *a, **kw)
            self.mostly_new = {"rma": False, "rma_line": False}

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(manifest._Writer, "__init__", upserts_only)
            slow = _run(files, work, True, batch)
    assert fast == slow
