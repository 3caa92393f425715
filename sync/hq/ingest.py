"""The push path's fast lane on PostgreSQL: a batch read straight into COPY rows.

What HQ takes is `sync.protocol.EventBatch` (pydantic): it reads every batch that is not for this
lane and says why it refuses one. Reading a 2,000-event batch with it cost ~6 µs an event, most
of HQ's CPU per push. The batches benches send are read here instead, with msgspec: each field
checked in C against the same rules, the payload kept as the JSON text that was sent
(PostgreSQL parses it, as it parsed the whole body before), the rows for `COPY` built in the
same pass (~3-4 µs an event in all). In the usual body (no backslash, tab or line break, no
number that could overflow a float: `_read_plain`) what is checked payload by payload in
`_read_each` is checked once on the whole COPY text, in C.

This lane takes only a subset of what pydantic takes, read the same way: whatever it is not
sure of — a seq repeated or out of order, a `\\u0000`, a time finer than microseconds, a payload
that is not an object or nests deep, a number that could overflow a float, a field it does not
know — makes `read_batch` return None, and pydantic reads the body as before (and answers 422
where it should). So a batch is refused, or stored, exactly as it was before this lane existed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Raw, Struct

from dockstation.types import utcnow
from sync.hq.events import Rows
from sync.hq.events_pg import head_tail
from sync.hq.scope import PAYLOAD_UNIT_KEYS, all_own, foreign_unit
from sync.protocol import AT_PATTERN, MAX_BATCH, EventIn

# AT_PATTERN with at most 6 fractional digits (pydantic truncates further digits, PostgreSQL
# rounds them: such times take pydantic's path), and `\Z`: msgspec searches, and `$` would also
# match before a final newline.
_AT = AT_PATTERN.replace(r"(?:\.[0-9]+)?", r"(?:\.[0-9]{1,6})?").removesuffix("$") + r"\Z"
_KIND = re.compile(r"[a-z][a-z0-9_]{0,63}", re.ASCII)
_EMPTY = Raw(b"{}")
NULL = "\\N"  # COPY's NULL
# Opening brackets in one payload: pydantic refuses nesting past ~200 levels, msgspec does not. A
# payload under 2 * _DEPTH bytes cannot hold more (each needs its closing one), so most are not counted.
_DEPTH = 150
# Where a float could overflow: an exponent (a digit then e/E) or 309 digits in a row. Found with
# one translate of the body (digits to 0, E to e) and two finds, then payload by payload.
_NUMBERS = bytes.maketrans(b"123456789E", b"000000000e")
_LONG = b"0" * 309
# A payload that may name a unit (scope.PAYLOAD_UNIT_KEYS: `lpn`, `lpns`) holds one of these as
# sent, or a \u escape (a key spelt with escapes): only such payloads are decoded and checked.
_KEYS = {f'"{key}'.encode() for key in PAYLOAD_UNIT_KEYS}
_UNIT_KEYS = tuple(k for k in _KEYS if not any(o != k and k.startswith(o) for o in _KEYS))
# A time that is UTC as sent: PostgreSQL may read it as a `timestamp` (the offset ignored) and
# store it as it is (sync/hq/events_pg.py, COPY straight into hq_event).
_UTC = ("+00:00", "Z")


# gc=False: the collector does not track them (they hold only str, int and Raw: no cycles). A
# batch makes 2,000; tracked, they set off collections that walk HQ's whole heap (measured: HQ's
# CPU per pushed event 9.5 -> 7.0 µs).
class WireEvent(Struct, forbid_unknown_fields=True, gc=False):
    seq: Annotated[int, Meta(ge=1, le=2**62)]
    kind: str  # checked against EventIn's pattern in the loop (cached: a few kinds repeat)
    at: Annotated[str, Meta(pattern=_AT)]
    operator: Annotated[str, Meta(max_length=64)] | None = None
    lpn: Annotated[str, Meta(max_length=64)] | None = None
    rma_id: Annotated[str, Meta(max_length=128)] | None = None
    payload: Raw = _EMPTY
    station_id: Annotated[str, Meta(max_length=16)] | None = None


class WireBatch(Struct, forbid_unknown_fields=True, gc=False):
    station_id: Annotated[str, Meta(pattern=r"^[A-Z0-9]{1,8}\Z")]
    protocol: Literal[1] = 1
    events: Annotated[list[WireEvent], Meta(max_length=MAX_BATCH)] = []


_DECODE = msgspec.json.Decoder(WireBatch).decode
_ANY = msgspec.json.Decoder().decode
_kinds: set[str] = set()


def _kind_ok(kind: str) -> bool:
    if kind in _kinds:
        return True
    if not _KIND.fullmatch(kind):
        return False
    if len(_kinds) < 4096:  # bounded: a hostile bench cannot grow it
        _kinds.add(kind)
    return True


def _copy_escape(value: bytes) -> bytes:
    """COPY text format: a backslash, tab, newline or carriage return is written escaped."""
    return value.replace(b"\\", b"\\\\").replace(b"\t", b"\\t").replace(b"\n", b"\\n").replace(b"\r", b"\\r")


class Wire:
    """A batch read by the fast lane: what the push path checks, and the rows to store."""

    def __init__(self, station_id: str, events: list[WireEvent], copy: bytes, event_stations: set[str],
                 payloads: dict[int, dict[str, Any]], models: Callable[[], list[EventIn]], head: bytes, tail: bytes,
                 utc: bool) -> None:
        self.station_id, self.events = station_id, events
        self.event_stations = event_stations  # station_id values the events repeat
        self.payloads = payloads  # seq -> payload, for the few payloads that may name a unit
        self.rows = Rows([e.seq for e in events], lambda: copy, _once(models), head=head, tail=tail, utc=utc)

    def payload_of(self, event: WireEvent) -> dict[str, Any] | None:
        return self.payloads.get(event.seq)

    def foreign_unit(self, station_id: str) -> tuple[Any, Any] | None:
        """scope.foreign_unit of these events. The usual batch: its LPNs checked at once, and only
        the payloads that may name a unit one by one; should anything be foreign, the events are
        looked at in order, for the first one the refusal names."""
        lpns = [e.lpn for e in self.events if e.lpn is not None]
        named = [e for e in self.events if e.seq in self.payloads] if self.payloads else []
        if all_own(station_id, lpns) and foreign_unit(station_id, named, self.payload_of) is None:
            return None
        return foreign_unit(station_id, self.events, self.payload_of)


def _once(make: Callable[[], list[EventIn]]) -> Callable[[], list[EventIn]]:
    made: list[list[EventIn]] = []

    def get() -> list[EventIn]:
        if not made:
            made.append(make())
        return made[0]
    return get


def read_batch(body: bytes, models: Callable[[], list[EventIn]], received: datetime | None = None) -> Wire | None:
    """The batch in `body`, or None when pydantic must read it (see the module's docstring).
    `models`: how to get the events as pydantic reads them, should a rare path need them;
    `received`: HQ's time of receipt, written on every row (default: now)."""
    backslash = b"\\" in body
    if backslash and b"\\u0000" in body:
        return None  # NUL: pydantic's path replaces it (PostgreSQL text cannot hold one)
    try:
        batch = _DECODE(body)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    numbers = body.translate(_NUMBERS)
    maybe_huge = b"0e" in numbers or _LONG in numbers
    plain = not (backslash or b"\t" in body or b"\n" in body or b"\r" in body)
    # The rows' first and last columns: the station (its pattern leaves nothing to escape; it
    # must be the token's, checked before anything is stored) and HQ's time of receipt.
    head, tail = head_tail(batch.station_id, received or utcnow())
    if plain and not maybe_huge:
        return _read_plain(batch, models, head, tail)
    return _read_each(batch, models, head, tail, plain, b"\\u" in body, maybe_huge)


def _read_plain(batch: WireBatch, models: Callable[[], list[EventIn]], head: bytes, tail: bytes) -> Wire | None:
    """The usual body: no backslash (so no escape), tab or line break anywhere, and no number that
    could overflow. Each event's fields go into its COPY line as sent; what `_read_each` checks
    payload by payload is checked once on the whole COPY text (C loops over a few hundred kB)."""
    parts: list[bytes | Raw] = []
    add = parts.append
    h = head.decode()
    stations: set[str] = set()
    prev = 0
    iso = datetime.fromisoformat
    kinds = _kinds
    utc = True
    for e in batch.events:
        seq, kind, at, payload = e.seq, e.kind, e.at, e.payload
        if seq <= prev or (kind not in kinds and not _kind_ok(kind)):
            return None  # a repeat or out of order: pydantic's path keeps the first of each seq
        prev = seq
        # Of what the pattern allows, Python's ISO reader (and pydantic) refuses only a day past its
        # month's end (days 29-31) and a lower-case "z": only such times need reading here.
        if at[8:10] > "28" or at[-1] == "z":
            try:
                iso(at)
            except ValueError:
                return None
        if utc and not at.endswith(_UTC):
            utc = False
        if len(payload) > 2 * _DEPTH and _deep(bytes(payload)):
            return None
        if e.station_id is not None:
            stations.add(e.station_id)
        op, lpn, rma = e.operator, e.lpn, e.rma_id
        add(f"{h}{seq}\t{kind}\t{at}\t{NULL if op is None else op}\t{NULL if lpn is None else lpn}\t"
            f"{NULL if rma is None else rma}\t".encode())
        add(payload)
        add(tail)
    copy = b"".join(parts)
    # No tab or line break in any value, so each payload is followed by the tail: every payload
    # is an object (a JSON value that ends in "}" is one) when "}" + tail is there once a line.
    if copy.count(b"}" + tail) != len(batch.events):
        return None
    payloads: dict[int, dict[str, Any]] = {}
    if any(k in copy for k in _UNIT_KEYS):  # some payload (or a value) may name a unit: look at each
        for e in batch.events:
            raw = bytes(e.payload)
            if any(k in raw for k in _UNIT_KEYS):
                try:
                    payloads[e.seq] = _ANY(raw)
                except (msgspec.ValidationError, msgspec.DecodeError):
                    return None
    return Wire(batch.station_id, batch.events, copy, stations, payloads, models, head, tail, utc)


def _read_each(batch: WireBatch, models: Callable[[], list[EventIn]], head: bytes, tail: bytes, plain: bool,
               escapes: bool, maybe_huge: bool) -> Wire | None:
    """Any other body the fast lane takes: each payload looked at, values escaped for COPY."""
    parts: list[bytes] = []
    add = parts.append
    h = head.decode()
    stations: set[str] = set()
    payloads: dict[int, dict[str, Any]] = {}
    prev = 0
    iso = datetime.fromisoformat
    utc = True
    unit_key = _UNIT_KEYS[0] if len(_UNIT_KEYS) == 1 else b""  # the usual: one prefix of them all
    for e in batch.events:
        seq = e.seq
        kind = e.kind
        if seq <= prev or (kind not in _kinds and not _kind_ok(kind)):
            return None  # a repeat or out of order: pydantic's path keeps the first of each seq
        prev = seq
        try:
            iso(e.at)  # the pattern allows Feb 30; pydantic does not
        except ValueError:
            return None
        utc = utc and e.at.endswith(_UTC)
        raw = bytes(e.payload)
        if raw[0] != 123 or (len(raw) > 2 * _DEPTH and _deep(raw)):
            return None  # not an object ("{"), or nested deep
        names_unit = unit_key in raw if unit_key else any(k in raw for k in _UNIT_KEYS)
        if names_unit or (escapes and b"\\u" in raw) or (maybe_huge and _maybe_huge(raw)):
            try:  # a key spelt with escapes is still `lpn`; msgspec refuses numbers past a float
                payloads[seq] = _ANY(raw)
            except (msgspec.ValidationError, msgspec.DecodeError):
                return None
        if e.station_id is not None:
            stations.add(e.station_id)
        op, lpn, rma = e.operator, e.lpn, e.rma_id
        if plain:  # no backslash, tab or line break anywhere in the body: nothing to escape
            add(f"{h}{seq}\t{kind}\t{e.at}\t{NULL if op is None else op}\t{NULL if lpn is None else lpn}\t"
                f"{NULL if rma is None else rma}\t".encode())
            add(raw)
        else:
            add(f"{h}{seq}\t{kind}\t{e.at}\t{_text(op)}\t{_text(lpn)}\t{_text(rma)}\t".encode())
            add(_copy_escape(raw))
        add(tail)
    if payloads and not all(finite(p) for p in payloads.values()):
        return None
    return Wire(batch.station_id, batch.events, b"".join(parts), stations, payloads, models, head, tail, utc)


def _deep(raw: bytes) -> bool:
    """More opening brackets than pydantic's nesting limit allows (an upper bound of the depth)."""
    return raw.count(b"{") + raw.count(b"[") > _DEPTH


def _maybe_huge(raw: bytes) -> bool:
    numbers = raw.translate(_NUMBERS)
    return b"0e" in numbers or _LONG in numbers


def _text(value: str | None) -> str:
    if value is None:
        return NULL
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def finite(value: Any) -> bool:
    """No inf or nan anywhere in a decoded JSON value (JSON has neither: a number past a double,
    1e400, reads as inf, and NaN or Infinity are no JSON, yet pydantic reads them)."""
    if type(value) is float:
        return value - value == 0.0  # false for inf and nan
    if type(value) is dict:
        return all(finite(v) for v in value.values())
    if type(value) is list:
        return all(finite(v) for v in value)
    return True
