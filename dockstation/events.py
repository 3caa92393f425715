"""Writing events: the audit trail and the sync outbox, in the caller's transaction.

`seq` is gap-free per station: the next seq is read and the row inserted inside the same
BEGIN IMMEDIATE transaction, so no other writer can interleave, and a rolled-back transaction
takes its seq with it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from dockstation.models import Counter, Event
from dockstation.types import utcnow


# One index probe on the primary key (station_id, seq). Sent as plain SQL on the session's own
# connection (same transaction): the ORM's statement machinery cost ~0.4 ms of it on every event,
# twice on a receiving scan that also queues its receipt label (bench/README.md).
_NEXT_SEQ = text("SELECT max(seq) FROM event WHERE station_id = :station")
_SEQ_KEY = "dockstation.events.next_seq"


def next_seq(session: Session, station_id: str) -> int:
    """The station's next seq in this transaction (not taken: `record` takes it). Read once (one
    index probe), then counted.

    Every event row is written through `record` (the only place that makes one), so after the
    first read the next seq of the same transaction is known without asking the database. Kept
    per transaction: a rolled-back one takes its seqs with it, the next starts from the database."""
    if _state_pending(session):
        # Rows added before the event are written before it, as when every event flushed:
        # the unit of work orders inserts by relationships, and the models have none, so a
        # flush of a unit's print job together with the unit itself may insert the job first.
        session.flush()
    if session.in_nested_transaction():  # a savepoint may roll back alone: ask the database
        session.info.pop(_SEQ_KEY, None)
        current = session.connection().execute(_NEXT_SEQ, {"station": station_id}).scalar()
        return (current or 0) + 1 + _pending_events(session, station_id)
    tx = session.get_transaction()
    cache = session.info.get(_SEQ_KEY)
    if cache is None or cache[0] is not tx:
        cache = session.info[_SEQ_KEY] = (tx, {})
    seqs: dict[str, int] = cache[1]  # the last seq taken in this transaction, per station
    if station_id not in seqs:
        current = session.connection().execute(_NEXT_SEQ, {"station": station_id}).scalar()
        seqs[station_id] = (current or 0) + _pending_events(session, station_id)
    return seqs[station_id] + 1


def _taken(session: Session, station_id: str, seq: int) -> None:
    cache = session.info.get(_SEQ_KEY)
    if cache is not None and cache[0] is session.get_transaction() and station_id in cache[1]:
        cache[1][station_id] = seq


def _state_pending(session: Session) -> bool:
    """Rows other than events added, changed or deleted and not yet written."""
    return bool(session.dirty or session.deleted or any(not isinstance(o, Event) for o in session.new))


def _pending_events(session: Session, station_id: str) -> int:
    """Events of `station_id` added in this session and not yet written (they are not in max(seq))."""
    return sum(1 for o in session.new if isinstance(o, Event) and o.station_id == station_id)


def record(
    session: Session,
    station_id: str,
    kind: str,
    *,
    operator: str | None = None,
    lpn: str | None = None,
    rma_id: str | None = None,
    payload: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> Event:
    """Append one event. Must be called inside a write transaction with the state change."""
    ev = Event(
        station_id=station_id,
        seq=next_seq(session, station_id),
        kind=kind,
        at=at or utcnow(),
        operator=operator,
        lpn=lpn,
        rma_id=rma_id,
        payload=payload or {},
    )
    # Written with the next flush (at the latest on commit, in the order added): an event row
    # refers to nothing, and flushing each one on its own cost more than its insert (a unit's
    # five transactions write ~15 events; bench/bench_flow.py).
    session.add(ev)
    _taken(session, station_id, ev.seq)
    return ev


def bump(session: Session, name: str) -> int:
    """Increment a named counter in the caller's transaction and return the new value."""
    row = session.get(Counter, name)
    if row is None:
        row = Counter(name=name, value=0)
        session.add(row)
    row.value += 1
    session.flush()
    return row.value
