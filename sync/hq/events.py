"""Storing a station's event batch at HQ: atomic, idempotent on (station_id, seq), gap-aware.

One transaction per batch:
1. lock the station's row (`FOR UPDATE`, found by its token on the HTTP path): pushes of one
   station serialise across every HQ worker, pushes of different stations run side by side;
2. `INSERT ... ON CONFLICT (station_id, seq) DO NOTHING RETURNING seq`: a retried batch (the bench
   never heard the answer) stores nothing twice. (On PostgreSQL a batch whose seqs are all above
   the station's highest stored one, the usual case, is a plain INSERT: see events_pg.) A seq HQ
   already holds with *different* content is never overwritten: it is kept in `hq_conflict` as an
   open conflict (sync/hq/conflicts.py), and every answer names the station's open conflicts;
3. `acked_seq` = the highest seq stored without gaps from 1, computed from the table (not from
   process memory: another worker may have stored the events that close a gap).
Either all of that commits or none of it: a batch cut off mid-way leaves no trace.

Nothing else is written per event: a unit's current state is folded from its events when asked
(`hq_units.unit_view`), so ingest writes each event once and hq_event stays the one truth.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from dockstation.types import as_utc, utcnow
from sync.hq import conflicts as hq_conflicts
from sync.hq import events_pg as hq_events_pg
from sync.hq.db import HQDatabase, HqEvent, HqStation
from sync.protocol import EventAck, EventIn

EVENTS = HqEvent.__table__
STATIONS = HqStation.__table__
CHUNK = 1000
_CONTENT = ("kind", "at", "operator", "lpn", "rma_id", "payload")


class StationRefused(Exception):
    """The station is unknown or revoked (its token was valid a moment ago)."""


def _insert(db: HQDatabase, table: Any) -> Any:
    return (pg_insert if db.dialect == "postgresql" else sqlite_insert)(table)


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _same(stored: Any, incoming: dict[str, Any]) -> bool:
    for key in _CONTENT:
        a, b = getattr(stored, key), incoming[key]
        if key == "at":
            a, b = as_utc(a), as_utc(b)
        if a != b:
            return False
    return True


class Locked:
    """A station whose row this transaction holds (`FOR UPDATE`): its pushes wait for ours."""

    def __init__(self, station_id: str, acked_seq: int) -> None:
        self.station_id, self.acked_seq = station_id, acked_seq


def lock_station(conn: Connection, *, station_id: str | None = None, token_hash: str | None = None) -> Locked | None:
    """Lock a live (not revoked) station's row by id or by token hash; None if there is none."""
    where = STATIONS.c.station_id == station_id if station_id is not None else STATIONS.c.token_hash == token_hash
    row = conn.execute(select(STATIONS.c.station_id, STATIONS.c.token_hash, STATIONS.c.acked_seq, STATIONS.c.revoked)
                       .where(where).with_for_update()).first()
    if row is None or row.revoked:
        return None
    if token_hash is not None and not hmac.compare_digest(row.token_hash, token_hash):
        return None
    return Locked(row.station_id, int(row.acked_seq))


def store_batch(db: HQDatabase, station_id: str, events: list[EventIn]) -> EventAck:
    """Store one batch of `station_id`'s events in a transaction of its own."""
    with db.write() as conn:
        station = lock_station(conn, station_id=station_id)
        if station is None:
            raise StationRefused(station_id)
        return store_locked(conn, db, station, events)


class Rows:
    """A batch to store: its seqs (ascending, no repeats), its rows as COPY text for PostgreSQL,
    and its events as pydantic reads them, made only when needed (SQLite, a retry, a conflict).

    `full()`: hq_event's columns, each line `head` (the station) … `tail` (HQ's receipt time);
    `copy()`: the same lines without those two (the staging table's columns, events_pg). `utc`:
    every time in the text is written in UTC (events_pg may then COPY it into hq_event as is)."""

    def __init__(self, seqs: list[int], full: Callable[[], bytes], models: Callable[[], list[EventIn]], *,
                 head: bytes, tail: bytes, utc: bool = False) -> None:
        self.seqs, self._full, self._models = seqs, full, models
        self.head, self.tail, self.utc = head, tail, utc

    def full(self) -> bytes:
        return self._full()

    def copy(self) -> bytes:
        return hq_events_pg.staged_text(self._full(), self.head, self.tail)

    def models(self) -> list[EventIn]:
        return self._models()


