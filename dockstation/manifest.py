"""Manifest import on the bench: the Manifest CSV into `rma` and `rma_line` (the store upsert).

The file is read and validated by dockstation.manifest_csv (shared with HQ's import) into
batches; each batch is written here with two `executemany` upserts on a plain sqlite3
connection. An upsert writes only when something changed (`ON CONFLICT DO UPDATE ... WHERE ...
IS NOT excluded...`), so re-importing the same file writes nothing. What the upserts did is
counted without reading rows back: new rows by rowid, changed and conflicting rows by TEMP
triggers that log into TEMP tables (this connection only).

Each batch is its own short transaction, so scans at the bench are never held up for long; the
last batch and the one `manifest_imported` event commit together, with synchronous=FULL.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import StaticPool
from sqlmodel import Session

from dockstation import events
from dockstation import manifest_bulk as bulk
from dockstation.manifest_csv import (  # noqa: F401 — re-exported: the manifest API in one place
    COLUMNS,
    MAX_REPORTED,
    Batch,
    ManifestError,
    ManifestFile,
    RowError,
    db_time,
    merge_unknown_reasons,
    open_manifest,
    unknown_reason_warnings,
)
from dockstation.manifest_feed import Feed
from dockstation.store import Store, names_indexed_in_bulk

log = logging.getLogger("dockstation.manifest")
BULK_PRAGMAS = (
    # The manifest can always be imported again (it is the file's data, not the bench's), so the
    # bulk batches commit with synchronous=NORMAL (WAL: safe against a crash, not a power cut);
    # the final commit is FULL, and syncing the WAL then makes them durable too.
    "PRAGMA synchronous=NORMAL",
    # The indexes of a 1M-row table outgrow the default 2 MB page cache, and every insert then
    # reads pages back from the OS (2x slower): 64 MiB keeps their hot part.
    "PRAGMA cache_size=-65536",
)
_RMA_FIELDS = ("order_id", "created_at", "expires_at", "status", "customer_name", "customer_email")
_LINE_FIELDS = ("sku", "gtin", "description", "category", "qty", "unit_price", "currency",
                "expected_serial", "reason_code", "carrier", "tracking_number")


@dataclass
class ImportReport:
    file: str
    rows: int = 0  # data rows read (blank lines not counted)
    inserted: int = 0
    updated: int = 0  # the line, or its RMA's fields, changed
    unchanged: int = 0
    errors: int = 0
    error_rows: list[RowError] = field(default_factory=list)  # the first MAX_REPORTED, by line
    warnings: list[str] = field(default_factory=list)  # ignored columns, unknown reason codes
    holds_matched: list[tuple[str, str, int | None]] = field(default_factory=list)  # (lpn, rma_id, line)

    @property
    def ok(self) -> bool:
        return self.errors == 0

    def payload(self) -> dict[str, Any]:
        return {"file": self.file, "rows": self.rows, "inserted": self.inserted,
                "updated": self.updated, "unchanged": self.unchanged, "errors": self.errors}


# -- writing ----------------------------------------------------------------------------------
RMA_UPSERT = (
    "INSERT INTO rma (rma_id, order_id, created_at, expires_at, status, updated_at, customer_name, customer_email) "
    "VALUES (?,?,?,?,?,?,?,?) "
    "ON CONFLICT (rma_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in (*_RMA_FIELDS, "updated_at"))
    + " WHERE " + " OR ".join(f"rma.{c} IS NOT excluded.{c}" for c in _RMA_FIELDS)
)
# received_qty is bench state, not manifest state: an import never writes it.
LINE_UPSERT = (
    f"INSERT INTO rma_line (rma_id, line_no, {', '.join(_LINE_FIELDS)}, received_qty) "
    f"VALUES ({', '.join('?' * (len(_LINE_FIELDS) + 2))}, 0) "
    "ON CONFLICT (rma_id, line_no) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _LINE_FIELDS)
    + " WHERE " + " OR ".join(f"rma_line.{c} IS NOT excluded.{c}" for c in _LINE_FIELDS)
)
# New rows go in with these first: an upsert on a table with triggers (ours, below) costs ~10%
# more per row even when it only inserts (bench/README.md); the rows that meet an existing one
# then go through the upserts.
RMA_INSERT = ("INSERT OR IGNORE INTO rma (rma_id, order_id, created_at, expires_at, status, updated_at, "
              "customer_name, customer_email) VALUES (?,?,?,?,?,?,?,?)")
LINE_INSERT = (f"INSERT OR IGNORE INTO rma_line (rma_id, line_no, {', '.join(_LINE_FIELDS)}, received_qty) "
               f"VALUES ({', '.join('?' * (len(_LINE_FIELDS) + 2))}, 0)")


def _install(conn: Any, stamp: str, first_new_rowid: int) -> None:
    """TEMP tables and triggers (gone with the connection) that tell what the upserts did. A row
    that wants to change an RMA or line this import already wrote (updated_at = stamp; rowid ≥
    first new; already updated) conflicts with an earlier row of the file: it is logged and
    skipped (RAISE(IGNORE))."""
    if not re.fullmatch(r"[0-9 :.-]+", stamp):  # embedded in the trigger: our own timestamp only
        raise ValueError(stamp)
    for sql in (
        "CREATE TEMP TABLE mi_rma_conflict (rma_id TEXT)",
        "CREATE TEMP TABLE mi_rma_changed (rma_id TEXT PRIMARY KEY)",
        "CREATE TEMP TABLE mi_line_conflict (rma_id TEXT, line_no INTEGER)",
        "CREATE TEMP TABLE mi_line_changed (rma_id TEXT, line_no INTEGER, PRIMARY KEY (rma_id, line_no))",
        f"CREATE TEMP TRIGGER mi_rma_conflict BEFORE UPDATE ON main.rma WHEN OLD.updated_at = '{stamp}' "
        "BEGIN INSERT INTO mi_rma_conflict VALUES (NEW.rma_id); SELECT RAISE(IGNORE); END",
        "CREATE TEMP TRIGGER mi_rma_changed AFTER UPDATE ON main.rma "
        "BEGIN INSERT OR IGNORE INTO mi_rma_changed VALUES (NEW.rma_id); END",
        f"CREATE TEMP TRIGGER mi_line_conflict BEFORE UPDATE ON main.rma_line WHEN OLD.rowid >= "
        f"{int(first_new_rowid)} OR EXISTS (SELECT 1 FROM mi_line_changed c WHERE c.rma_id = OLD.rma_id "
        "AND c.line_no = OLD.line_no) "
        "BEGIN INSERT INTO mi_line_conflict VALUES (NEW.rma_id, NEW.line_no); SELECT RAISE(IGNORE); END",
        "CREATE TEMP TRIGGER mi_line_changed AFTER UPDATE ON main.rma_line "
        "BEGIN INSERT OR IGNORE INTO mi_line_changed VALUES (NEW.rma_id, NEW.line_no); END",
    ):
        conn.execute(sql)


class _Writer:
    def __init__(self, conn: Any, report: ImportReport) -> None:
        self.conn, self.report = conn, report
        self.line_mark, self.rmas_changed = 0, False
        self.unknown_reasons: dict[str | None, list[int]] = {}
        self.mostly_new = {"rma": True, "rma_line": True}  # as the last batch was

    def _put(self, table: str, keys: str, insert: str, upsert: str, rows: list[tuple[Any, ...]],
             width: int) -> int:
        """Write `rows` (keyed by their first `width` values); the number of rows written. When
        the last batch was mostly new rows: INSERT OR IGNORE, then the upsert for the rows that
        met an existing one (the first of repeated keys is the one inserted, as the upsert alone
        would have done); else the upsert for all (a re-import pays no second pass)."""
        conn = self.conn
        if not self.mostly_new[table]:
            return conn.executemany(upsert, rows).rowcount
        before = conn.execute(f"SELECT coalesce(max(rowid), 0) FROM {table}").fetchone()[0]
        inserted = conn.executemany(insert, rows).rowcount
        self.mostly_new[table] = 2 * inserted >= len(rows)
        if inserted == len(rows):
            return inserted
        new = set(conn.execute(f"SELECT {keys} FROM {table} WHERE rowid > ?", (before,)))
        rest = []
        for row in rows:
            key = row[:width]
            if key in new:
                new.discard(key)  # its first row: the one inserted
            else:
                rest.append(row)
        return inserted + conn.executemany(upsert, rest).rowcount

    def _bad(self, number: int, rma_id: str, reason: str) -> None:
        self.report.errors += 1
        if len(self.report.error_rows) < MAX_REPORTED:
            self.report.error_rows.append(RowError(number, reason, rma_id))

    def write(self, batch: Batch) -> None:
        """One batch, inside the caller's transaction."""
        rmas, lines, numbers, _pos, rows, bad, nbad, unknown = batch
        merge_unknown_reasons(self.unknown_reasons, unknown)
        conn, report = self.conn, self.report
        report.rows += rows
        report.errors += nbad
        report.error_rows.extend(bad[: MAX_REPORTED - len(report.error_rows)])
        if any(r[6] is not None for r in rmas):  # names: indexed in one statement, not by trigger
            with names_indexed_in_bulk(conn):
                self._put("rma", "rma_id", RMA_INSERT, RMA_UPSERT, rmas, 1)
        else:
            self._put("rma", "rma_id", RMA_INSERT, RMA_UPSERT, rmas, 1)
        if conflicts := {r for (r,) in conn.execute("SELECT rma_id FROM mi_rma_conflict")}:
            conn.execute("DELETE FROM mi_rma_conflict")
            for line, number in zip(lines, numbers):
                if line[0] in conflicts:
                    self._bad(number, line[0], f"{line[0]}: order_id/created_at/expires_at/status "
                              "differ from an earlier row of the RMA")
            keep = [i for i, line in enumerate(lines) if line[0] not in conflicts]
            lines, numbers = [lines[i] for i in keep], [numbers[i] for i in keep]
        # RMAs of this batch whose own fields this import changed (in this or an earlier batch)
        changed: list[str] = []
        if self.rmas_changed or conn.execute("SELECT EXISTS (SELECT 1 FROM mi_rma_changed)").fetchone()[0]:
            self.rmas_changed = True
            changed = [r for (r,) in conn.execute(
                "SELECT rma_id FROM mi_rma_changed WHERE rma_id IN (SELECT value FROM json_each(?))",
                (json.dumps([r[0] for r in rmas]),))]
        before = conn.execute("SELECT coalesce(max(rowid), 0) FROM rma_line").fetchone()[0]
        written = self._put("rma_line", "rma_id, line_no", LINE_INSERT, LINE_UPSERT, lines, 2)
        skipped = set(conn.execute("SELECT rma_id, line_no FROM mi_line_conflict"))
        if skipped:  # a repeated (rma_id, line_no) with other values: the later row is refused
            conn.execute("DELETE FROM mi_line_conflict")
            where = {(line[0], line[1]): number for line, number in zip(lines, numbers)}
            for key in skipped:
                self._bad(where.get(key, 0), key[0], f"{key[0]} line {key[1]} appears twice in the file")
        inserted = conn.execute("SELECT count(*) FROM rma_line WHERE rowid > ?", (before,)).fetchone()[0]
        updated = written - inserted
        if written > inserted or changed:
            changed_lines = set(conn.execute("SELECT rma_id, line_no FROM mi_line_changed WHERE rowid > ?",
                                             (self.line_mark,)))
            self.line_mark = conn.execute("SELECT coalesce(max(rowid), 0) FROM mi_line_changed").fetchone()[0]
        if changed:  # rows of an RMA whose own fields changed are updated rows, even if the line is not
            new = set(conn.execute("SELECT rma_id, line_no FROM rma_line WHERE rowid > ? AND rma_id IN "
                                   "(SELECT value FROM json_each(?))", (before, json.dumps(changed))))
            cset, done = set(changed), changed_lines | new | skipped
            updated += sum(1 for line in lines if line[0] in cset and (line[0], line[1]) not in done)
        report.inserted += inserted
        report.updated += updated
        report.unchanged += len(lines) - len(skipped) - inserted - updated


