"""Manifest CSV: read and validate a file of the Manifest CSV contract into batches of rows.

The one reader of manifest files: the bench's import (dockstation.manifest) writes its batches
into SQLite, HQ's (sync.hq.manifest_import) into the HQ database, so bench and HQ accept exactly the same
files. Public API:

    mf = open_manifest(path)            # ManifestError if the whole file is refused
    mf.size, mf.warnings                # bytes; e.g. ignored columns
    for batch in mf.batches(stamp, reason_codes=known):   # Batch, below
        ...
    unknown_reason_warnings(merged)     # the warnings of unknown reason codes, line-numbered

The file is streamed and validated into batches of BATCH_ROWS; a big file is parsed in a child
process while the caller writes, when a CPU core is free. Per-row Python work is kept small.
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
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NamedTuple

from stdnum import ean

COLUMNS = (
    "rma_id", "order_id", "created_at", "expires_at", "status", "line_no", "sku", "gtin",
    "description", "category", "qty", "unit_price", "currency", "expected_serial", "reason_code",
    "carrier", "tracking_number",
)
# The contract lets only these be empty; every other column must have a value.
MAY_BE_EMPTY = frozenset({"expected_serial", "gtin", "carrier", "tracking_number"})
BATCH_ROWS = 20_000
# From ~150k rows, and only with a core to itself, a parser process pays for itself: measured
# 1M RMAs 46 s instead of 51 s; 100k RMAs the same either way (bench/README.md).
PARALLEL_BYTES = 32 << 20
MAX_REPORTED = 1000  # bad rows kept in a report (all are counted)
MAX_UNKNOWN_CODES = 50  # distinct unknown reason codes named in warnings (all rows are counted)
STATUSES = frozenset({"open", "cancelled"})
_RMA_ID = re.compile(r"[!-~]{1,64}")  # printable ASCII, no spaces: it is scanned from a label
_CURRENCY = re.compile(r"[A-Z]{3}")


class ManifestError(Exception):
    """The whole file is refused (unreadable, not UTF-8, header missing or incomplete)."""


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str
    rma_id: str | None = None


class Batch(NamedTuple):
    """Validated rows, as plain picklable values (they cross from the parser process)."""

    rmas: list[tuple[Any, ...]]  # (rma_id, order_id, created_at, expires_at, status, stamp)
    lines: list[tuple[Any, ...]]  # (rma_id, line_no, sku, gtin, description, category, qty,
    #                               unit_price, currency, expected_serial, reason_code, carrier,
    #                               tracking_number); empty optional fields as None
    numbers: list[int]  # the file line number of each line row
    position: int  # bytes of the file read so far (for progress)
    rows: int  # data rows read in this batch (blank lines not counted)
    errors: list[RowError]  # its first bad rows
    nbad: int  # its bad row count
    unknown_reasons: dict[str | None, list[int]]  # code -> [first line, rows]; None: codes past the cap


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


def _empty(**values: str) -> _Bad:
    names = [k for k, v in values.items() if not v]
    return _Bad(f"{', '.join(names)}: empty (only {', '.join(sorted(MAY_BE_EMPTY))} may be empty)")


# -- the file as a whole ------------------------------------------------------------------------
def check_utf8(path: Path) -> int:
    """Refuse a file that is not UTF-8 before anything is loaded (C-speed, nothing kept).
    Returns the file's size in bytes."""
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


def read_header(path: Path, warnings: list[str]) -> tuple[list[int], int]:
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


@dataclass
class ManifestFile:
    """A manifest file whose encoding and header were accepted (see open_manifest)."""

    path: Path
    size: int
    positions: list[int]
    width: int
    warnings: list[str] = field(default_factory=list)

    def batches(self, stamp: str, reason_codes: Collection[str] | None = None) -> Iterator[Batch]:
        """The validated batches, in file order. `stamp` is written as each RMA row's updated_at;
        `reason_codes`: the known codes (None: not checked). A reason code not among them is
        counted in Batch.unknown_reasons, not refused (see unknown_reason_warnings)."""
        known = sorted(reason_codes) if reason_codes is not None else None
        return _batches((self.path, self.positions, self.width, stamp, known), self.size)


def open_manifest(path: Path | str) -> ManifestFile:
    """Check that the file is UTF-8 and that its header names every column; ManifestError if not."""
    path = Path(path)
    size = check_utf8(path)
    warnings: list[str] = []
    positions, width = read_header(path, warnings)
    return ManifestFile(path, size, positions, width, warnings)


