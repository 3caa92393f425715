"""HQ's tables of the refund feed and its webhooks (all of them here, one place).

- `hq_refund`: one entry per RMA whose refund decision is final, as the bench decided it (its
  `refund_decided` event). `feed_id` orders the feed: handed out in commit order (feed.py), so a
  reader paging by it never misses an entry that commits late.
- `hq_refund_progress`: per station, the seq up to which its events were read into the feed.
- `hq_webhook`: a subscriber (URL, event types, its signing secret).
- `hq_webhook_delivery`: one message to one subscriber, until it is answered 2xx (the log).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, UniqueConstraint
from sqlmodel import Field

from dockstation.types import UTCDateTime
from sync.hq.db import HQModel, JSONType


def _ts(**kw: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kw)


class HqRefund(HQModel, table=True):
    __tablename__ = "hq_refund"
    feed_id: int = Field(primary_key=True, sa_type=BigInteger, sa_column_kwargs={"autoincrement": False})
    rma_id: str = Field(unique=True, max_length=128)
    station_id: str = Field(max_length=16)
    seq: int = Field(sa_type=BigInteger)
    decided_at: datetime = _ts()
    entry: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    created_at: datetime = _ts()


class HqRefundProgress(HQModel, table=True):
    __tablename__ = "hq_refund_progress"
    station_id: str = Field(primary_key=True, max_length=16)
    seq: int = Field(default=0, sa_type=BigInteger)


class HqWebhook(HQModel, table=True):
    __tablename__ = "hq_webhook"
    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=2000)
    events: str = ""  # space-separated event types, e.g. "refund.decided"
    secret: str = Field(max_length=200)  # whsec_<base64>: needed to sign, so kept (the database is HQ's secret)
    created_at: datetime = _ts()
    active: bool = True


class HqWebhookDelivery(HQModel, table=True):
    __tablename__ = "hq_webhook_delivery"
    __table_args__ = (UniqueConstraint("webhook_id", "msg_id"),
                      Index("ix_hq_webhook_delivery_due", "state", "next_attempt_at"))
    id: int | None = Field(default=None, primary_key=True)
    webhook_id: int = Field(foreign_key="hq_webhook.id")
    msg_id: str = Field(max_length=100)  # webhook-id: the same on every attempt, for de-duplication
    event_type: str = Field(max_length=64)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    state: str = "pending"  # pending | delivered
    attempts: int = 0
    next_attempt_at: datetime = _ts()
    last_status: int | None = None
    last_error: str | None = Field(default=None, max_length=300)
    created_at: datetime = _ts()
    delivered_at: datetime | None = _ts(default=None)