def _record_event(engine: Engine, station_id: str, operator: str | None, report: ImportReport) -> None:
    """`events.record` through a session over our connection, inside the transaction we began:
    the session's commit is that transaction's COMMIT (pysqlite in autocommit mode, as in Store,
    so SQLAlchemy issues no BEGIN of its own). The engine's first-connect set-up ends with a
    ROLLBACK, so it is done before our transaction begins (see import_manifest)."""
    with Session(engine, expire_on_commit=False) as session:
        events.record(session, station_id, "manifest_imported", operator=operator, payload=report.payload())
        session.commit()


def reason_codes_in(home: Path) -> Collection[str] | None:
    """The reason codes of the bench at `home` (codes.toml, layered); None when that
    configuration cannot be read (then codes are not checked)."""
    from dockstation.config import CodesConfig, ConfigError, load_layered

    try:
        return set(load_layered("codes.toml", CodesConfig, home).reason_codes)
    except (ConfigError, OSError):
        return None


def _site_rules(home: Path) -> Any:
    """The bench's carrier label rules (codes.toml `[carriers]`), or None if unreadable."""
    from dockstation.config import CodesConfig, ConfigError, load_layered

    try:
        return load_layered("codes.toml", CodesConfig, home).carriers.site()
    except (ConfigError, OSError):
        return None