def merge_unknown_reasons(into: dict[str | None, list[int]], part: dict[str | None, list[int]]) -> None:
    """Add a later batch's unknown reason codes to those of the batches before it."""
    for code, (first, n) in part.items():
        if code in into:
            into[code][1] += n
        elif code is not None and sum(1 for c in into if c is not None) >= MAX_UNKNOWN_CODES:
            into.setdefault(None, [first, 0])[1] += n
        else:
            into[code] = [first, n]


def unknown_reason_warnings(unknown: dict[str | None, list[int]]) -> list[str]:
    """One warning per unknown reason code, by first line: the rows loaded all the same."""
    out = []
    for code, (first, n) in sorted(unknown.items(), key=lambda kv: kv[1][0]):
        rows = f"{n} row{'s' if n != 1 else ''}"
        if code is None:
            out.append(f"line {first}: {rows} with other reason codes not in codes.toml [reason_codes] "
                       f"(more than {MAX_UNKNOWN_CODES} unknown codes), loaded as they are")
        else:
            out.append(f"line {first}: reason_code {code!r} is not in codes.toml [reason_codes]; "
                       f"{rows} with it, loaded as they are")
    return out


# -- the rows -----------------------------------------------------------------------------------
def parse(path: Path, positions: list[int], width: int, stamp: str,
          reason_codes: Collection[str] | None = None) -> Iterator[Batch]:
    """Validate rows into batches. Hot loop: RMA-level fields are checked once per run of rows of
    the same RMA, prices/GTINs/currencies are cached (a catalogue repeats them), the rest is
    C builtins. Repeated (rma_id, line_no) rows are caught by the writers."""
    pick = op.itemgetter(*positions)
    rma_at = positions[0]
    known = frozenset(reason_codes) if reason_codes is not None else None
    with path.open(encoding="utf-8-sig", newline="") as text:
        reader = csv.reader(text)
        next(reader)  # the header, checked by read_header
        raw = text.buffer.raw  # bytes read so far, for progress
        rmas: dict[str, tuple[Any, ...]] = {}
        lines: list[tuple[Any, ...]] = []
        numbers: list[int] = []
        prices: dict[str, str] = {}
        gtins: set[str] = set()
        currencies: set[str] = set()
        unknown: dict[str | None, list[int]] = {}
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
                    if not order_id:
                        raise _empty(order_id=order_id)
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
                if not (sku and description and category and reason):
                    raise _empty(sku=sku, description=description, category=category, reason_code=reason)
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
                    yield Batch(list(rmas.values()), lines, numbers, raw.tell(), rows, errors, nbad, unknown)
                    rmas, lines, numbers, errors, rows, nbad, unknown = {}, [], [], [], 0, 0, {}
                    last_id = ""
                continue
            if new_rma:  # an RMA is written with its first good row, never without a line
                rmas[rma_id] = last_row
                new_rma = False
            if known is not None and reason not in known:  # a warning, not a bad row
                if reason in unknown:
                    unknown[reason][1] += 1
                else:
                    merge_unknown_reasons(unknown, {reason: [number, 1]})
            lines.append((rma_id, n, sku, gtin or None, description, category, q, p, currency,
                          serial or None, reason, carrier or None, tracking or None))
            numbers.append(number)
            if len(lines) >= BATCH_ROWS:
                yield Batch(list(rmas.values()), lines, numbers, raw.tell(), rows, errors, nbad, unknown)
                rmas, lines, numbers, errors, rows, nbad, unknown = {}, [], [], [], 0, 0, {}
                last_id = ""  # the next batch writes the current RMA again (a no-op upsert)
        yield Batch(list(rmas.values()), lines, numbers, raw.tell(), rows, errors, nbad, unknown)


def child_main() -> None:
    """The parser process: `parse` batches to stdout as length-prefixed pickles. The pipe's
    buffer is the flow control: the child blocks while the parent writes (bounded memory)."""
    path, positions, width, stamp, known = json.loads(sys.argv[1])
    out = sys.stdout.buffer
    try:
        for batch in parse(Path(path), positions, width, stamp, known):
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
    """The validated batches of a file (`args` = path, positions, width, stamp, known codes;
    `size` in bytes). A big file is parsed by a child interpreter while this process writes;
    threads would convoy on the GIL, which executemany takes for every row."""
    if size < PARALLEL_BYTES or not sys.executable or not _free_core():
        yield from parse(*args)
        return
    # A plain child interpreter rather than multiprocessing: spawn would re-import the caller's
    # __main__ (a script without a main guard breaks), and fork is unsafe in a threaded TUI.
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parent.parent),
                                                      env.get("PYTHONPATH")]))
    arg = json.dumps([str(args[0]), *args[1:]])
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-c", "from dockstation.manifest_csv import child_main; child_main()",
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
