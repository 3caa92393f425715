"""PostgreSQL fast path for storing event batches (see hq_events for what a batch does).

SQLAlchemy's executemany turns a 500-event batch into one INSERT with 4,500 placeholders, which
psycopg parses afresh for every batch (the text differs with the batch size): that parsing alone
cost HQ about 40% of its time. Here every statement is short and constant, and the rows travel
as one JSON document (`jsonb_to_recordset`), serialised in one Rust call (pydantic) and unpacked
by PostgreSQL in C.

Timestamps are sent naive in UTC (the columns are `timestamp without time zone`, UTC by
convention, as written by dockstation.types.UTCDateTime), so no session time zone can shift them.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import TypeAdapter
from sqlalchemy import Connection

from dockstation.types import as_utc
from sync.protocol import EventIn

_EVENTS = TypeAdapter(list[EventIn])

# The batch's rows from one JSON document ({source}), as hq_event rows.
_ROWS = (
    "INSERT INTO hq_event (station_id, seq, kind, at, operator, lpn, rma_id, payload, received_at) "
    "SELECT %(station)s::text, t.seq, t.kind, t.at AT TIME ZONE 'UTC', t.operator, t.lpn, t.rma_id, "
    "coalesce(t.payload, '{{}}'::jsonb), %(now)s "
    "FROM jsonb_to_recordset({source}) "
    "AS t(seq bigint, kind text, at timestamptz, operator text, lpn text, rma_id text, payload jsonb) "
)
# One row back, not one per event: how many were new, and which only when some were not.
_INSERT = (
    "WITH ins AS (" + _ROWS + "ON CONFLICT (station_id, seq) DO NOTHING RETURNING seq) "
    "SELECT count(*), CASE WHEN count(*) < %(n)s THEN array_agg(seq) END FROM ins"
)
INSERT_EVENTS = _INSERT.format(source="%(events)s::jsonb")
# The request body itself, when HQ validated it and it needs no change (see hq_app).
INSERT_FROM_BODY = _INSERT.format(source="(%(events)s::jsonb)->'events'")

# The usual batch: every seq above the highest this station has stored. The caller holds the
# station's row lock, which every writer of the station's events takes, so none of them can be
# stored meanwhile: a plain INSERT, without ON CONFLICT's speculative insertion (measured: a
# sixth of PostgreSQL's time per event). It inserts all of the batch, or nothing when a seq is
# not above that highest one (then the ON CONFLICT statement runs). Were the lock ever bypassed,
# the primary key would refuse the batch (an error, the transaction rolled back), never double it.
_PLAIN = (
    _ROWS + "WHERE (SELECT coalesce(max(seq), 0) FROM hq_event WHERE station_id = %(station)s::text) < %(lo)s"
)
PLAIN_EVENTS = _PLAIN.format(source="%(events)s::jsonb")
PLAIN_FROM_BODY = _PLAIN.format(source="(%(events)s::jsonb)->'events'")


def _naive(value: datetime) -> datetime:
    return as_utc(value).replace(tzinfo=None)


def insert_events(conn: Connection, station_id: str, events: list[EventIn], now: datetime,
                  body: bytes | None = None) -> set[int]:
    """Insert the events that are new; return their seqs. The batch goes as one JSON document:
    the request `body` as it came when given (validated, strict, so PostgreSQL reads in it what
    pydantic read), else serialised by pydantic. PostgreSQL converts the times to UTC."""
    params = {"station": station_id, "now": _naive(now), "n": len(events), "lo": min(e.seq for e in events),
              "events": body.decode() if body is not None else _EVENTS.dump_json(events).decode()}
    if conn.exec_driver_sql(PLAIN_FROM_BODY if body is not None else PLAIN_EVENTS, params).rowcount == len(events):
        return {e.seq for e in events}
    count, seqs = conn.exec_driver_sql(INSERT_FROM_BODY if body is not None else INSERT_EVENTS, params).one()
    return {e.seq for e in events} if count == len(events) else set(seqs or ())
