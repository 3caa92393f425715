"""Conflicts: a seq HQ already holds, sent again with other content (docs/sync.md, "Conflicts").

HQ never overwrites a stored event on its own: the first version it received stays, the other
one is kept in `hq_conflict`, and the conflict stays *open* until an operator at HQ decides:
- `kept="sent"`: the version sent later replaces the stored one (the usual case after a stolen
  token pushed a forged history first: the bench's genuine events arrive second);
- `kept="stored"`: the stored version stays, the sent one is discarded (e.g. the token's thief
  re-sent different content for seqs the bench had pushed already).
Either way the conflict moves to `hq_conflict_resolved` with both versions, who and when.

Until then every answer to that station's pushes names its open conflicts (`EventAck.conflicts`),
so `dockstation sync` fails with exit code 5 and the bench's header says so on every sync.
The same differing version is kept once however often it is sent; one an operator discarded
(`kept="stored"`) is not reopened when a `sync --full` sends it again.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select

from dockstation.types import as_utc, utcnow
from sync.hq.db import HQDatabase, HqConflict, HqConflictResolved, HqEvent, HqStation

log = logging.getLogger("dockstation.hq")

CONFLICTS = HqConflict.__table__
RESOLVED = HqConflictResolved.__table__
EVENTS = HqEvent.__table__
STATIONS = HqStation.__table__
CONTENT = ("kind", "at", "operator", "lpn", "rma_id", "payload")
MAX_NAMED = 1000  # open conflicts named in one answer to a push
KEEP = ("stored", "sent")


class ResolveError(Exception):
    """The conflicts asked for cannot be resolved as asked (none such, or ambiguous)."""


def as_record(row: Any) -> dict[str, Any]:
    """An event's content as kept in hq_conflict (JSON): `at` as ISO 8601 UTC text."""
    get = row.get if isinstance(row, dict) else lambda k: getattr(row, k)
    return {k: (as_utc(get(k)).isoformat() if k == "at" else get(k)) for k in CONTENT}


def _key(seq: int, record: dict[str, Any]) -> tuple[int, str]:
    return seq, json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)


def record_conflicts(conn: Connection, station_id: str, differing: list[dict[str, Any]], now: datetime) -> list[int]:
    """Keep each differing event once (in the caller's transaction, under the station's lock);
    return the seqs that are conflicts, leaving out versions an operator already discarded."""
    seqs = sorted({r["seq"] for r in differing})
    kept = {_key(r.seq, r.event) for r in conn.execute(
        select(CONFLICTS.c.seq, CONFLICTS.c.event).where(CONFLICTS.c.station_id == station_id,
                                                         CONFLICTS.c.seq.in_(seqs)))}
    discarded = {_key(r.seq, r.sent) for r in conn.execute(
        select(RESOLVED.c.seq, RESOLVED.c.sent).where(RESOLVED.c.station_id == station_id, RESOLVED.c.seq.in_(seqs),
                                                      RESOLVED.c.kept == "stored"))}
    new, seqs_out = [], []
    for row in differing:
        record = as_record(row)
        key = _key(row["seq"], record)
        if key in discarded:
            continue
        seqs_out.append(row["seq"])
        if key not in kept:
            kept.add(key)
            new.append({"station_id": station_id, "seq": row["seq"], "received_at": now, "event": record})
    if new:
        log.warning("station %s sent %d event(s) with other content than HQ holds, kept the stored ones "
                    "(open conflicts: dockstation hq conflicts): seqs %s",
                    station_id, len(new), [r["seq"] for r in new][:20])
        conn.execute(CONFLICTS.insert(), new)
    return seqs_out


def open_seqs(conn: Connection, station_id: str, limit: int = MAX_NAMED) -> list[int]:
    """The seqs of `station_id`'s open conflicts, lowest first (at most `limit`)."""
    return list(conn.execute(select(CONFLICTS.c.seq).where(CONFLICTS.c.station_id == station_id).distinct()
                             .order_by(CONFLICTS.c.seq).limit(limit)).scalars())


