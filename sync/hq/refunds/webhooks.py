"""Webhooks of the refund feed: signed the Standard Webhooks way, retried until a 2xx.

Each message is POSTed as JSON `{"type", "timestamp", "data"}` with three headers:
`webhook-id` (the message's id, the same on every attempt: de-duplicate by it), `webhook-timestamp`
(Unix seconds of this attempt) and `webhook-signature`: `v1,` + base64(HMAC-SHA256(secret,
"{id}.{timestamp}.{body}")), the secret being the base64 after `whsec_` of the one
`dockstation hq add-webhook` printed. Any 2xx is delivered; anything else (an error status, no
answer, a time-out) is tried again after 5 s, 10 s, 20 s … up to an hour between attempts, until
a 2xx: at least once.

Any number of HQ workers deliver from one database: a worker claims due deliveries in a short
transaction (`SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL, BEGIN IMMEDIATE on SQLite), moving
their next attempt a lease ahead, then sends them with no transaction open, then records the
answer. A worker that dies after sending leaves the delivery to be claimed again when the lease
ends: the receiver may see an id twice, never a message lost.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from dockstation.types import as_utc, utcnow
from sync.hq.db import HQDatabase
from sync.hq.refunds import feed
from sync.hq.refunds.models import HqWebhook, HqWebhookDelivery

log = logging.getLogger("dockstation.hq.webhooks")
EVENT_TYPES = (feed.EVENT,)
BATCH = 20
LEASE_S = 60.0
TIMEOUT_S = 10.0
FIRST_RETRY_S = 5.0
MAX_RETRY_S = 3600.0
HOOKS = HqWebhook.__table__
DELIVERIES = HqWebhookDelivery.__table__


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header's value (Standard Webhooks, v1)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def backoff(attempts: int) -> float:
    return min(MAX_RETRY_S, FIRST_RETRY_S * 2 ** max(0, attempts - 1))


def add_webhook(db: HQDatabase, url: str, events: list[str]) -> tuple[int, str]:
    unknown = [e for e in events if e not in EVENT_TYPES]
    if unknown or not events:
        raise ValueError(f"unknown event type {unknown[0] if unknown else ''!r}: one of {', '.join(EVENT_TYPES)}")
    if not url.startswith(("https://", "http://")):
        raise ValueError("the URL must start with https:// (or http:// on a private network)")
    secret = new_secret()
    with db.write() as conn:
        row = conn.execute(HOOKS.insert().values(url=url, events=" ".join(sorted(set(events))), secret=secret,
                                                 created_at=utcnow(), active=True).returning(HOOKS.c.id)).scalar_one()
    return int(row), secret


def remove_webhook(db: HQDatabase, webhook_id: int) -> bool:
    """Stop a webhook (its delivery log stays)."""
    with db.write() as conn:
        return bool(conn.execute(HOOKS.update().where(HOOKS.c.id == webhook_id).values(active=False)).rowcount)


def webhooks(db: HQDatabase) -> list[dict[str, Any]]:
    with db.read() as conn:
        rows = conn.execute(select(HOOKS.c.id, HOOKS.c.url, HOOKS.c.events, HOOKS.c.active, HOOKS.c.created_at)
                            .order_by(HOOKS.c.id)).all()
    return [dict(r._mapping) for r in rows]


def deliveries(db: HQDatabase, limit: int = 50, webhook_id: int | None = None) -> list[dict[str, Any]]:
    """The delivery log, newest first."""
    q = select(DELIVERIES.c.id, DELIVERIES.c.webhook_id, DELIVERIES.c.msg_id, DELIVERIES.c.event_type,
               DELIVERIES.c.state, DELIVERIES.c.attempts, DELIVERIES.c.last_status, DELIVERIES.c.last_error,
               DELIVERIES.c.created_at, DELIVERIES.c.next_attempt_at, DELIVERIES.c.delivered_at)
    if webhook_id is not None:
        q = q.where(DELIVERIES.c.webhook_id == webhook_id)
    with db.read() as conn:
        rows = conn.execute(q.order_by(DELIVERIES.c.id.desc()).limit(limit)).all()
    return [dict(r._mapping) for r in rows]


@dataclass(frozen=True)
class Claimed:
    id: int
    msg_id: str
    url: str
    secret: str
    payload: dict[str, Any]
    attempts: int


def claim(db: HQDatabase, now: datetime, limit: int = BATCH) -> list[Claimed]:
    """Due deliveries, each leased to this worker (its next attempt moved a lease ahead)."""
    with db.write() as conn:
        q = (select(DELIVERIES.c.id).where(DELIVERIES.c.state == "pending", DELIVERIES.c.next_attempt_at <= now)
             .order_by(DELIVERIES.c.next_attempt_at).limit(limit))
        if db.dialect == "postgresql":
            q = q.with_for_update(skip_locked=True)
        ids = [r[0] for r in conn.execute(q)]
        if not ids:
            return []
        conn.execute(DELIVERIES.update().where(DELIVERIES.c.id.in_(ids))
                     .values(next_attempt_at=now + timedelta(seconds=LEASE_S), attempts=DELIVERIES.c.attempts + 1))
        rows = conn.execute(select(DELIVERIES.c.id, DELIVERIES.c.msg_id, DELIVERIES.c.payload, DELIVERIES.c.attempts,
                                   HOOKS.c.url, HOOKS.c.secret, HOOKS.c.active)
                            .join(HOOKS, HOOKS.c.id == DELIVERIES.c.webhook_id).where(DELIVERIES.c.id.in_(ids))).all()
    return [Claimed(r.id, r.msg_id, r.url, r.secret, r.payload, r.attempts) for r in rows if r.active]


def send(client: httpx.Client, d: Claimed, now: datetime) -> tuple[int | None, str | None]:
    body = json.dumps(d.payload, separators=(",", ":"), ensure_ascii=False).encode()
    ts = int(now.timestamp())
    headers = {"content-type": "application/json", "webhook-id": d.msg_id, "webhook-timestamp": str(ts),
               "webhook-signature": sign(d.secret, d.msg_id, ts, body), "user-agent": "dockstation-hq"}
    try:
        resp = client.post(d.url, content=body, headers=headers, timeout=TIMEOUT_S)
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {str(exc)[:200]}"
    return resp.status_code, None if 200 <= resp.status_code < 300 else f"HTTP {resp.status_code}"


def record(db: HQDatabase, d: Claimed, status: int | None, error: str | None, now: datetime) -> None:
    with db.write() as conn:
        if error is None:
            conn.execute(DELIVERIES.update().where(DELIVERIES.c.id == d.id).values(
                state="delivered", last_status=status, last_error=None, delivered_at=now))
        else:
            conn.execute(DELIVERIES.update().where(DELIVERIES.c.id == d.id, DELIVERIES.c.state == "pending").values(
                last_status=status, last_error=error[:300], next_attempt_at=now + timedelta(seconds=backoff(d.attempts))))


def deliver_due(db: HQDatabase, client: httpx.Client, now: datetime | None = None) -> int:
    """One pass: project new feed entries, then send what is due. Returns deliveries answered 2xx."""
    feed.project(db)
    done = 0
    for d in claim(db, now or utcnow()):
        at = utcnow()
        status, error = send(client, d, at)
        record(db, d, status, error, utcnow())
        if error is None:
            done += 1
        else:  # never the payload: it names customers' returns
            log.warning("webhook delivery %s (%s) failed, attempt %d: %s", d.id, d.msg_id, d.attempts, error)
    return done


class Dispatcher:
    """The delivery loop of one HQ worker, in a daemon thread (started with the app, sync/hq/app.py)."""

    def __init__(self, db: HQDatabase, interval: float = 1.0) -> None:
        self.db, self.interval = db, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hq-webhooks", daemon=True)

    def start(self) -> Dispatcher:
        self._thread.start()
        return self

    def _run(self) -> None:
        with httpx.Client(follow_redirects=False) as client:
            while not self._stop.is_set():
                try:
                    deliver_due(self.db, client)
                except Exception:  # the database away a moment: the next pass tries again
                    log.exception("webhook pass failed")
                self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(TIMEOUT_S + 5)


def due_in(d: dict[str, Any], now: datetime) -> float:
    return (as_utc(d["next_attempt_at"]) - now).total_seconds()