def bench_reason_codes(store: Store) -> Collection[str] | None:
    """The reason codes of the bench whose store this is (see reason_codes_in)."""
    return reason_codes_in(store.path.parent)


def import_manifest(store: Store, station_id: str, source: Path | str | Feed, *, operator: str | None = None,
                    progress: Callable[[int, int], None] | None = None,
                    reason_codes: Collection[str] | None = None) -> ImportReport:
    """Load a Manifest CSV. Bad rows are reported (line, reason) and skipped; good rows load.

    `source`: the file, or a feed already started on it (`open_manifest(path).start(stamp,
    codes)`, see dockstation.manifest_csv: parsing then begins before the store is opened; the
    feed is closed here). Raises ManifestError when the whole file is refused (then nothing is
    loaded). `progress(bytes_done, bytes_total)` is called after every batch. `reason_codes`:
    the known reason codes (default: the bench's codes.toml); a row with another one loads, with
    a line-numbered warning in `report.warnings`. Ignored when `source` is a feed.
    """
    if isinstance(source, (str, Path)):
        mf = open_manifest(source)
        mf.carriers = _site_rules(store.path.parent)
        if reason_codes is None:
            reason_codes = bench_reason_codes(store)
            if reason_codes is None:
                mf.warnings.append("reason codes not checked: the bench's codes.toml could not be read")
        feed = mf.start(db_time(datetime.now(UTC)), reason_codes)
    else:
        feed = source
    with feed:
        report = _import(store, station_id, feed, operator, progress)
    _match_holds(store, station_id, report)
    return report


