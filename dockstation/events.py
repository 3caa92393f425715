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


def next_seq(session: Session, station_id: str) -> int:
    session.flush()  # rows added but not yet flushed must be counted (what autoflush did)
    current = session.connection().execute(_NEXT_SEQ, {"station": station_id}).scalar()
    return (current or 0) + 1


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
    session.add(ev)
    session.flush()
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
