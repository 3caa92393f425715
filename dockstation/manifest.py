"""Manifest import: expected returns from the Manifest CSV contract into `rma` and `rma_line`.

Speed path (1M rows, bounded memory): the CSV is streamed and validated into batches of
BATCH_ROWS; each batch is written with two `executemany` upserts on a plain sqlite3 connection.
An upsert writes only when something changed (`ON CONFLICT DO UPDATE ... WHERE ... IS NOT
excluded...`), so re-importing the same file writes nothing. What the upserts did is counted
without reading rows back: new rows by rowid, changed and conflicting rows by TEMP triggers
that log into TEMP tables (this connection only). Per-row Python work is kept small, and a
big file is parsed in a child process while this one writes, when a CPU core is free.

Each batch is its own short transaction, so scans at the bench are never held up for long; the
last batch and the one `manifest_imported` event commit together, with synchronous=FULL.
"""

from __future__ import annotations

import codecs
import csv
import json
import operator as op
import os
import pickle
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import StaticPool
from sqlmodel import Session
from stdnum import ean

from dockstation import events
from dockstation.store import Store

COLUMNS = (
    "rma_id", "order_id", "created_at", "expires_at", "status", "line_no", "sku", "gtin",
    "description", "category", "qty", "unit_price", "currency", "expected_serial", "reason_code",
    "carrier", "tracking_number",
)
BATCH_ROWS = 20_000
# From ~150k rows, and only with a core to itself, a parser process pays for itself: measured
# 1M RMAs 46 s instead of 51 s; 100k RMAs the same either way (bench/README.md).
PARALLEL_BYTES = 32 << 20
BULK_PRAGMAS = (
    # The manifest can always be imported again (it is the file's data, not the bench's), so the
    # bulk batches commit with synchronous=NORMAL (WAL: safe against a crash, not a power cut);
    # the final commit is FULL, and syncing the WAL then makes them durable too.
    "PRAGMA synchronous=NORMAL",
    # The indexes of a 1M-row table outgrow the default 2 MB page cache, and every insert then
    # reads pages back from the OS (2x slower): 64 MiB keeps their hot part.
    "PRAGMA cache_size=-65536",
)
MAX_REPORTED = 1000  # bad rows kept in the report (all are counted)
STATUSES = frozenset({"open", "cancelled"})
_RMA_ID = re.compile(r"[!-~]{1,64}")  # printable ASCII, no spaces: it is scanned from a label
_CURRENCY = re.compile(r"[A-Z]{3}")
_RMA_FIELDS = ("order_id", "created_at", "expires_at", "status")
_LINE_FIELDS = ("sku", "gtin", "description", "category", "qty", "unit_price", "currency",
                "expected_serial", "reason_code", "carrier", "tracking_number")


class ManifestError(Exception):
    """The whole file is refused (unreadable, not UTF-8, header missing or incomplete)."""


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str
    rma_id: str | None = None


@dataclass
class ImportReport:
    file: str
    rows: int = 0  # data rows read (blank lines not counted)
    inserted: int = 0
    updated: int = 0  # the line, or its RMA's fields, changed
    unchanged: int = 0
    errors: int = 0
    error_rows: list[RowError] = field(default_factory=list)  # the first MAX_REPORTED, by line
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.errors == 0

    def payload(self) -> dict[str, Any]:
        return {"file": self.file, "rows": self.rows, "inserted": self.inserted,
                "updated": self.updated, "unchanged": self.unchanged, "errors": self.errors}


def db_time(value: datetime) -> str:
    """UTC as SQLAlchemy's SQLite DATETIME text ('YYYY-MM-DD HH:MM:SS.ffffff'), so ORM reads of
    what we write work. (Slicing the offset off is twice as fast as replace(tzinfo=None).)"""
    return value.astimezone(UTC).isoformat(" ", "microseconds")[:26]


class _Bad(Exception):
    pass