def _stored(conn: Connection, pairs: set[tuple[str, int]]) -> dict[tuple[str, int], Any]:
    out: dict[tuple[str, int], Any] = {}
    for station in sorted({s for s, _ in pairs}):
        seqs = sorted(q for s, q in pairs if s == station)
        for row in conn.execute(select(EVENTS.c.seq, *(EVENTS.c[k] for k in CONTENT))
                                .where(EVENTS.c.station_id == station, EVENTS.c.seq.in_(seqs))):
            out[(station, row.seq)] = row
    return out


def list_open(db: HQDatabase, station_id: str | None = None) -> list[dict[str, Any]]:
    """Open conflicts (oldest first): id, station_id, seq, received_at, the stored and the sent
    version, and the fields in which they differ."""
    query = select(CONFLICTS).order_by(CONFLICTS.c.station_id, CONFLICTS.c.seq, CONFLICTS.c.id)
    if station_id is not None:
        query = query.where(CONFLICTS.c.station_id == station_id)
    with db.read() as conn:
        rows = conn.execute(query).all()
        stored = _stored(conn, {(r.station_id, r.seq) for r in rows})
    out = []
    for r in rows:
        held = stored.get((r.station_id, r.seq))
        held_record = as_record(held) if held is not None else None
        differs = [k for k in CONTENT if held_record is None or held_record[k] != r.event.get(k)]
        out.append({"id": r.id, "station_id": r.station_id, "seq": r.seq, "received_at": r.received_at,
                    "stored": held_record, "sent": r.event, "differs": differs})
    return out


def _lock_stations(conn: Connection, stations: list[str]) -> None:
    """Serialise with the stations' pushes (they hold the same row locks), in one order."""
    if stations:
        conn.execute(select(STATIONS.c.station_id).where(STATIONS.c.station_id.in_(stations))
                     .order_by(STATIONS.c.station_id).with_for_update())


def resolve(db: HQDatabase, *, keep: str, ids: list[int] | None = None, station_id: str | None = None,
            by: str = "", note: str = "") -> list[dict[str, Any]]:
    """Resolve open conflicts, chosen by `ids` or all of `station_id`'s, keeping the `stored` or
    the `sent` version; returns what was resolved (id, station_id, seq). One transaction."""
    if keep not in KEEP:
        raise ValueError(f"keep must be one of {KEEP}")
    if not ids and station_id is None:
        raise ResolveError("name the conflicts: their ids, or a station")
    where = CONFLICTS.c.id.in_(ids) if ids else CONFLICTS.c.station_id == station_id
    now = utcnow()
    with db.write() as conn:
        stations = sorted(set(conn.execute(select(CONFLICTS.c.station_id).where(where)).scalars()))
        _lock_stations(conn, stations)
        rows = conn.execute(select(CONFLICTS).where(where).order_by(CONFLICTS.c.id)).all()
        missing = sorted(set(ids or ()) - {r.id for r in rows})
        if missing:
            raise ResolveError(f"no open conflict with id {', '.join(map(str, missing))} (dockstation hq conflicts)")
        if not rows:
            raise ResolveError(f"station {station_id} has no open conflicts")
        if keep == "sent":
            _refuse_ambiguous(rows)
        stored = _stored(conn, {(r.station_id, r.seq) for r in rows})
        for r in rows:
            held = stored.get((r.station_id, r.seq))
            if keep == "sent":
                _replace(conn, r)
            conn.execute(RESOLVED.insert().values(
                conflict_id=r.id, station_id=r.station_id, seq=r.seq, received_at=r.received_at, sent=r.event,
                stored=as_record(held) if held is not None else {}, kept=keep, resolved_at=now,
                resolved_by=by[:64], note=note[:500]))
        conn.execute(delete(CONFLICTS).where(CONFLICTS.c.id.in_([r.id for r in rows])))
    for station in stations:
        log.warning("conflicts of station %s resolved by %s, kept the %s version: seqs %s", station, by or "?", keep,
                    [r.seq for r in rows if r.station_id == station][:20])
    return [{"id": r.id, "station_id": r.station_id, "seq": r.seq} for r in rows]


