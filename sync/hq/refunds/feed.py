"""The refund feed: final refund decisions, paged by an opaque cursor (docs/sync.md, "Refund feed").

A bench decides an RMA's refund once it is final (its parcel closed, every unit disposed:
dockstation/receiving/refunds.py) and records one `refund_decided` event carrying the whole
decision. HQ reads those events into `hq_refund` (`project`): per station, from where it last
stopped up to the station's gap-free `acked_seq` — never past a gap, so an event that arrives
late is still read, in its turn. The first decision of an RMA is its entry (a later one for the
same RMA is not a second entry).

The feed is ordered by `feed_id`, handed out as `max + 1` by one projector at a time (an advisory
lock on PostgreSQL, BEGIN IMMEDIATE on SQLite), so ids commit in order and a reader paging with
`feed_id > cursor` never skips one that commits after its page: stable (an entry never changes
and keeps its place) and idempotent (asking again with the same cursor gives the same page).
Webhook deliveries are queued in the same transaction as their entry (webhooks.py).

HQ keeps no state in its processes: any worker may project (whoever holds the lock; the others
go on), each request reads the database.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, text

from dockstation.types import utcnow
from sync.hq.db import HQDatabase, HqEvent, HqStation
from sync.protocol import CURSOR_PATTERN as PROTOCOL_CURSOR
from sync.hq.refunds.models import HqRefund, HqRefundProgress, HqWebhook, HqWebhookDelivery

log = logging.getLogger("dockstation.hq.refunds")
LOCK_REFUNDS = 0x445354_16
EVENT = "refund.decided"
MAX_LIMIT = 1000
CHUNK = 2000  # events read per station per pass
# An opaque cursor: base64url of "f1:" and the last feed id (1-18 digits), exactly as the manifest's
# cursor is of "c1:" (sync/protocol.py): the document's pattern takes what HQ takes, nothing more.
CURSOR_PATTERN = PROTOCOL_CURSOR.replace("YzE6", "ZjE6")
_CURSOR = re.compile(CURSOR_PATTERN)
REFUNDS = HqRefund.__table__
EVENTS = HqEvent.__table__


class CursorError(ValueError):
    pass


def encode_cursor(feed_id: int) -> str:
    return base64.urlsafe_b64encode(f"f1:{feed_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        if not _CURSOR.fullmatch(cursor):
            raise ValueError
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        tag, _, number = raw.partition(":")
        if tag != "f1" or not number.isdigit() or len(number) > 18:
            raise ValueError
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise CursorError("not a refund feed cursor from this HQ: hand back the `cursor` of the last page, "
                          "or none to start at the beginning") from None


def entry_of(station_id: str, seq: int, rma_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A feed entry from a `refund_decided` event (its payload is the decision)."""
    return {
        "id": f"{station_id}-{seq}", "rma_id": rma_id, "station_id": station_id,
        "refund": payload.get("refund"), "amount": str(payload.get("amount", "0")),
        "currency": payload.get("currency"), "reason": payload.get("reason", ""),
        "rules": list(payload.get("rules") or []), "policy_version": payload.get("policy_version"),
        "decided_at": payload.get("decided_at"), "expected_value": payload.get("expected_value"),
        "withheld": payload.get("withheld"), "empty": bool(payload.get("empty")),
        "units": list(payload.get("units") or []), "missing_lines": list(payload.get("missing_lines") or []),
    }


