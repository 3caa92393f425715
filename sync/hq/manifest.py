"""The manifest at HQ, out: `GET /api/v1/manifest` pages by change cursor (in: sync/hq/manifest_import.py).

Every change to an RMA (new, changed header or line, cancelled) gives the RMA a new `change_id`,
and a page is "RMAs with change_id > cursor, in change_id order". That cursor is only safe if a
reader can never see change 12 committed and change 11 commit afterwards: on PostgreSQL a
sequence can commit out of order. So writers of change_id are serialised (an advisory lock on
PostgreSQL, the file lock of BEGIN IMMEDIATE on SQLite) and take `max(change_id) + 1` inside it.

A page is built by the database as JSON text (json_array / json_build_array), aggregated into
one text for the RMAs and one for their lines, so 1M RMAs cost HQ almost no Python. Lines are
found by their own copy of the RMA's change_id: one index range per page.
"""

from __future__ import annotations

import json

from sqlalchemy import Connection, func, select, text

from sync.hq.db import HQDatabase, HqRma
from sync.protocol import LINE_FIELDS, PROTOCOL, RMA_FIELDS, encode_cursor

RMAS = HqRma.__table__
_RMA_JSON = json.dumps(list(RMA_FIELDS), separators=(",", ":"))
_LINE_JSON = json.dumps(list(LINE_FIELDS), separators=(",", ":"))


def _sqlite_ts(col: str) -> str:
    # SQLAlchemy keeps SQLite DATETIME as 'YYYY-MM-DD HH:MM:SS.ffffff' (naive UTC here).
    return f"substr({col}, 1, 10) || 'T' || substr({col}, 12) || '+00:00'"


def _pg_ts(col: str) -> str:
    return f"""to_char({col}, 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""


def _page_sql(dialect: str) -> tuple[str, str, str]:
    """(the page's RMAs, whether more follow, their lines). A page's RMAs and its lines each come
    back as one row: the change_id range and the JSON text of all rows, built by the database."""
    pg = dialect == "postgresql"
    ts = _pg_ts if pg else _sqlite_ts
    array, text_, agg = ("json_build_array", "::text", "string_agg") if pg else ("json_array", "", "group_concat")
    head = ", ".join(ts(f"r.{c}") if c.endswith("_at") else f"r.{c}" for c in RMA_FIELDS)
    line = ", ".join(f"l.{c}" for c in LINE_FIELDS)
    # In change order: the subquery picks the oldest changes, the aggregate keeps its order.
    order = " ORDER BY change_id" if pg else ""
    rmas = (f"SELECT count(*), max(change_id), {agg}(j, ','{order}) FROM (SELECT r.change_id, {array}({head}){text_} AS j "
            "FROM hq_rma r WHERE r.change_id > :after ORDER BY r.change_id LIMIT :n) AS page")
    more = "SELECT EXISTS (SELECT 1 FROM hq_rma WHERE change_id > :last)"
    # Lines carry their RMA's change_id, so this is an index range (see hq_db.HqRmaLine).
    lines = (f"SELECT {agg}({array}({line}){text_}, ',') FROM hq_rma_line l "
             "WHERE l.change_id > :after AND l.change_id <= :last")
    return rmas, more, lines


class CursorAhead(Exception):
    """The cursor is past anything HQ holds: HQ's database was replaced; the bench starts over."""


def manifest_page(db: HQDatabase, after: int, limit: int, *, count: bool = False) -> bytes:
    """One page as the JSON of protocol.ManifestPage."""
    rmas_sql, more_sql, lines_sql = _page_sql(db.dialect)
    with db.read() as conn:
        if db.dialect == "postgresql":  # the RMAs, their lines and the count from one snapshot
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        n, last, rmas = conn.execute(text(rmas_sql), {"after": after, "n": limit}).one()
        more, lines = False, None
        if n:
            more = bool(conn.execute(text(more_sql), {"last": last}).scalar_one())
            lines = conn.execute(text(lines_sql), {"after": after, "last": last}).scalar_one()
        remaining = None
        if count:
            remaining = conn.execute(select(func.count()).select_from(RMAS).where(RMAS.c.change_id > after)).scalar_one()
        if not n and after > 0:
            _check_not_ahead(conn, after)
    cursor = encode_cursor(last if n else after)
    head = (f'{{"protocol":{PROTOCOL},"cursor":"{cursor}","more":{json.dumps(more)},'
            f'"remaining":{json.dumps(remaining)},"rma_fields":{_RMA_JSON},"line_fields":{_LINE_JSON},"rmas":[')
    return b"".join((head.encode(), (rmas or "").encode(), b'],"lines":[', (lines or "").encode(), b"]}"))


def _check_not_ahead(conn: Connection, after: int) -> None:
    top = conn.execute(select(func.max(RMAS.c.change_id))).scalar()
    if top is None or after > top:
        raise CursorAhead(after)