def _time(value: str, column: str) -> str:
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise _Bad(f"{column}: not an ISO 8601 time: {value!r}") from None
    offset = dt.utcoffset()
    if offset is None:
        raise _Bad(f"{column}: {value!r} has no UTC offset (write e.g. 2026-11-20T14:03:00+00:00)")
    try:  # UTC wall time; cheaper than astimezone (this runs twice per RMA)
        return (dt - offset).isoformat(" ", "microseconds")[:26]
    except OverflowError:
        raise _Bad(f"{column}: {value!r} is out of range") from None


def _price(value: str) -> str:
    try:
        d = Decimal(value)
    except InvalidOperation:
        raise _Bad(f"unit_price: not a decimal number: {value!r}") from None
    if not d.is_finite() or d < 0:
        raise _Bad(f"unit_price: must be a number ≥ 0, got {value!r}")
    return str(d)


# -- reading ----------------------------------------------------------------------------------
def _check_utf8(path: Path) -> int:
    """Refuse a file that is not UTF-8 before anything is loaded (C-speed, nothing kept)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    size = 0
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                size += len(chunk)
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        with path.open("rb") as fh:  # only on error: find its line
            for number, raw in enumerate(fh, start=1):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise ManifestError(
                        f"line {number}: not valid UTF-8 (byte 0x{raw[exc.start]:02X} at column "
                        f"{exc.start + 1}); save the file as UTF-8 (CSV UTF-8)") from None
        raise ManifestError("not valid UTF-8 (a character cut off at the end of the file)") from None
    except OSError as exc:
        raise ManifestError(f"cannot read: {exc.strerror or exc}") from None
    return size


def _header(path: Path, warnings: list[str]) -> tuple[list[int], int]:
    """Column positions in COLUMNS order, and the header's width. Refuses a missing column."""
    with path.open(encoding="utf-8-sig", newline="") as text:
        try:
            names = [h.strip() for h in next(csv.reader(text))]
        except StopIteration:
            raise ManifestError("the file is empty: a header row naming the columns is required") from None
        except csv.Error as exc:
            raise ManifestError(f"line 1: not a CSV header: {exc}") from None
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        folded = {n.lower().replace(" ", "_"): n for n in names}
        hints = [f"{c} (found {folded[c]!r})" if c in folded else c for c in missing]
        raise ManifestError(f"line 1: missing required column(s): {', '.join(hints)}"
                            + (" — is the header row missing?" if len(missing) == len(COLUMNS) else ""))
    repeated = sorted({n for n in names if n and names.count(n) > 1})
    if repeated:
        raise ManifestError(f"line 1: column(s) named twice: {', '.join(repeated)}")
    if extra := [n for n in names if n not in COLUMNS]:
        warnings.append(f"ignored column(s): {', '.join(repr(e) for e in extra)}")
    return [names.index(c) for c in COLUMNS], len(names)


# A batch, as plain picklable values: (rma rows, line rows, file line number of each line row,
# bytes read so far, data rows read, first bad rows, bad row count).
Batch = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[int], int, int, list[RowError], int]


