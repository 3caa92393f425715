"""A big import builds the lookup indexes at its end (dockstation/manifest_bulk.py): the same
rows, reports and search results as row-by-row index upkeep; an import that fails or is killed
half-way leaves no bench without its indexes."""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dockstation import manifest, manifest_bulk, manifest_csv
from dockstation.demo import generate_manifest
from dockstation.manifest import import_manifest
from dockstation.search import search
from dockstation.store import Store

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
REAL_DROP = manifest_bulk.drop


def _with_customers(src: Path, dst: Path) -> Path:
    with src.open(newline="") as fi, dst.open("w", newline="") as fo:
        r, w = csv.reader(fi), csv.writer(fo)
        w.writerow([*next(r), "customer_name", "customer_email"])
        for row in r:
            n = int(row[0].rsplit("-", 1)[1])
            w.writerow([*row, f"Jo Nguyen-{n}" if n % 3 else "", f"jo{n}@example.com"])
    return dst


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    plain = tmp_path / "plain.csv"
    generate_manifest(plain, rmas=1500, seed=3, now=NOW)
    return _with_customers(plain, tmp_path / "m.csv")


def _indexes(path: Path) -> dict[str, str]:
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND "
                                 "tbl_name IN ('rma', 'rma_line') AND sql IS NOT NULL"))
    finally:
        conn.close()


def _rows(path: Path) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return (conn.execute("SELECT rma_id, order_id, created_at, expires_at, status, customer_name, "
                             "customer_email FROM rma ORDER BY rma_id").fetchall()  # not the import's time
                + conn.execute("SELECT * FROM rma_line ORDER BY rma_id, line_no").fetchall())
    finally:
        conn.close()


def test_deferred_indexes_are_the_stores_secondary_indexes(tmp_path):
    """Every index of the two tables is known by its SQL: none is dropped that cannot be made again."""
    Store(tmp_path / "s.sqlite3").close()
    live = _indexes(tmp_path / "s.sqlite3")
    assert {n: manifest_bulk._normal(s) for n, s in live.items()} == {
        n: manifest_bulk._normal(s) for n, s in manifest_bulk.DEFERRED.items()}


def test_worth_deferring_only_when_the_file_brings_many_more_rows():
    big = manifest_bulk.DEFER_MIN_ROWS * manifest_bulk.BYTES_PER_ROW
    assert manifest_bulk.worth_deferring(big, 0)
    assert not manifest_bulk.worth_deferring(big - manifest_bulk.BYTES_PER_ROW, 0)  # small: kept
    assert not manifest_bulk.worth_deferring(big, manifest_bulk.DEFER_MIN_ROWS)  # a re-import: kept


def _import(path: Path, db: Path, file: Path, defer: bool, monkeypatch) -> tuple:
    monkeypatch.setattr(manifest_csv, "BATCH_ROWS", 300)
    monkeypatch.setattr(manifest_bulk, "DEFER_MIN_ROWS", 0 if defer else 10**12)
    dropped: list[list[str]] = []
    monkeypatch.setattr(manifest_bulk, "drop", lambda conn: dropped.append(REAL_DROP(conn)) or dropped[-1])
    store = Store(db)
    try:
        first = import_manifest(store, "B07", file, reason_codes=None)
        again = import_manifest(store, "B07", file, reason_codes=None)
        found = [m.rma_id for m in search(store, "Nguyen-1000", open_only=False)]
        by_email = [m.rma_id for m in search(store, "JO1001@EXAMPLE.COM", open_only=False)]
    finally:
        store.close()
    return first.payload(), again.payload(), dropped, found, by_email


def test_bulk_import_gives_the_rows_and_reports_of_row_by_row_upkeep(big_file, tmp_path, monkeypatch):
    slow = _import(big_file, tmp_path / "slow.sqlite3", big_file, False, monkeypatch)
    fast = _import(big_file, tmp_path / "fast.sqlite3", big_file, True, monkeypatch)
    assert slow[2] == [] and fast[2] == [list(manifest_bulk.DEFERRED)]  # deferred on the first import only
    rows = sum(1 for _ in big_file.open()) - 1
    assert fast[0]["inserted"] == rows and fast[1]["unchanged"] == rows
    assert fast[:2] == slow[:2] and fast[3:] == slow[3:] == (["RMA-2026-001000"], ["RMA-2026-001001"])
    assert _rows(tmp_path / "fast.sqlite3") == _rows(tmp_path / "slow.sqlite3")
    assert _indexes(tmp_path / "fast.sqlite3") == _indexes(tmp_path / "slow.sqlite3")
    assert _names(tmp_path / "fast.sqlite3") == _names(tmp_path / "slow.sqlite3")
    assert len(_names(tmp_path / "fast.sqlite3")) == 1000  # two RMAs in three have a name


