"""Baseline: HQ's schema as the release before versioned migrations made it.

Written to run on any HQ database from before this revision (the version table absent): it
creates what is missing and leaves what is there, so a database the previous release made gains
nothing here but the version row, and one from an even older release gets what that release's
start-up added (the lines' `change_id`, the conflicts' index). An empty database gets the whole
schema of that release. Frozen: a later change to HQ's tables is a new revision, never an edit here.

Revision ID: 0001_baseline
Revises:
Created: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def _table(name: str, *columns: sa.Column, **kw: object) -> None:
    op.create_table(name, *columns, if_not_exists=True, **kw)


def _index(name: str, table: str, columns: list[str], unique: bool = False) -> None:
    op.create_index(name, table, columns, unique=unique, if_not_exists=True)


def upgrade() -> None:
    _table("hq_station",
           sa.Column("station_id", sa.String(16), primary_key=True),
           sa.Column("token_hash", sa.String(64), nullable=False),
           sa.Column("site", sa.String(), nullable=False),
           sa.Column("created_at", sa.DateTime(), nullable=False),
           sa.Column("revoked", sa.Boolean(), nullable=False),
           sa.Column("acked_seq", sa.BigInteger(), nullable=False),
           sa.Column("last_push_at", sa.DateTime(), nullable=True))
    _index("ix_hq_station_token_hash", "hq_station", ["token_hash"], unique=True)

    _table("hq_event",
           sa.Column("station_id", sa.String(16), primary_key=True),
           sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
           sa.Column("kind", sa.String(64), nullable=False),
           sa.Column("at", sa.DateTime(), nullable=False),
           sa.Column("operator", sa.String(), nullable=True),
           sa.Column("lpn", sa.String(), nullable=True),
           sa.Column("rma_id", sa.String(), nullable=True),
           sa.Column("payload", JSON, nullable=False),
           sa.Column("received_at", sa.DateTime(), nullable=False))
    _index("ix_hq_event_at", "hq_event", ["at"])
    _index("ix_hq_event_lpn", "hq_event", ["lpn"])
    _index("ix_hq_event_kind_at", "hq_event", ["kind", "at"])

    _table("hq_conflict",
           sa.Column("id", sa.Integer(), primary_key=True),
           sa.Column("station_id", sa.String(), nullable=False),
           sa.Column("seq", sa.BigInteger(), nullable=False),
           sa.Column("received_at", sa.DateTime(), nullable=False),
           sa.Column("event", JSON, nullable=False))
    _index("ix_hq_conflict_station_seq", "hq_conflict", ["station_id", "seq"])

    _table("hq_conflict_resolved",
           sa.Column("id", sa.Integer(), primary_key=True),
           sa.Column("conflict_id", sa.BigInteger(), nullable=True),
           sa.Column("station_id", sa.String(), nullable=False),
           sa.Column("seq", sa.BigInteger(), nullable=False),
           sa.Column("received_at", sa.DateTime(), nullable=False),
           sa.Column("sent", JSON, nullable=False),
           sa.Column("stored", JSON, nullable=False),
           sa.Column("kept", sa.String(), nullable=False),
           sa.Column("resolved_at", sa.DateTime(), nullable=False),
           sa.Column("resolved_by", sa.String(), nullable=False),
           sa.Column("note", sa.String(), nullable=False))

    _table("hq_rma",
           sa.Column("rma_id", sa.String(), primary_key=True),
           sa.Column("order_id", sa.String(), nullable=False),
           sa.Column("created_at", sa.DateTime(), nullable=False),
           sa.Column("expires_at", sa.DateTime(), nullable=False),
           sa.Column("status", sa.String(), nullable=False),
           sa.Column("updated_at", sa.DateTime(), nullable=False),
           sa.Column("change_id", sa.BigInteger(), nullable=False))
    _index("ix_hq_rma_change_id", "hq_rma", ["change_id"], unique=True)

    _table("hq_rma_line",
           sa.Column("rma_id", sa.String(), sa.ForeignKey("hq_rma.rma_id"), primary_key=True),
           sa.Column("line_no", sa.Integer(), primary_key=True, autoincrement=False),
           sa.Column("sku", sa.String(), nullable=False),
           sa.Column("gtin", sa.String(), nullable=True),
           sa.Column("description", sa.String(), nullable=False),
           sa.Column("category", sa.String(), nullable=False),
           sa.Column("qty", sa.Integer(), nullable=False),
           sa.Column("unit_price", sa.String(40), nullable=False),
           sa.Column("currency", sa.String(), nullable=False),
           sa.Column("expected_serial", sa.String(), nullable=True),
           sa.Column("reason_code", sa.String(), nullable=False),
           sa.Column("carrier", sa.String(), nullable=True),
           sa.Column("tracking_number", sa.String(), nullable=True),
           sa.Column("change_id", sa.BigInteger(), nullable=False))
    _add_line_change_id()
    _index("ix_hq_rma_line_change_id", "hq_rma_line", ["change_id"])

    _table("hq_config",
           sa.Column("version", sa.String(), primary_key=True),
           sa.Column("bundle", JSON, nullable=False),
           sa.Column("created_at", sa.DateTime(), nullable=False))

    _table("hq_reader",
           sa.Column("name", sa.String(64), primary_key=True),
           sa.Column("token_hash", sa.String(64), nullable=False),
           sa.Column("created_at", sa.DateTime(), nullable=False),
           sa.Column("revoked", sa.Boolean(), nullable=False))
    _index("ix_hq_reader_token_hash", "hq_reader", ["token_hash"], unique=True)


def _add_line_change_id() -> None:
    """Databases from before lines carried their RMA's change_id: add it, filled from the RMAs."""
    bind = op.get_bind()
    if any(c["name"] == "change_id" for c in sa.inspect(bind).get_columns("hq_rma_line")):
        return
    op.execute("ALTER TABLE hq_rma_line ADD COLUMN change_id BIGINT NOT NULL DEFAULT 0")
    op.execute("UPDATE hq_rma_line SET change_id = "
               "(SELECT change_id FROM hq_rma WHERE hq_rma.rma_id = hq_rma_line.rma_id)")


def downgrade() -> None:
    raise NotImplementedError("the baseline is where HQ's versioned schema starts: restore a backup to go further back")
