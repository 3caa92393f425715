"""The console: browser sessions, policy candidates and publications, audit, KPI weeks; reader
scopes; the clock skew a station reports.

Revision ID: 0002_console
Revises: 0001_baseline
Created: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002_console"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    # New columns of existing tables: nullable, or with a server default for the rows already there.
    with op.batch_alter_table("hq_reader") as batch:
        batch.add_column(sa.Column("scopes", sa.String(), nullable=False, server_default=""))
    with op.batch_alter_table("hq_station") as batch:
        batch.add_column(sa.Column("clock_skew_s", sa.Float(), nullable=True))
        batch.add_column(sa.Column("clock_reported_at", sa.DateTime(), nullable=True))

    op.create_table("hq_console_session",
                    sa.Column("id", sa.String(64), primary_key=True),
                    sa.Column("reader", sa.String(64), nullable=False),
                    sa.Column("token_hash", sa.String(64), nullable=False),
                    sa.Column("csrf", sa.String(64), nullable=False),
                    sa.Column("created_at", sa.DateTime(), nullable=False),
                    sa.Column("seen_at", sa.DateTime(), nullable=False),
                    sa.Column("expires_at", sa.DateTime(), nullable=False))
    op.create_index("ix_hq_console_session_reader", "hq_console_session", ["reader"])

    op.create_table("hq_policy_candidate",
                    sa.Column("id", sa.Integer(), primary_key=True),
                    sa.Column("uploaded_by", sa.String(64), nullable=False),
                    sa.Column("uploaded_at", sa.DateTime(), nullable=False),
                    sa.Column("filename", sa.String(), nullable=False),
                    sa.Column("content", sa.Text(), nullable=False),
                    sa.Column("sha256", sa.String(64), nullable=False),
                    sa.Column("policy_version", sa.String(), nullable=False),
                    sa.Column("base_version", sa.String(), nullable=False),
                    sa.Column("since", sa.DateTime(), nullable=True),
                    sa.Column("simulation", JSON, nullable=True),
                    sa.Column("simulated_at", sa.DateTime(), nullable=True),
                    sa.Column("simulate_ms", sa.Integer(), nullable=True))

    op.create_table("hq_publication",
                    sa.Column("id", sa.Integer(), primary_key=True),
                    sa.Column("candidate_id", sa.Integer(), nullable=True),
                    sa.Column("files", JSON, nullable=False),
                    sa.Column("policy_version", sa.String(), nullable=False),
                    sa.Column("bundle_version", sa.String(), nullable=False),
                    sa.Column("published_by", sa.String(64), nullable=False),
                    sa.Column("published_at", sa.DateTime(), nullable=False),
                    sa.Column("note", sa.String(), nullable=False))

    op.create_table("hq_audit",
                    sa.Column("id", sa.Integer(), primary_key=True),
                    sa.Column("at", sa.DateTime(), nullable=False),
                    sa.Column("actor", sa.String(64), nullable=False),
                    sa.Column("action", sa.String(64), nullable=False),
                    sa.Column("target", sa.String(), nullable=False),
                    sa.Column("detail", JSON, nullable=False))
    op.create_index("ix_hq_audit_at", "hq_audit", ["at"])

    op.create_table("hq_kpi_week",
                    sa.Column("week", sa.String(8), primary_key=True),
                    sa.Column("report", sa.Text(), nullable=False),
                    sa.Column("computed_at", sa.DateTime(), nullable=False),
                    sa.Column("compute_ms", sa.Integer(), nullable=False),
                    sa.Column("refreshing_since", sa.DateTime(), nullable=True))


def downgrade() -> None:
    for table in ("hq_kpi_week", "hq_audit", "hq_publication", "hq_policy_candidate", "hq_console_session"):
        op.drop_table(table)
    with op.batch_alter_table("hq_station") as batch:
        batch.drop_column("clock_reported_at")
        batch.drop_column("clock_skew_s")
    with op.batch_alter_table("hq_reader") as batch:
        batch.drop_column("scopes")