def _match_holds(store: Store, station_id: str, report: ImportReport) -> None:
    """Blind receipts this manifest now names are matched (receiving/holds.py), the lead told."""
    from dockstation.config import ConfigError
    from dockstation.receiving.holds import match_for_home

    try:
        matched = match_for_home(store, station_id, store.path.parent)
    except ConfigError as exc:  # the import stands; the next import or pull tries again
        report.warnings.append(f"held units not matched: {exc}")
        return
    report.holds_matched = [(m.lpn, m.rma_id, m.line_no) for m in matched]


class _Deferred:
    """The indexes an import builds at its end (manifest_bulk.DEFERRED), and the lock that says
    it is running."""

    def __init__(self, lock: bulk.BulkLock | None, names: list[str]) -> None:
        self.lock, self.names = lock, names

    @classmethod
    def start(cls, conn: Any, path: Path, file_bytes: int, rows_held: int) -> _Deferred:
        if not bulk.worth_deferring(file_bytes, rows_held) or (lock := bulk.BulkLock.take(path)) is None:
            return cls(None, [])
        try:
            names = bulk.drop(conn)
        except BaseException:
            lock.release()
            raise
        log.info("manifest import: %s built at the end", ", ".join(names))
        return cls(lock, names)

    def finish(self, conn: Any, failed: bool = False) -> None:
        """Build the dropped indexes and release the lock. `failed`: after an error (logged, not
        raised: the next `Store` open tries again)."""
        if self.lock is None:
            return
        try:
            bulk.build(conn, self.names)
        except Exception:
            if not failed:
                raise
            log.warning("manifest import: indexes not built after a failure", exc_info=True)
        finally:
            self.lock.release()
            self.lock = None


def _import(store: Store, station_id: str, feed: Feed, operator: str | None,
            progress: Callable[[int, int], None] | None) -> ImportReport:
    mf, stamp = feed.manifest, feed.stamp
    report = ImportReport(file=mf.path.name)
    report.warnings.extend(mf.warnings)
    total = mf.size
    conn = store.raw_connection()
    try:
        for pragma in BULK_PRAGMAS:
            conn.execute(pragma)
        engine = create_engine("sqlite://", creator=lambda: conn, poolclass=StaticPool)
        with engine.connect():
            pass  # first-connect set-up now, outside our transactions
        first_new = conn.execute("SELECT coalesce(max(rowid), 0) + 1 FROM rma_line").fetchone()[0]
        _install(conn, stamp, first_new)
        writer = _Writer(conn, report)
        pending: Batch | None = None
        conn.execute("PRAGMA wal_autocheckpoint=0")  # this connection's commits: the Checkpointer's job
        checkpointer = bulk.Checkpointer(store.path)
        deferred: _Deferred | None = None
        try:
            for batch in feed:
                if pending is not None:
                    if deferred is None:  # a second batch: the file is big enough to decide on
                        deferred = _Deferred.start(conn, store.path, total, first_new - 1)
                    conn.execute("BEGIN IMMEDIATE")
                    try:
                        writer.write(pending)
                        conn.execute("COMMIT")
                    except BaseException:
                        conn.execute("ROLLBACK")
                        raise
                    checkpointer.committed()
                    if progress:
                        progress(pending.position, total)
                pending = batch
            if deferred is not None:
                deferred.finish(conn)  # before the last batch: its rows go into the indexes one by one
        finally:
            if deferred is not None:
                deferred.finish(conn, failed=True)  # after an error: best effort, else the next open does it
            checkpointer.close()
        # The last batch and the one manifest_imported event commit together.
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            if pending is not None:
                writer.write(pending)
            report.error_rows.sort(key=lambda e: e.line)
            _record_event(engine, station_id, operator, report)
            if conn.in_transaction:
                raise RuntimeError("manifest import: the final transaction did not commit")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")  # a bulk load leaves a big WAL behind
        engine.dispose()
    finally:
        conn.close()
    report.warnings.extend(unknown_reason_warnings(writer.unknown_reasons))
    if progress:
        progress(total, total)
    return report