def _lock(db: HQDatabase, conn: Connection) -> bool:
    if db.dialect != "postgresql":
        return True  # BEGIN IMMEDIATE: one writer at a time already
    return bool(conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": LOCK_REFUNDS}).scalar())


def project(db: HQDatabase, now: datetime | None = None) -> int:
    """Read new `refund_decided` events into the feed (and queue their webhook deliveries);
    returns how many entries were added. Another worker projecting right now: 0, at once."""
    now = now or utcnow()
    added = 0
    with db.write() as conn:
        if not _lock(db, conn):
            return 0
        s, p = HqStation.__table__, HqRefundProgress.__table__
        behind = conn.execute(select(s.c.station_id, s.c.acked_seq, func.coalesce(p.c.seq, 0))
                              .select_from(s.outerjoin(p, p.c.station_id == s.c.station_id))
                              .where(s.c.acked_seq > func.coalesce(p.c.seq, 0)).order_by(s.c.station_id)).all()
        if not behind:
            return 0
        top = conn.execute(select(func.coalesce(func.max(REFUNDS.c.feed_id), 0))).scalar_one()
        hooks = [h for h in conn.execute(select(HqWebhook.__table__)).all()
                 if h.active and EVENT in (h.events or "").split()]
        for station_id, acked, done in behind:
            upto = min(int(acked), int(done) + CHUNK * 50)
            rows = [r for r in conn.execute(
                select(EVENTS.c.seq, EVENTS.c.rma_id, EVENTS.c.payload, EVENTS.c.at)
                .where(EVENTS.c.station_id == station_id, EVENTS.c.seq > done, EVENTS.c.seq <= upto,
                       EVENTS.c.kind == "refund_decided").order_by(EVENTS.c.seq)).all()
                    if r[1] and isinstance(r[2], dict)]
            # In bulk (bench/bench_refunds.py): the RMAs already in the feed in one look-up per
            # thousand, the entries and their webhook deliveries each in one executemany.
            known = _in_feed(conn, list({r[1] for r in rows}))
            entries: list[dict[str, Any]] = []
            deliveries: list[dict[str, Any]] = []
            for seq, rma_id, payload, at in rows:
                if rma_id in known:  # the first decision of an RMA stands
                    log.info("refund feed: %s-%s decides an RMA already in the feed; the first decision stands",
                             station_id, seq)
                    continue
                known.add(rma_id)
                top += 1
                entry = entry_of(station_id, int(seq), rma_id, payload)
                entries.append({"feed_id": top, "rma_id": rma_id, "station_id": station_id, "seq": seq,
                                "decided_at": at, "entry": entry, "created_at": now})
                deliveries.extend({"webhook_id": h.id, "msg_id": f"msg_refund_{top}", "event_type": EVENT,
                                   "payload": {"type": EVENT, "timestamp": now.isoformat(), "data": entry},
                                   "state": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now}
                                  for h in hooks)
            if entries:
                conn.execute(REFUNDS.insert(), entries)
            if deliveries:
                conn.execute(HqWebhookDelivery.__table__.insert(), deliveries)
            added += len(entries)
            _set_progress(db, conn, station_id, upto)
    return added


def _in_feed(conn: Connection, rma_ids: list[str]) -> set[str]:
    """Which of these RMAs have an entry already (a thousand per query: SQLite's variable limit)."""
    found: set[str] = set()
    for i in range(0, len(rma_ids), 1000):
        found.update(conn.execute(select(REFUNDS.c.rma_id).where(REFUNDS.c.rma_id.in_(rma_ids[i:i + 1000]))).scalars())
    return found


def _set_progress(db: HQDatabase, conn: Connection, station_id: str, seq: int) -> None:
    p = HqRefundProgress.__table__
    if conn.execute(select(p.c.seq).where(p.c.station_id == station_id)).first() is None:
        conn.execute(p.insert().values(station_id=station_id, seq=seq))
    else:
        conn.execute(p.update().where(p.c.station_id == station_id).values(seq=seq))


def page(db: HQDatabase, after: int, limit: int) -> dict[str, Any]:
    """Entries after the cursor's feed id, oldest first; `cursor` is the next `after`, `more`
    whether to ask again now. An empty page keeps the cursor given (ask again later)."""
    with db.read() as conn:
        rows = conn.execute(select(REFUNDS.c.feed_id, REFUNDS.c.entry).where(REFUNDS.c.feed_id > after)
                            .order_by(REFUNDS.c.feed_id).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1][0] if rows else after
    return {"entries": [r[1] for r in rows], "cursor": encode_cursor(last), "more": more}