def store_locked(conn: Connection, db: HQDatabase, station: Locked, events: list[EventIn] | Rows,
                 station_values: dict[str, Any] | None = None, now: datetime | None = None) -> EventAck:
    """Store a batch inside the caller's transaction, which holds the station's row lock.
    `events`: validated events, or the fast lane's Rows (sync/hq/ingest.py: no repeats).
    `station_values`: more columns of the station's row to set (in the same UPDATE); `now`: HQ's
    time of receipt (the time the fast lane's rows carry).

    The answer's `conflicts` are all of the station's open conflicts (this batch's and earlier
    ones'), so the bench hears of them on every push until an operator resolves them."""
    now = now or utcnow()
    station_values = station_values or {}
    station_id, acked = station.station_id, station.acked_seq
    repeats: list[EventIn] = []
    if not isinstance(events, Rows):
        first, repeats = _first_of_each_seq(events)
        head, tail = hq_events_pg.head_tail(station_id, now)
        events = Rows([e.seq for e in first], lambda: hq_events_pg.copy_rows(first, head, tail), lambda: first,
                      head=head, tail=tail, utc=True)
    seqs = events.seqs
    top = None  # the station's highest stored seq before this batch, when known
    if not seqs:
        inserted: set[int] = set()
    elif db.dialect == "postgresql":
        inserted, top = hq_events_pg.insert_rows(conn, station_id, events, now)
    else:  # SQLite: one site's HQ; executemany in chunks is plenty
        inserted = set()
        stmt = _insert(db, EVENTS).on_conflict_do_nothing(index_elements=["station_id", "seq"]).returning(EVENTS.c.seq)
        for chunk in _chunks([_row(station_id, e, now) for e in events.models()]):
            inserted.update(conn.execute(stmt, list(chunk)).scalars())
    repeated = [] if len(inserted) == len(seqs) else [
        _row(station_id, e, now) for e in events.models() if e.seq not in inserted]
    repeated += [_row(station_id, e, now) for e in repeats]
    in_conflict = _conflicts(conn, station_id, repeated, now) if repeated else []
    new_acked = _gap_free(conn, station_id, acked, seqs, top)
    if seqs or station_values:
        values = {"acked_seq": new_acked, "last_push_at": now} if seqs else {}
        conn.execute(STATIONS.update().where(STATIONS.c.station_id == station_id).values(**values, **station_values))
    return EventAck(station_id=station_id, acked_seq=new_acked, stored=len(inserted),
                    duplicates=len(repeated) - len(in_conflict), conflicts=hq_conflicts.open_seqs(conn, station_id),
                    server_time=now)


def _first_of_each_seq(events: list[EventIn]) -> tuple[list[EventIn], list[EventIn]]:
    """(the first event of each seq, sorted by seq; the later ones of a seq the batch repeats)."""
    first: dict[int, EventIn] = {}
    repeats = []
    for e in events:
        if e.seq in first:
            repeats.append(e)
        else:
            first[e.seq] = e
    return sorted(first.values(), key=lambda e: e.seq), repeats


def _row(station_id: str, e: EventIn, now: datetime) -> dict[str, Any]:
    return {"station_id": station_id, "seq": e.seq, "kind": e.kind, "at": e.at, "operator": e.operator,
            "lpn": e.lpn, "rma_id": e.rma_id, "payload": e.payload, "received_at": now}


def acked_seq(db: HQDatabase, station_id: str) -> int:
    with db.read() as conn:
        value = conn.execute(select(STATIONS.c.acked_seq).where(STATIONS.c.station_id == station_id)).scalar()
    return int(value or 0)


def _conflicts(conn: Connection, station_id: str, repeated: list[dict[str, Any]], now: datetime) -> list[int]:
    """Seqs HQ already held with other content: kept aside as open conflicts; the stored event stays."""
    seqs = sorted({r["seq"] for r in repeated})
    cols = [EVENTS.c.seq, *(EVENTS.c[k] for k in _CONTENT)]
    stored = {r.seq: r for r in conn.execute(
        select(*cols).where(EVENTS.c.station_id == station_id, EVENTS.c.seq.between(seqs[0], seqs[-1])))}
    bad = [r for r in repeated if r["seq"] in stored and not _same(stored[r["seq"]], r)]
    return hq_conflicts.record_conflicts(conn, station_id, bad, now) if bad else []


def _gap_free(conn: Connection, station_id: str, acked: int, batch: list[int], before: int | None = None) -> int:
    """Highest seq such that 1..seq are all stored, starting from the known-good `acked`.
    `before`: the station's highest stored seq before this batch, if known."""
    seqs = [q for q in batch if q > acked]
    if seqs and seqs[0] == acked + 1 and seqs[-1] == acked + len(seqs):
        # The usual case: the batch continues right after acked, and is now stored (inserted or
        # already there). Only a stored event right after it (a gap just closed) needs the scan.
        top = seqs[-1]
        if before is not None and before < top:
            return top  # nothing was stored above the batch's top before it, so nothing after it is
        after = conn.execute(select(EVENTS.c.seq).where(EVENTS.c.station_id == station_id,
                                                        EVENTS.c.seq == top + 1)).first()
        if after is None:
            return top
        acked = top
    else:
        nxt = conn.execute(select(EVENTS.c.seq).where(EVENTS.c.station_id == station_id,
                                                      EVENTS.c.seq == acked + 1)).first()
        if nxt is None:
            return acked
    end = conn.execute(text(
        "SELECT min(e.seq) FROM hq_event e WHERE e.station_id = :s AND e.seq > :a AND NOT EXISTS "
        "(SELECT 1 FROM hq_event n WHERE n.station_id = :s AND n.seq = e.seq + 1)"
    ), {"s": station_id, "a": acked}).scalar()
    return int(end)
