"""Manifest CSV: read and validate a file of the Manifest CSV contract into batches of rows.

The one reader of manifest files: the bench's import (dockstation.manifest) writes its batches
into SQLite, HQ's (sync.hq.manifest_import) into the HQ database, so bench and HQ accept exactly the same
files. Public API:

    mf = open_manifest(path)            # ManifestError if the whole file is refused
    mf.size, mf.warnings                # bytes; e.g. ignored columns
    for batch in mf.batches(stamp, reason_codes=known):   # Batch, below
        ...
    feed = mf.start(stamp, known)       # the same, with the parser started now (see below)
    unknown_reason_warnings(merged)     # the warnings of unknown reason codes, line-numbered

The file is streamed and validated into batches of BATCH_ROWS; a file of more than a few MB is
parsed in a child process while the caller writes, when a CPU core is free
(dockstation.manifest_feed). `start` begins parsing at once, so the caller can open its
database meanwhile. Per-row Python work is kept small.
"""

from __future__ import annotations

import codecs
import csv
import operator as op
import re
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
# Optional columns (issue 16): the customer, for the bench's search (docs/manifest.md). Customer
# data: never logged, never quoted back in a row's error; shown only where the clerk needs it.
OPTIONAL = ("customer_name", "customer_email")
MAX_NAME = 200
MAX_EMAIL = 254
# The contract lets only these be empty; every other column must have a value.
MAY_BE_EMPTY = frozenset({"expected_serial", "gtin", "carrier", "tracking_number"})
BATCH_ROWS = 20_000
MAX_REPORTED = 1000  # bad rows kept in a report (all are counted)
MAX_UNKNOWN_CODES = 50  # distinct unknown reason codes named in warnings (all rows are counted)
STATUSES = frozenset({"open", "cancelled"})
# Bounds of the numbers a row may hold (docs/manifest.md). They keep every value inside the
# databases' integer columns (HQ's PostgreSQL `integer` is 32-bit) and refuse the absurd.
MAX_LINE_NO = 999_999
MAX_QTY = 100_000
MAX_PRICE = Decimal("1000000")
_RMA_ID = re.compile(r"[!-~]{1,64}")  # printable ASCII, no spaces: it is scanned from a label
_CURRENCY = re.compile(r"[A-Z]{3}")
# A plain decimal: digits, at most 4 decimals; no sign, exponent, spaces or separators.
_PRICE = re.compile(r"[0-9]{1,7}(?:\.[0-9]{1,4})?")


class ManifestError(Exception):
    """The whole file is refused (unreadable, not UTF-8, header missing or incomplete)."""


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str
    rma_id: str | None = None


class Batch(NamedTuple):
    """Validated rows, as plain values (they cross from the parser process)."""

    rmas: list[tuple[Any, ...]]  # (rma_id, order_id, created_at, expires_at, status, stamp,
    #                              customer_name, customer_email)
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


def _time(value: str, column: str, hours: dict[str, str] | None = None) -> str:
    """An ISO 8601 time with its offset, as UTC DATETIME text. `hours`: a cache for the usual
    shape `YYYY-MM-DDTHH:MM:SS±HH:00`, whose minutes and seconds are the same in UTC: only the
    date and hour move, and a manifest's times share few (date, hour, offset) prefixes. This runs
    twice per RMA; the cache makes it ~3x cheaper."""
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise _Bad(f"{column}: not an ISO 8601 time: {value!r}") from None
    offset = dt.utcoffset()
    if offset is None:
        raise _Bad(f"{column}: {value!r} has no UTC offset (write e.g. 2026-11-20T14:03:00+00:00)")
    try:
        if (hours is not None and len(value) == 25 and value[13] == ":" and value[16] == ":"
                and value[22] == ":" and value[23:] == "00"):
            key = value[:13] + value[19:22]
            prefix = hours.get(key)
            if prefix is None:
                if len(hours) > 100_000:
                    hours.clear()
                prefix = hours[key] = (dt - offset).isoformat(" ", "hours")[:13]
            return prefix + value[13:19] + ".000000"
        return (dt - offset).isoformat(" ", "microseconds")[:26]  # cheaper than astimezone
    except OverflowError:
        raise _Bad(f"{column}: {value!r} is out of range") from None


def _price(value: str) -> str:
    if not _PRICE.fullmatch(value):
        try:
            Decimal(value)
        except InvalidOperation:
            raise _Bad(f"unit_price: not a decimal number: {value!r}") from None
        raise _Bad(f"unit_price: must be a plain decimal number ≥ 0 with at most 4 decimals, such as "
                   f"12.50 (no sign, exponent or spaces), got {value!r}")
    d = Decimal(value)
    if d > MAX_PRICE:
        raise _Bad(f"unit_price: {value} is above the limit of {MAX_PRICE}")
    return str(d)


