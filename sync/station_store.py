"""What the sync client reads from and writes to the bench's SQLite store.

- KeyValue keys: `sync.acked_seq` (HQ's gap-free high-water mark for this station),
  `sync.manifest_cursor`, `sync.hq` (the HQ URL the cursors belong to), `sync.config_version`,
  `config_error` (why the last bundle was refused; empty when the last one was good).
- A manifest page is written with executemany upserts on the raw sqlite3 connection of a
  `store.write()` transaction, and the `manifest_synced` event and the new cursor commit in the
  same transaction as the rows.
  `received_qty` is bench state and never written by a pull.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import deque
from collections.abc import Sequence
from operator import itemgetter
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from sqlalchemy import func
from sqlmodel import select

from dockstation import events
from dockstation.manifest import db_time
from dockstation.manifest_csv import MAX_EMAIL, MAX_NAME
from dockstation.models import Event, KeyValue
from dockstation.store import Store, names_indexed_in_bulk
from dockstation.text import clean
from dockstation.types import iso
from sync.protocol import LINE_FIELDS, RMA_FIELDS

ACKED = "sync.acked_seq"
CURSOR = "sync.manifest_cursor"
HQ_URL = "sync.hq"
CONFIG_VERSION = "sync.config_version"
CONFIG_ERROR = "config_error"
CONFIG_REFUSED = "sync.config_refused"  # version of the refused bundle (asked for with If-None-Match)
STATUSES = frozenset({"open", "cancelled"})

class PageError(ValueError):
    """A manifest page HQ sent that the bench cannot take (nothing of it is written)."""


# -- key/value --------------------------------------------------------------------------------
def kv_get(store: Store, key: str, default: str = "") -> str:
    with store.read() as s:
        row = s.get(KeyValue, key)
        return row.value if row is not None else default


def kv_set(session: Any, key: str, value: str) -> None:
    row = session.get(KeyValue, key)
    if row is None:
        session.add(KeyValue(key=key, value=value))
    elif row.value != value:
        row.value = value
        session.add(row)


def kv_put(store: Store, **values: str) -> None:
    with store.write() as s:
        for key, value in values.items():
            kv_set(s, key.replace("__", "."), value)


# -- events out -------------------------------------------------------------------------------
def pending_count(store: Store, station_id: str, acked: int) -> int:
    with store.read() as s:
        return int(s.exec(select(func.count()).select_from(Event)
                          .where(Event.station_id == station_id, Event.seq > acked)).one())


def max_seq(store: Store, station_id: str) -> int:
    with store.read() as s:
        return int(s.exec(select(func.max(Event.seq)).where(Event.station_id == station_id)).one() or 0)


def events_after(store: Store, station_id: str, after: int, limit: int) -> list[dict[str, Any]]:
    with store.read() as s:
        rows = s.exec(select(Event).where(Event.station_id == station_id, Event.seq > after)
                      .order_by(Event.seq).limit(limit)).all()
    return [{"seq": e.seq, "kind": e.kind, "at": iso(e.at), "operator": e.operator, "lpn": e.lpn,
             "rma_id": e.rma_id, "payload": e.payload or {}} for e in rows]


# -- manifest in ------------------------------------------------------------------------------
# A page's rows go to executemany as the tuples msgspec decoded them into: no Python per row.
# msgspec checks, in C as it decodes, each row's width and types, ids of 1-128 characters,
# statuses, and line_no/qty as whole numbers >= 1; `fast_page` then checks the times (canonical
# UTC, real dates) and prices (plain decimals) a whole column at a time. The rest is safe by
# SQLite itself: a line whose RMA is unknown is refused by its foreign key, and so is a NULL in a
# NOT NULL column. Anything fast_page does not take goes through `page_rows`, which converts the
# other valid forms (another UTC offset, an exponent in a price) or says exactly what is wrong.
def _ts_sql(v: str) -> str:  # canonical wire time -> the bench's stored text (naive UTC)
    return f"substr({v}, 1, 10) || ' ' || substr({v}, 12, 15)"


_RMA_CHANGES = (*RMA_FIELDS[1:5], *RMA_FIELDS[6:])  # what makes an RMA changed (not updated_at)
RMA_UPSERT = (
    f"INSERT INTO rma ({', '.join(RMA_FIELDS)}) VALUES (?1, ?2, {_ts_sql('?3')}, {_ts_sql('?4')}, ?5, {_ts_sql('?6')}, "
    "?7, ?8) ON CONFLICT (rma_id) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in RMA_FIELDS[1:])
    + " WHERE " + " OR ".join(f"rma.{c} IS NOT excluded.{c}" for c in _RMA_CHANGES))
# received_qty is bench state, not manifest state: never written by a pull.
LINE_UPSERT = (
    f"INSERT INTO rma_line ({', '.join(LINE_FIELDS)}, received_qty) VALUES ({', '.join('?' * len(LINE_FIELDS))}, 0)"
    " ON CONFLICT (rma_id, line_no) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in LINE_FIELDS[2:])
    + " WHERE " + " OR ".join(f"rma_line.{c} IS NOT excluded.{c}" for c in LINE_FIELDS[2:]))
# Canonical times: month, day, hour, minute and second in range; whether the day exists in its
# month is checked once per distinct date (a page holds a few hundred), not once per value.
_CANON_TS = re.compile(r"(?:\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d"
                       r"\.\d{6}\+00:00\n)*", re.ASCII)
_CANON_PRICE = re.compile(r"(?:\d{1,18}(?:\.\d{1,10})?\n)*", re.ASCII)  # ASCII: \d is 0-9 only
_DATE = itemgetter(slice(0, 10))


def _every(pattern: re.Pattern[str], col: Sequence[str]) -> bool:
    """Whether every value of the column matches `pattern` (a `(?:…\\n)*` of one value per
    line), in one pass. The newline count keeps a value with a newline of its own (two canonical
    prices in one, say) from passing as two values."""
    if not col:
        return True
    joined = "\n".join(col) + "\n"
    return joined.count("\n") == len(col) and pattern.fullmatch(joined) is not None


_NONE = type(None)

RmaId = Annotated[str, Meta(min_length=1, max_length=128)]
Whole = Annotated[int, Meta(ge=1)]
Name = Annotated[str, Meta(max_length=MAX_NAME)]  # the manifest parser's limits (HQ read the CSV with it)
Email = Annotated[str, Meta(max_length=MAX_EMAIL)]


class WirePage(msgspec.Struct, frozen=True):
    """A manifest page as HQ writes it (protocol.ManifestPage), rows typed column by column."""

    protocol: int
    cursor: str
    more: bool
    rma_fields: list[str]
    line_fields: list[str]
    rmas: list[tuple[RmaId, str, str, str, Literal["open", "cancelled"], str, Name | None, Email | None]]
    lines: list[tuple[RmaId, Whole, str, str | None, str, str, Whole, str, str, str | None, str,
                      str | None, str | None]]
    remaining: int | None = None


_WIRE = msgspec.json.Decoder(WirePage)


def _canon_times(col: list[str]) -> bool:
    if not _every(_CANON_TS, col):
        return False
    try:
        deque(map(date.fromisoformat, set(map(_DATE, col))), maxlen=0)  # no 2026-02-30
    except ValueError:
        return False
    return True


def fast_page(body: bytes) -> WirePage | None:
    """HQ's page decoded into rows ready for RMA_UPSERT and LINE_UPSERT, if it is in HQ's
    canonical form throughout; else None (take `page_rows`, which also says what is wrong)."""
    try:
        page = _WIRE.decode(body)
    except msgspec.MsgspecError:
        return None
    if page.rma_fields != list(RMA_FIELDS) or page.line_fields != list(LINE_FIELDS):
        return None
    if page.rmas and not all(_canon_times(list(map(itemgetter(i), page.rmas))) for i in (2, 3, 5)):
        return None
    if page.lines and not _every(_CANON_PRICE, list(map(itemgetter(7), page.lines))):
        return None
    return page


class _Refused(Exception):
    """SQLite would not take the rows as they are: roll back, go the Python way."""


def write_page(store: Store, station_id: str, rmas: list[Any], lines: list[Any], cursor: str) -> tuple[int, int]:
    """Upsert checked rows and advance the cursor in one transaction (with a manifest_synced event
    if rows changed); returns (RMAs changed, lines changed). Raises _Refused if SQLite refuses
    the rows (a nested value, a NULL where none may be): nothing is written then."""
    with store.write() as session:
        raw = session.connection().connection.driver_connection  # this BEGIN IMMEDIATE transaction
        try:
            if any(r[6] is not None for r in rmas):  # names: indexed in one statement, not by trigger
                with names_indexed_in_bulk(raw):
                    n_rmas = raw.executemany(RMA_UPSERT, rmas).rowcount
            else:
                n_rmas = raw.executemany(RMA_UPSERT, rmas).rowcount if rmas else 0
            changed = (n_rmas, raw.executemany(LINE_UPSERT, lines).rowcount if lines else 0)
        except (sqlite3.Error, ValueError, TypeError, OverflowError) as exc:
            raise _Refused(str(exc)) from None
        kv_set(session, CURSOR, cursor)
        if changed[0] or changed[1]:
            events.record(session, station_id, "manifest_synced",
                          payload={"rmas": len(rmas), "rmas_changed": changed[0], "lines_changed": changed[1],
                                   "cursor": cursor})
    return changed


def write_page_checked(store: Store, station_id: str, page: dict[str, Any] | bytes, cursor: str,
                       rows: tuple[list[Any], list[Any]] | None = None) -> tuple[int, int]:
    """`write_page` of a page (decoded, or its JSON): the rows `fast_page` made when given as
    `rows`, else `page_rows`' conversion; a page nothing can take raises PageError."""
    if rows is not None:
        try:
            return write_page(store, station_id, *rows, cursor)
        except _Refused:
            pass
    if isinstance(page, bytes):
        try:
            page = json.loads(page)
        except ValueError as exc:
            raise PageError(f"unreadable manifest page from HQ: {clean(exc, limit=120)}") from None
        if type(page) is not dict:
            raise PageError("unreadable manifest page from HQ: not a JSON object")
    rmas, lines = page_rows(page)
    try:
        return write_page(store, station_id, rmas, lines, cursor)
    except _Refused as exc:
        raise PageError(f"manifest page does not fit this bench's tables: {exc}") from None