def _parse(path: Path, positions: list[int], width: int, stamp: str) -> Iterator[Batch]:
    """Validate rows into batches. Hot loop: RMA-level fields are checked once per run of rows of
    the same RMA, prices/GTINs/currencies are cached (a catalogue repeats them), the rest is
    C builtins. Repeated (rma_id, line_no) rows are caught by the writer's triggers."""
    pick = op.itemgetter(*positions)
    rma_at = positions[0]
    with path.open(encoding="utf-8-sig", newline="") as text:
        reader = csv.reader(text)
        next(reader)  # the header, checked by _header
        raw = text.buffer.raw  # bytes read so far, for progress
        rmas: dict[str, tuple[Any, ...]] = {}
        lines: list[tuple[Any, ...]] = []
        numbers: list[int] = []
        prices: dict[str, str] = {}
        gtins: set[str] = set()
        currencies: set[str] = set()
        last_id, last_head, last_row, new_rma = "", (), (), False
        errors: list[RowError] = []
        prev, rows, nbad = reader.line_num, 0, 0  # physical lines: a quoted field may span several
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                nbad, rows = nbad + 1, rows + 1
                if len(errors) < MAX_REPORTED:
                    errors.append(RowError(prev + 1, f"not valid CSV: {exc}"))
                if reader.line_num == prev:
                    break  # the reader cannot move on
                prev = reader.line_num
                continue
            number, prev = prev + 1, reader.line_num
            if not row:
                continue  # a blank line
            rows += 1
            try:
                if len(row) != width:
                    raise _Bad(f"expected {width} fields like the header, got {len(row)}")
                (rma_id, order_id, created, expires, status, line_no, sku, gtin, description, category,
                 qty, price, currency, serial, reason, carrier, tracking) = pick(row)
                head = (order_id, created, expires, status)
                if rma_id != last_id or head != last_head:
                    if not _RMA_ID.fullmatch(rma_id):
                        raise _Bad(f"rma_id: must be 1–64 printable characters, no spaces: {rma_id!r}")
                    if status not in STATUSES:
                        raise _Bad(f"status: must be open or cancelled, got {status!r}")
                    created_db, expires_db = _time(created, "created_at"), _time(expires, "expires_at")
                    if expires_db < created_db:
                        raise _Bad("expires_at is before created_at")
                    candidate = (rma_id, order_id, created_db, expires_db, status, stamp)
                    seen = rmas.get(rma_id)
                    if seen is not None and seen[1:5] != candidate[1:5]:
                        raise _Bad(f"{rma_id}: order_id/created_at/expires_at/status differ from "
                                   "an earlier row of the RMA")
                    last_id, last_head, last_row, new_rma = rma_id, head, candidate, seen is None
                try:
                    n, q = int(line_no), int(qty)
                except ValueError:
                    raise _Bad(f"line_no and qty must be whole numbers, got {line_no!r} and {qty!r}") from None
                if n < 1 or q < 1:
                    raise _Bad(f"line_no and qty must be 1 or more, got {n} and {q}")
                if not sku:
                    raise _Bad("sku: empty")
                p = prices.get(price)
                if p is None:
                    p = prices[price] = _price(price)
                if gtin and gtin not in gtins:
                    if not gtin.isdigit() or not ean.is_valid(gtin):
                        raise _Bad(f"gtin: {gtin!r} is not a GTIN-8/12/13/14 with a valid check digit")
                    gtins.add(gtin)
                if currency not in currencies:
                    if not _CURRENCY.fullmatch(currency):
                        raise _Bad(f"currency: must be a 3-letter ISO 4217 code, got {currency!r}")
                    currencies.add(currency)
            except _Bad as exc:
                nbad += 1
                if len(errors) < MAX_REPORTED:
                    errors.append(RowError(number, str(exc), row[rma_at] if len(row) > rma_at else None))
                if nbad % BATCH_ROWS == 0:  # a file of bad rows still moves in bounded batches
                    yield list(rmas.values()), lines, numbers, raw.tell(), rows, errors, nbad
                    rmas, lines, numbers, errors, rows, nbad = {}, [], [], [], 0, 0
                    last_id = ""
                continue
            if new_rma:  # an RMA is written with its first good row, never without a line
                rmas[rma_id] = last_row
                new_rma = False
            lines.append((rma_id, n, sku, gtin or None, description, category, q, p, currency,
                          serial or None, reason, carrier or None, tracking or None))
            numbers.append(number)
            if len(lines) >= BATCH_ROWS:
                yield list(rmas.values()), lines, numbers, raw.tell(), rows, errors, nbad
                rmas, lines, numbers, errors, rows, nbad = {}, [], [], [], 0, 0
                last_id = ""  # the next batch writes the current RMA again (a no-op upsert)
        yield list(rmas.values()), lines, numbers, raw.tell(), rows, errors, nbad