def drop_events(db: HQDatabase, station_id: str, *, after: int, by: str = "", note: str = "") -> int:
    """Remove `station_id`'s events with a seq above `after` (a forged history reaching past the
    bench's own last seq), with their open conflicts; each is kept in `hq_conflict_resolved`
    (kept="dropped"). The station's acked seq goes back to `after` at most, so the bench sends its
    own events from there. Returns how many events were dropped. One transaction."""
    if after < 0:
        raise ResolveError("--after must be 0 or more")
    now = utcnow()
    with db.write() as conn:
        station = conn.execute(select(STATIONS.c.station_id, STATIONS.c.acked_seq)
                               .where(STATIONS.c.station_id == station_id).with_for_update()).first()
        if station is None:
            raise ResolveError(f"no station {station_id!r} at HQ (dockstation hq list)")
        where = (EVENTS.c.station_id == station_id) & (EVENTS.c.seq > after)
        events = conn.execute(select(EVENTS.c.seq, EVENTS.c.received_at, *(EVENTS.c[k] for k in CONTENT))
                              .where(where).order_by(EVENTS.c.seq)).all()
        if not events:
            raise ResolveError(f"station {station_id} has no events above seq {after} at HQ")
        conflicts = conn.execute(select(CONFLICTS).where(CONFLICTS.c.station_id == station_id,
                                                         CONFLICTS.c.seq > after)).all()
        rows = [{"conflict_id": None, "station_id": station_id, "seq": e.seq, "received_at": e.received_at,
                 "sent": {}, "stored": as_record(e), "kept": "dropped", "resolved_at": now, "resolved_by": by[:64],
                 "note": note[:500]} for e in events]
        rows += [{"conflict_id": c.id, "station_id": station_id, "seq": c.seq, "received_at": c.received_at,
                  "sent": c.event, "stored": {}, "kept": "dropped", "resolved_at": now, "resolved_by": by[:64],
                  "note": note[:500]} for c in conflicts]
        conn.execute(RESOLVED.insert(), rows)
        conn.execute(delete(CONFLICTS).where(CONFLICTS.c.station_id == station_id, CONFLICTS.c.seq > after))
        conn.execute(delete(EVENTS).where(where))
        conn.execute(STATIONS.update().where(STATIONS.c.station_id == station_id)
                     .values(acked_seq=min(int(station.acked_seq), after)))
    log.warning("station %s: %d event(s) above seq %d dropped by %s", station_id, len(events), after, by or "?")
    return len(events)


def _refuse_ambiguous(rows: list[Any]) -> None:
    by_seq: dict[tuple[str, int], list[int]] = {}
    for r in rows:
        by_seq.setdefault((r.station_id, r.seq), []).append(r.id)
    for (station, seq), ids in by_seq.items():
        if len(ids) > 1:
            raise ResolveError(f"{station} seq {seq} was sent in {len(ids)} different versions (conflicts "
                               f"{', '.join(map(str, ids))}): keep the sent one by naming its id")


def _replace(conn: Connection, conflict: Any) -> None:
    ev = conflict.event
    conn.execute(EVENTS.update().where(EVENTS.c.station_id == conflict.station_id, EVENTS.c.seq == conflict.seq)
                 .values(kind=ev["kind"], at=datetime.fromisoformat(ev["at"]), operator=ev.get("operator"),
                         lpn=ev.get("lpn"), rma_id=ev.get("rma_id"), payload=ev.get("payload") or {},
                         received_at=conflict.received_at))