# -- the slow path: every valid form, precise errors -------------------------------------------
def _types(col: tuple[Any, ...], allowed: set[type], name: str) -> None:
    if not set(map(type, col)) <= allowed:
        bad = next(v for v in col if type(v) not in allowed)
        raise PageError(f"{name}: unexpected value {str(bad)[:40]!r}")


def _canon_ts(value: Any) -> str:
    """Any ISO 8601 time with an offset, as HQ's canonical UTC text."""
    try:
        dt = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise PageError(f"not an ISO 8601 time: {str(value)[:40]!r}") from None
    if dt.tzinfo is None:
        raise PageError(f"time without a UTC offset: {value[:40]!r}")
    return db_time(dt).replace(" ", "T") + "+00:00"


def _times(col: tuple[Any, ...], name: str) -> tuple[Any, ...] | list[str]:
    _types(col, {str}, name)
    if _every(_CANON_TS, col):
        try:
            deque(map(datetime.fromisoformat, col), maxlen=0)  # real dates (no 2026-02-30)
            return col
        except ValueError as exc:
            raise PageError(f"{name}: {exc}") from None
    return [_canon_ts(v) for v in col]


def _price(value: Any) -> str:
    try:
        d = Decimal(value) if type(value) is str else None
    except InvalidOperation:
        d = None
    if d is None or not d.is_finite() or d < 0:
        raise PageError(f"unit_price: not a decimal ≥ 0: {str(value)[:40]!r}")
    return str(d)


