"""The manifest's optional customer columns at HQ (issue 16): `hq_rma.customer_name` and
`customer_email`, imported from the CSV and served on manifest pages (protocol RMA_FIELDS), so a
pulled manifest is searchable at the bench by name and e-mail like an imported one. Nullable
columns: adding them rewrites nothing (PostgreSQL and SQLite alike).

Revision ID: 0008_rma_customer
Revises: 0005_refunds
Created: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_rma_customer"
down_revision = "0005_refunds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("hq_rma", sa.Column("customer_name", sa.String(), nullable=True))
    op.add_column("hq_rma", sa.Column("customer_email", sa.String(), nullable=True))


def downgrade() -> None:
    op.drop_column("hq_rma", "customer_email")  # SQLite 3.35+ drops a column in place
    op.drop_column("hq_rma", "customer_name")