def _counts(line_no: str, qty: str) -> tuple[int, int]:
    try:
        n, q = int(line_no), int(qty)
    except ValueError:
        raise _Bad(f"line_no and qty must be whole numbers, got {line_no[:40]!r} and {qty[:40]!r}") from None
    if n < 1 or q < 1:
        raise _Bad(f"line_no and qty must be 1 or more, got {line_no[:40]} and {qty[:40]}")
    if n > MAX_LINE_NO:
        raise _Bad(f"line_no: {line_no[:40]} is above the limit of {MAX_LINE_NO}")
    raise _Bad(f"qty: {qty[:40]} is above the limit of {MAX_QTY}")


def _nul(row: list[str], names: list[str]) -> None:
    for name, value in zip(names, row):
        if "\x00" in value:
            raise _Bad(f"{name}: holds a NUL character (\\x00)")


def _empty(**values: str) -> _Bad:
    names = [k for k, v in values.items() if not v]
    return _Bad(f"{', '.join(names)}: empty (only {', '.join(sorted(MAY_BE_EMPTY))} may be empty)")


# -- the file as a whole ------------------------------------------------------------------------
def check_utf8(path: Path) -> tuple[int, bool]:
    """Refuse a file that is not UTF-8 before anything is loaded (C-speed, nothing kept).
    Returns the file's size in bytes, and whether it holds a NUL byte anywhere (then the rows
    are checked for it one by one; the usual file pays nothing)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    size, nul = 0, False
    if path.is_dir():
        raise ManifestError("is a folder, not a CSV file")
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                size += len(chunk)
                nul = nul or b"\x00" in chunk
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
    except FileNotFoundError:
        raise ManifestError("no such file") from None
    except OSError as exc:
        raise ManifestError(f"cannot read: {exc.strerror or exc}") from None
    return size, nul


def read_header(path: Path, warnings: list[str]) -> tuple[list[int], int]:
    """Column positions in COLUMNS order, then OPTIONAL's (-1 where absent), and the header's
    width. Refuses a missing column."""
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
    if extra := [n for n in names if n not in COLUMNS and n not in OPTIONAL]:
        warnings.append(f"ignored column(s): {', '.join(repr(e) for e in extra)}")
    return [names.index(c) for c in COLUMNS] + [names.index(c) if c in names else -1 for c in OPTIONAL], len(names)


@dataclass
class ManifestFile:
    """A manifest file whose encoding and header were accepted (see open_manifest)."""

    path: Path
    size: int
    positions: list[int]
    width: int
    warnings: list[str] = field(default_factory=list)
    nul: bool = False  # a NUL byte somewhere: rows are checked for it

    carriers: Any = None  # the site's label rules (carriers.SiteRules), for tracking numbers

    def args(self, stamp: str, reason_codes: Collection[str] | None) -> tuple[Any, ...]:
        """`parse`'s arguments (plain values: they are handed to the parser process)."""
        known = sorted(reason_codes) if reason_codes is not None else None
        rules = self.carriers.plain() if self.carriers is not None and self.carriers.active else None
        return (str(self.path), self.positions, self.width, stamp, known, self.nul, rules)

    def start(self, stamp: str, reason_codes: Collection[str] | None = None) -> Any:
        """Start parsing now (in a child process when that pays, see dockstation.manifest_feed)
        and return the feed of batches: iterate it, and `close()` it (or use it as a context
        manager). `stamp` is written as each RMA row's updated_at; `reason_codes`: the known
        codes (None: not checked). A reason code not among them is counted in
        Batch.unknown_reasons, not refused (see unknown_reason_warnings)."""
        from dockstation.manifest_feed import start_feed

        return start_feed(self, stamp, reason_codes)

    def batches(self, stamp: str, reason_codes: Collection[str] | None = None) -> Iterator[Batch]:
        """The validated batches, in file order (see `start`)."""
        with self.start(stamp, reason_codes) as feed:
            yield from feed


def open_manifest(path: Path | str) -> ManifestFile:
    """Check that the file is UTF-8 and that its header names every column; ManifestError if not."""
    path = Path(path)
    size, nul = check_utf8(path)
    warnings: list[str] = []
    positions, width = read_header(path, warnings)
    return ManifestFile(path, size, positions, width, warnings, nul)


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
def _customer(name: str, email: str) -> tuple[str | None, str | None]:
    name, email = " ".join(name.split()), email.strip()
    if len(name) > MAX_NAME:
        raise _Bad(f"customer_name: longer than {MAX_NAME} characters")
    if email and (len(email) > MAX_EMAIL or "@" not in email[1:-1] or any(c.isspace() for c in email)):
        raise _Bad("customer_email: not an e-mail address")  # never the value: customer data
    return name or None, email or None