def _rows(page: dict[str, Any], key: str, width: int) -> list[Any]:
    rows = page.get(key)
    if type(rows) is not list or not set(map(type, rows)) <= {list} or not set(map(len, rows)) <= {width}:
        raise PageError(f"manifest page: {key} must be rows of {width} values")
    return rows


def page_rows(page: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """Check a decoded ManifestPage; return its rows for RMA_UPSERT and LINE_UPSERT."""
    if page.get("rma_fields") != list(RMA_FIELDS) or page.get("line_fields") != list(LINE_FIELDS):
        raise PageError("manifest page columns differ from this bench's protocol")
    rmas, lines = _rows(page, "rmas", len(RMA_FIELDS)), _rows(page, "lines", len(LINE_FIELDS))
    ids: set[Any] = set()
    if rmas:
        c = list(zip(*rmas, strict=True))
        ids = set(c[0])
        _types(c[0], {str}, "rma_id")
        if min(map(len, c[0])) < 1 or max(map(len, c[0])) > 128:
            raise PageError("rma_id: 1 to 128 characters")
        _types(c[1], {str}, "order_id")
        _types(c[4], {str}, "status")
        for i in (6, 7):  # the customer columns: text or null, within the parser's limits
            _types(c[i], {str, _NONE}, RMA_FIELDS[i])
            if max((len(v) for v in c[i] if v is not None), default=0) > (MAX_NAME if i == 6 else MAX_EMAIL):
                raise PageError(f"{RMA_FIELDS[i]}: too long")
        if not set(c[4]) <= STATUSES:
            raise PageError(f"status must be open or cancelled, got {sorted(set(c[4]) - STATUSES)[:3]}")
        times = [_times(c[i], RMA_FIELDS[i]) for i in (2, 3, 5)]
        if any(t is not c[i] for t, i in zip(times, (2, 3, 5), strict=True)):
            c[2], c[3], c[5] = times
            rmas = list(zip(*c, strict=True))
    if lines:
        c = list(zip(*lines, strict=True))
        for i, name in enumerate(LINE_FIELDS):
            if name in ("line_no", "qty"):
                _types(c[i], {int}, name)
                if min(c[i]) < 1:
                    raise PageError(f"{name}: must be 1 or more")
            elif name in ("gtin", "expected_serial", "carrier", "tracking_number"):
                _types(c[i], {str, _NONE}, name)
            else:
                _types(c[i], {str}, name)
        if not set(c[0]) <= ids:
            raise PageError("manifest page: a line of an RMA that is not on the page")
        price = LINE_FIELDS.index("unit_price")
        if not _every(_CANON_PRICE, c[price]):
            c[price] = tuple(map(_price, c[price]))
            lines = list(zip(*c, strict=True))
    return rmas, lines
