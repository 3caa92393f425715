"""Writing events: the audit trail and the sync outbox, in the caller's transaction.

`seq` is gap-free per station: the next seq is read and the row inserted inside the same
BEGIN IMMEDIATE transaction, so no other writer can interleave, and a rolled-back transaction
takes its seq with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session

from dockstation import rows
from dockstation.models import Counter, Event
from dockstation.types import utcnow


# One statement per event, sent as plain SQL on the session's own connection (same transaction):
# the next seq is a subquery on the primary key (station_id, seq), so reading it and inserting the
# row cannot be split. Through the ORM (an Event object, next_seq's query, two flushes) an event
# cost ~0.45 ms of CPU; a unit's all-pass walk writes ~16 of them (bench/README.md, bench_flow.py).
_NEXT_SEQ = text("SELECT max(seq) FROM event WHERE station_id = :station")
_INSERT = ("INSERT INTO event (station_id, seq, kind, at, operator, lpn, rma_id, payload) VALUES "
           "(?, (SELECT coalesce(max(seq), 0) + 1 FROM event WHERE station_id = ?), ?, ?, ?, ?, ?, ?) "
           "RETURNING seq")
_TABLE = Event.__table__  # type: ignore[attr-defined]
_binds: dict[str, tuple[Any, Any]] = {}  # dialect name → bind processors of `at` and `payload`


@dataclass(frozen=True)
class Recorded:
    """The event as written (what a caller may need of it: its seq, e.g. for a row that points at it)."""

    station_id: str
    seq: int
    kind: str
    at: datetime
    operator: str | None
    lpn: str | None
    rma_id: str | None
    payload: dict[str, Any]


def _processors(db: rows.Db) -> tuple[Any, Any]:
    return _dialect_processors(rows.dialect(db))


def _dialect_processors(dialect: Any) -> tuple[Any, Any]:
    """The column types' own bind processors (UTCDateTime, JSONText): the row is stored exactly as
    the ORM stores it (naive UTC text, compact sorted JSON)."""
    procs = _binds.get(dialect.name)
    if procs is None:
        procs = _binds[dialect.name] = (rows.bind_processor(_TABLE.c.at, dialect),
                                        rows.bind_processor(_TABLE.c.payload, dialect))
    return procs


def utc_bind(db: rows.Db) -> Any:
    """How a UTC datetime is stored (UTCDateTime, then the dialect's own text form), for plain SQL."""
    return _processors(db)[0]


def next_seq(session: Session, station_id: str) -> int:
    session.flush()  # rows added but not yet flushed must be counted (what autoflush did)
    current = session.connection().execute(_NEXT_SEQ, {"station": station_id}).scalar()
    return (current or 0) + 1


def record(
    session: rows.Db,
    station_id: str,
    kind: str,
    *,
    operator: str | None = None,
    lpn: str | None = None,
    rma_id: str | None = None,
    payload: dict[str, Any] | None = None,
    at: datetime | None = None,
    flush: bool = True,
) -> Recorded:
    """Append one event. Must be called inside a write transaction with the state change (a
    Session, or a plain `rows.Tx`).

    The session is flushed first, as the ORM's autoflush did: the state rows the caller changed
    are written before their event (plain SQL that reads them later in the transaction sees
    them; Event rows added by hand are counted by the seq). A flush with nothing to write costs
    next to nothing. `flush=False`: the caller's pending changes may follow the event (they are
    read by nothing before the commit, which writes them): one UPDATE of a row changed again in
    the same transaction instead of two."""
    if flush:
        rows.flush(session)
    at = at or utcnow()
    payload = payload or {}
    at_bind, payload_bind = _processors(session)
    seq = rows.first(session, _INSERT, (
        station_id, station_id, kind, at_bind(at), operator, lpn, rma_id, payload_bind(payload)))[0]
    return Recorded(station_id, seq, kind, at, operator, lpn, rma_id, payload)


_BUMP = ("INSERT INTO counter (name, value) VALUES (?, 1) "
         "ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value")


def bump(session: rows.Db, name: str) -> int:
    """Increment a named counter in the caller's transaction (a Session or a plain `rows.Tx`)
    and return the new value (one statement: an upsert that returns the value)."""
    if isinstance(session, Session):
        row = session.identity_map.get(identity_key(Counter, name))
        if row is not None:  # loaded in this session: keep its object right (never the case on the scan path)
            row.value += 1
            session.flush()
            return int(row.value)
        if session.new and any(isinstance(obj, Counter) for obj in session.new):
            session.flush()  # a counter added by hand (seeding): the upsert must see it
    return int(rows.first(session, _BUMP, (name,))[0])


class Batch:
    """Events written in bulk (one `executemany`), formatted exactly as `record` formats them (the
    column types' own bind processors: naive UTC text, compact sorted JSON), for a writer that
    changes thousands of units in one transaction (the age-trigger pass, policy/trigger_apply.py).
    The seqs continue the station's from one read of its max(seq): the caller must hold the write
    transaction (BEGIN IMMEDIATE) from the first `add` to `write`, and write no event otherwise
    meanwhile."""

    def __init__(self, conn: Any, station_id: str) -> None:
        procs = _dialect_processors(conn.dialect)  # the same processors as `record`
        self._conn, self._station = conn, station_id
        self._at_bind, self._payload_bind = procs
        self._seq = int(conn.exec_driver_sql("SELECT max(seq) FROM event WHERE station_id = ?",
                                             (station_id,)).scalar() or 0)
        self._at: tuple[datetime, Any] | None = None  # a batch's events share their time: bound once
        self.rows: list[tuple[Any, ...]] = []

    def add(self, kind: str, *, at: datetime, operator: str | None = None, lpn: str | None = None,
            rma_id: str | None = None, payload: dict[str, Any] | None = None) -> int:
        """Queue one event; its seq."""
        if self._at is None or self._at[0] != at:
            self._at = (at, self._at_bind(at))
        self._seq += 1
        self.rows.append((self._station, self._seq, kind, self._at[1], operator, lpn, rma_id,
                          self._payload_bind(payload or {})))
        return self._seq

    def write(self) -> None:
        if self.rows:
            self._conn.exec_driver_sql("INSERT INTO event (station_id, seq, kind, at, operator, lpn, rma_id, "
                                       "payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", self.rows)
            self.rows = []
