"""PostgreSQL path for storing event batches (see sync/hq/events.py for what a batch does).

A batch's rows arrive as COPY text (text format, built by the fast lane, sync/hq/ingest.py, or
from the validated events), each line hq_event's columns: the station first, HQ's time of
receipt last. COPY is PostgreSQL's cheapest way in: no statement text to parse per batch, no
parameters, no JSON document to take apart (the batch went as one `jsonb_to_recordset` document
before: its parsing cost PostgreSQL ~3 µs an event more than COPY).

The usual batch (every seq new, every time UTC) is COPYed straight into hq_event (TOP below).
Any other is streamed into a staging table, then moved into `hq_event` by one statement. The
staging table is a temporary one, `ON COMMIT DELETE ROWS`: private to the session, not written
to the WAL, emptied by the commit (only in transactions that used it). `CREATE … IF NOT EXISTS`
in every such transaction keeps it right behind a pooler that hands out server sessions per
transaction. Its `at` is `timestamptz`, so PostgreSQL reads the offset the bench sent and the
INSERT stores UTC (the columns are `timestamp without time zone`, UTC by convention, as
dockstation.types.UTCDateTime writes them): no session time zone can shift them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from dockstation.types import as_utc
from sync.protocol import EventIn

STAGE = "hq_event_stage"
COLUMNS = "seq, kind, at, operator, lpn, rma_id, payload"
CREATE_STAGE = (f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGE} (seq bigint, kind text, at timestamptz, "
                "operator text, lpn text, rma_id text, payload jsonb) ON COMMIT DELETE ROWS")
COPY_STAGE = f"COPY {STAGE} ({COLUMNS}) FROM STDIN"
_ROWS = ("INSERT INTO hq_event (station_id, seq, kind, at, operator, lpn, rma_id, payload, received_at) "
         "SELECT %(station)s::text, seq, kind, at AT TIME ZONE 'UTC', operator, lpn, rma_id, payload, %(now)s "
         f"FROM {STAGE} ")
# The usual batch: every seq above the highest this station has stored. The caller holds the
# station's row lock, which every writer of the station's events takes, so none of them can be
# stored meanwhile, and nothing in the batch can collide with a stored event. When every time
# was sent in UTC, the batch is COPYed straight into hq_event, as PostgreSQL's own bulk load
# does: no staging table to write and scan, rows inserted in bulk (measured alone, 100 stations'
# batches interleaved: ~1 µs of PostgreSQL's CPU per event less than staging + INSERT … SELECT).
# `at` is read as a `timestamp` there, whose input ignores an offset: so only for UTC (other
# times are staged, and converted by the INSERT). Were the lock ever bypassed, the primary key
# would refuse the batch (an error, the transaction rolled back), never double it.
TOP = "SELECT coalesce(max(seq), 0) FROM hq_event WHERE station_id = %(station)s::text"
COPY_EVENTS = f"COPY hq_event (station_id, {COLUMNS}, received_at) FROM STDIN"
# Staged, above that highest seq: a plain INSERT, without ON CONFLICT's speculative insertion
# (measured: a sixth of PostgreSQL's time per event). It inserts all of the batch, or nothing
# when a seq is not above that highest one (then the ON CONFLICT statement runs, from the same
# staged rows).
PLAIN = _ROWS + "WHERE (SELECT coalesce(max(seq), 0) FROM hq_event WHERE station_id = %(station)s::text) < %(lo)s"
# One row back, not one per event: how many were new, and which only when some were not.
ON_CONFLICT = ("WITH ins AS (" + _ROWS + "ON CONFLICT (station_id, seq) DO NOTHING RETURNING seq) "
               "SELECT count(*), CASE WHEN count(*) < %(n)s THEN array_agg(seq) END FROM ins")


def _naive(value: datetime) -> datetime:
    return as_utc(value).replace(tzinfo=None)


def _text(value: str | None) -> str:
    """A field in COPY's text format: NULL as \\N; backslash, tab and line breaks escaped."""
    if value is None:
        return "\\N"
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def head_tail(station_id: str, now: datetime) -> tuple[bytes, bytes]:
    """What begins and ends each line of a batch's COPY text: the station, and HQ's time of
    receipt (naive UTC, as UTCDateTime stores it)."""
    return f"{_text(station_id)}\t".encode(), f"\t{_naive(now).isoformat()}\n".encode()


def staged_text(full: bytes, head: bytes, tail: bytes) -> bytes:
    """`full` (hq_event's columns) without the station and receipt time: the staging table's. A
    line break in COPY text only ends a line (one in a value is escaped), so `tail + head` is
    found only between two lines."""
    if not full:
        return full
    return full[len(head):-len(tail)].replace(tail + head, b"\n") + b"\n"


def copy_rows(events: list[EventIn], head: bytes, tail: bytes) -> bytes:
    """COPY text of validated events, hq_event's columns (pydantic's path: a NUL replaced, a
    repeat, a test's events). The payload is written as JSON text, the time in UTC with its offset."""
    h, t = head.decode(), tail.decode()
    lines = [f"{h}{e.seq}\t{e.kind}\t{as_utc(e.at).isoformat()}\t{_text(e.operator)}\t{_text(e.lpn)}\t"
             f"{_text(e.rma_id)}\t{_text(json.dumps(e.payload, ensure_ascii=False, separators=(',', ':')))}{t}"
             for e in events]
    return "".join(lines).encode()


def insert_rows(conn: Connection, station_id: str, rows: Any, now: datetime) -> tuple[set[int], int | None]:
    """Store the events of `rows` (sync.hq.events.Rows: seqs ascending, no repeats) that are new;
    return the seqs stored, and the station's highest stored seq before them when it was read.
    The caller's transaction holds the station's row lock."""
    seqs = rows.seqs
    psycopg_conn: Any = conn.connection.driver_connection  # COPY is psycopg's own, no DB-API call
    params = {"station": station_id, "now": _naive(now), "n": len(seqs), "lo": seqs[0]}
    top = None
    if rows.utc:
        top = int(conn.exec_driver_sql(TOP, params).scalar_one())
        if top < seqs[0]:
            with psycopg_conn.cursor() as cursor, cursor.copy(COPY_EVENTS) as copy:
                copy.write(rows.full())
            return set(seqs), top
    conn.exec_driver_sql(CREATE_STAGE)
    with psycopg_conn.cursor() as cursor, cursor.copy(COPY_STAGE) as copy:
        copy.write(rows.copy())
    if top is None and conn.exec_driver_sql(PLAIN, params).rowcount == len(seqs):
        return set(seqs), None
    count, stored = conn.exec_driver_sql(ON_CONFLICT, params).one()
    return (set(seqs) if count == len(seqs) else set(stored or ())), top
