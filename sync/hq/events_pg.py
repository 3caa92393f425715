"""PostgreSQL path for storing event batches (see sync/hq/events.py for what a batch does).

A batch is streamed into a staging table with `COPY` (text format, the rows built by the fast
lane, sync/hq/ingest.py, or from the validated events), then moved into `hq_event` by one
statement. COPY is PostgreSQL's cheapest way in: no statement text to parse per batch, no
parameters, no JSON document to take apart (the batch went as one `jsonb_to_recordset` document
before: its parsing cost PostgreSQL ~3 µs an event more than COPY).

The staging table is a temporary one, `ON COMMIT DELETE ROWS`: private to the session, not
written to the WAL, emptied by the commit (only in transactions that used it). `CREATE … IF NOT
EXISTS` in every batch's transaction keeps it right behind a pooler that hands out server
sessions per transaction. Its `at` is `timestamptz`, so PostgreSQL reads the offset the bench
sent and the INSERT stores UTC (the columns are `timestamp without time zone`, UTC by
convention, as dockstation.types.UTCDateTime writes them): no session time zone can shift them.
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
# stored meanwhile: a plain INSERT, without ON CONFLICT's speculative insertion (measured: a
# sixth of PostgreSQL's time per event). It inserts all of the batch, or nothing when a seq is
# not above that highest one (then the ON CONFLICT statement runs, from the same staged rows).
# Were the lock ever bypassed, the primary key would refuse the batch (an error, the
# transaction rolled back), never double it.
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


def copy_rows(events: list[EventIn]) -> bytes:
    """COPY text of validated events (pydantic's path: a NUL replaced, a repeat, a test's events).
    The payload is written as JSON text, the time with its offset."""
    lines = [f"{e.seq}\t{e.kind}\t{e.at.isoformat()}\t{_text(e.operator)}\t{_text(e.lpn)}\t{_text(e.rma_id)}\t"
             f"{_text(json.dumps(e.payload, ensure_ascii=False, separators=(',', ':')))}\n" for e in events]
    return "".join(lines).encode()


def insert_rows(conn: Connection, station_id: str, rows: bytes, seqs: list[int], now: datetime) -> set[int]:
    """Store the events whose COPY text is `rows` (their seqs ascending: `seqs`) that are new;
    return the seqs stored. The caller's transaction holds the station's row lock."""
    conn.exec_driver_sql(CREATE_STAGE)
    psycopg_conn: Any = conn.connection.driver_connection  # COPY is psycopg's own, no DB-API call
    with psycopg_conn.cursor() as cursor, cursor.copy(COPY_STAGE) as copy:
        copy.write(rows)
    params = {"station": station_id, "now": _naive(now), "n": len(seqs), "lo": seqs[0]}
    if conn.exec_driver_sql(PLAIN, params).rowcount == len(seqs):
        return set(seqs)
    count, stored = conn.exec_driver_sql(ON_CONFLICT, params).one()
    return set(seqs) if count == len(seqs) else set(stored or ())