def _names(path: Path) -> list[int]:
    """The names index: which RMAs (rowids) its terms find. (FTS5's 'integrity-check' does not
    apply: the triggers index no row without a name, by design.)"""
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return [r for (r,) in conn.execute("SELECT rowid FROM rma_fts WHERE rma_fts MATCH 'jo' ORDER BY rowid")]
    finally:
        conn.close()
    assert manifest_bulk.BulkLock.take(tmp_path / "fast.sqlite3") is not None  # released


def test_a_failing_import_still_builds_the_indexes(big_file, tmp_path, monkeypatch):
    monkeypatch.setattr(manifest_csv, "BATCH_ROWS", 300)
    monkeypatch.setattr(manifest_bulk, "DEFER_MIN_ROWS", 0)
    real_write, calls = manifest._Writer.write, []

    def write(self, batch):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk gone")
        real_write(self, batch)

    monkeypatch.setattr(manifest._Writer, "write", write)
    store = Store(tmp_path / "s.sqlite3")
    try:
        with pytest.raises(OSError, match="disk gone"):
            import_manifest(store, "B07", big_file, reason_codes=None)
    finally:
        store.close()
    assert set(_indexes(tmp_path / "s.sqlite3")) == set(manifest_bulk.DEFERRED)
    assert len(_rows(tmp_path / "s.sqlite3")) > 0  # the two batches before stay committed


def _drop_as_an_import_does(db: Path) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        assert manifest_bulk.drop(conn) == list(manifest_bulk.DEFERRED)
    finally:
        conn.close()


def test_store_open_makes_the_indexes_an_interrupted_import_left_out(tmp_path):
    db = tmp_path / "s.sqlite3"
    Store(db).close()
    _drop_as_an_import_does(db)
    lock = manifest_bulk.BulkLock.take(db)  # an import running: its indexes are its own business
    assert lock is not None
    Store(db).close()
    assert _indexes(db) == {}
    lock.release()  # the import died: the next open makes them
    Store(db).close()
    assert set(_indexes(db)) == set(manifest_bulk.DEFERRED)


@pytest.mark.skipif(manifest_bulk.fcntl is None, reason="no flock on this platform")
def test_an_import_killed_without_its_indexes_loses_nothing(tmp_path):
    """`kill -9` while the indexes are being left out: the committed batches stay, the next open of
    the store makes the indexes, and importing the file again completes it."""
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "station.toml").write_text('station_id = "B07"\n')
    file = tmp_path / "m.csv"
    rows = generate_manifest(file, rmas=90_000, seed=5, now=NOW)
    assert manifest_bulk.worth_deferring(file.stat().st_size, 0)
    db = home / "dockstation.sqlite3"
    exe = Path(sys.executable).with_name("dockstation")
    proc = subprocess.Popen([str(exe), "manifest", "import", str(file)], env={**os.environ, "DOCKSTATION_HOME": str(home)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    held = 0
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if db.exists():
                try:
                    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
                    try:
                        if not _indexes_in(conn):
                            held = conn.execute("SELECT count(*) FROM rma_line").fetchone()[0]
                    finally:
                        conn.close()
                except sqlite3.OperationalError:
                    pass  # being created
            if held:
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert held > 0, f"the import was not caught without its indexes: {proc.returncode} {proc.stdout.read()!r}"
    assert proc.returncode == -signal.SIGKILL

    conn = sqlite3.connect(db)
    kept = conn.execute("SELECT count(*) FROM rma_line").fetchone()[0]
    conn.close()
    assert kept >= held and _indexes(db) == {}  # the committed batches survived; no indexes yet
    store = Store(db)
    try:
        assert set(_indexes(db)) == set(manifest_bulk.DEFERRED)  # made at the open
        report = import_manifest(store, "B07", file, reason_codes=None)
        assert (report.inserted + report.unchanged, report.updated, report.errors) == (rows, 0, 0)
        assert report.unchanged == kept
    finally:
        store.close()
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT count(*) FROM rma_line").fetchone()[0] == rows
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


def _indexes_in(conn: sqlite3.Connection) -> list[str]:
    return [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND name IN "
                                       f"({', '.join('?' * len(manifest_bulk.DEFERRED))})",
                                       list(manifest_bulk.DEFERRED))]
