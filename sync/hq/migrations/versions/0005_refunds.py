"""The refund feed and its webhooks (issue 16): hq_refund, hq_refund_progress, hq_webhook,
hq_webhook_delivery (sync/hq/refunds/models.py). Reader scopes came with 0002; `refunds` is a
new value of them, no column.

Revision ID: 0005_refunds
Revises: 0004_photos
Created: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sync.hq.db import JSONType

revision = "0005_refunds"
down_revision = "0004_photos"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hq_refund",
        sa.Column("feed_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("rma_id", sa.String(length=128), nullable=False),
        sa.Column("station_id", sa.String(length=16), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.Column("entry", JSONType, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("rma_id"),
    )
    op.create_table(
        "hq_refund_progress",
        sa.Column("station_id", sa.String(length=16), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "hq_webhook",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("events", sa.String(), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "hq_webhook_delivery",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("webhook_id", sa.Integer(), sa.ForeignKey("hq_webhook.id"), nullable=False),
        sa.Column("msg_id", sa.String(length=100), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("payload", JSONType, nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("webhook_id", "msg_id"),
    )
    op.create_index("ix_hq_webhook_delivery_due", "hq_webhook_delivery", ["state", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_hq_webhook_delivery_due", table_name="hq_webhook_delivery")
    for table in ("hq_webhook_delivery", "hq_webhook", "hq_refund_progress", "hq_refund"):
        op.drop_table(table)