def child_main() -> None:
    """The parser process: `_parse` batches to stdout as length-prefixed pickles. The pipe's
    buffer is the flow control: the child blocks while the parent writes (bounded memory)."""
    path, positions, width, stamp = json.loads(sys.argv[1])
    out = sys.stdout.buffer
    try:
        for batch in _parse(Path(path), positions, width, stamp):
            data = pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
            del batch  # one batch alive at a time, not two
            out.write(len(data).to_bytes(8, "little"))
            out.write(data)
            del data
        error = None
    except BrokenPipeError:
        return  # the parent has gone
    except Exception as exc:  # noqa: BLE001 — handed to the parent
        error = f"{type(exc).__name__}: {exc}"
    data = pickle.dumps(error)
    out.write((len(data) | 1 << 63).to_bytes(8, "little") + data)  # high bit: the last frame
    out.flush()


def _free_core() -> bool:
    """Is a CPU idle enough for a parser process? (It only pays when it has a core to itself.)"""
    try:
        return (os.cpu_count() or 1) - os.getloadavg()[0] >= 1.0
    except OSError:  # no load average on this platform
        return (os.cpu_count() or 1) >= 4


def _batches(args: tuple[Any, ...], size: int) -> Iterator[Batch]:
    """The validated batches of a file (`args` = path, positions, width, stamp; `size` in bytes).
    sync/hq_manifest.py reads files through this function too.

    A big file is parsed by a child interpreter while this process writes; threads would convoy
    on the GIL, which executemany takes for every row."""
    if size < PARALLEL_BYTES or not sys.executable or not _free_core():
        yield from _parse(*args)
        return
    # A plain child interpreter rather than multiprocessing: spawn would re-import the caller's
    # __main__ (a script without a main guard breaks), and fork is unsafe in a threaded TUI.
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parent.parent),
                                                      env.get("PYTHONPATH")]))
    arg = json.dumps([str(args[0]), *args[1:]])
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-c", "from dockstation.manifest import child_main; child_main()",
                                 arg], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, env=env)
        assert proc.stdout is not None
        try:
            while True:
                head = proc.stdout.read(8)
                if len(head) < 8:
                    err.seek(0)
                    tail = err.read()[-400:].decode("utf-8", "replace").strip()
                    raise RuntimeError(f"manifest parser process failed (exit {proc.wait()}): {tail}")
                n = int.from_bytes(head, "little")
                item = pickle.loads(proc.stdout.read(n & ~(1 << 63)))  # our own child's data
                if n >> 63:
                    if item is not None:
                        raise RuntimeError(f"manifest parser: {item}")
                    return
                yield item
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stdout.close()


# -- writing ----------------------------------------------------------------------------------
RMA_UPSERT = (
    "INSERT INTO rma (rma_id, order_id, created_at, expires_at, status, updated_at) VALUES (?,?,?,?,?,?) "
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

    def _bad(self, number: int, rma_id: str, reason: str) -> None:
        self.report.errors += 1
        if len(self.report.error_rows) < MAX_REPORTED:
            self.report.error_rows.append(RowError(number, reason, rma_id))

    def write(self, batch: Batch) -> None:
        """One batch, inside the caller's transaction."""
        rmas, lines, numbers, _pos, rows, bad, nbad = batch
        conn, report = self.conn, self.report
        report.rows += rows
        report.errors += nbad
        report.error_rows.extend(bad[: MAX_REPORTED - len(report.error_rows)])
        conn.executemany(RMA_UPSERT, rmas)
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
        written = conn.executemany(LINE_UPSERT, lines).rowcount
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


def import_manifest(store: Store, station_id: str, path: Path | str, *, operator: str | None = None,
                    progress: Callable[[int, int], None] | None = None) -> ImportReport:
    """Load a Manifest CSV. Bad rows are reported (line, reason) and skipped; good rows load.

    Raises ManifestError when the whole file is refused (then nothing is loaded).
    `progress(bytes_done, bytes_total)` is called after every batch.
    """
    path = Path(path)
    report = ImportReport(file=path.name)
    total = _check_utf8(path)
    positions, width = _header(path, report.warnings)
    stamp = db_time(datetime.now(UTC))
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
        for batch in _batches((path, positions, width, stamp), total):
            if pending is not None:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    writer.write(pending)
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                if progress:
                    progress(pending[3], total)
            pending = batch
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
    if progress:
        progress(total, total)
    return report