def parse(path: Path | str, positions: list[int], width: int, stamp: str,
          reason_codes: Collection[str] | None = None, nul: bool = True,
          carrier_rules: list[Any] | None = None) -> Iterator[Batch]:
    """Validate rows into batches. Hot loop: RMA-level fields are checked once per run of rows of
    the same RMA, prices/GTINs/currencies are cached (a catalogue repeats them), the rest is
    C builtins. Repeated (rma_id, line_no) rows are caught by the writers. `nul`: check every
    field for NUL characters (open_manifest tells whether the file holds any)."""
    from dockstation.carriers import SiteRules, tracking_key

    rules = SiteRules.of(carrier_rules)
    customer_at = [p for p in positions[len(COLUMNS):] if p >= 0]
    pick_customer = op.itemgetter(*positions[len(COLUMNS):]) if customer_at else None
    pick = op.itemgetter(*positions[:len(COLUMNS)])
    rma_at = positions[0]
    customer: tuple[str | None, str | None] = (None, None)
    known = frozenset(reason_codes) if reason_codes is not None else None
    min_line, max_line, min_qty, max_qty = 1, MAX_LINE_NO, 1, MAX_QTY
    with open(path, encoding="utf-8-sig", newline="") as text:
        reader = csv.reader(text)
        header = next(reader)  # checked by read_header
        names = [h.strip() or f"column {i + 1}" for i, h in enumerate(header)]
        raw = text.buffer.raw  # bytes read so far, for progress
        rmas: dict[str, tuple[Any, ...]] = {}
        lines: list[tuple[Any, ...]] = []
        numbers: list[int] = []
        prices: dict[str, str] = {}
        gtins: set[str] = set()
        currencies: set[str] = set()
        hours: dict[str, str] = {}
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
                if nul:
                    _nul(row, names)
                (rma_id, order_id, created, expires, status, line_no, sku, gtin, description, category,
                 qty, price, currency, serial, reason, carrier, tracking) = pick(row)
                head = (order_id, created, expires, status)
                if pick_customer is not None:
                    head += tuple("" if p < 0 else row[p] for p in positions[len(COLUMNS):])
                if rma_id != last_id or head != last_head:
                    if not _RMA_ID.fullmatch(rma_id):
                        raise _Bad(f"rma_id: must be 1–64 printable characters, no spaces: {rma_id!r}")
                    if not order_id:
                        raise _empty(order_id=order_id)
                    if status not in STATUSES:
                        raise _Bad(f"status: must be open or cancelled, got {status!r}")
                    created_db, expires_db = _time(created, "created_at", hours), _time(expires, "expires_at", hours)
                    if expires_db < created_db:
                        raise _Bad("expires_at is before created_at")
                    if pick_customer is not None:
                        customer = _customer(*head[4:])
                    candidate = (rma_id, order_id, created_db, expires_db, status, stamp, *customer)
                    seen = rmas.get(rma_id)
                    if seen is not None and (seen[1:5] != candidate[1:5] or seen[6:] != candidate[6:]):
                        raise _Bad(f"{rma_id}: order_id/created_at/expires_at/status/customer differ from "
                                   "an earlier row of the RMA")
                    last_id, last_head, last_row, new_rma = rma_id, head, candidate, seen is None
                try:
                    n, q = int(line_no), int(qty)
                except ValueError:
                    n = q = 0
                if not (min_line <= n <= max_line and min_qty <= q <= max_qty):
                    _counts(line_no, qty)  # raises, with the reason
                if not (sku and description and category and reason):
                    raise _empty(sku=sku, description=description, category=category, reason_code=reason)
                p = prices.get(price)
                if p is None:
                    p = _price(price)
                    if len(prices) < 100_000:
                        prices[price] = p
                if gtin and gtin not in gtins:
                    if not gtin.isdigit() or not ean.is_valid(gtin):
                        raise _Bad(f"gtin: {gtin!r} is not a GTIN-8/12/13/14 with a valid check digit")
                    if len(gtins) < 1_000_000:
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
                          serial or None, reason, carrier or None,
                          tracking_key(tracking, rules) if tracking else None))
            numbers.append(number)
            if len(lines) >= BATCH_ROWS:
                yield Batch(list(rmas.values()), lines, numbers, raw.tell(), rows, errors, nbad, unknown)
                rmas, lines, numbers, errors, rows, nbad, unknown = {}, [], [], [], 0, 0, {}
                last_id = ""  # the next batch writes the current RMA again (a no-op upsert)
        yield Batch(list(rmas.values()), lines, numbers, raw.tell(), rows, errors, nbad, unknown)
