"""Look-ups for the console: an RMA's units by their receipts, returns by order id.

`ix_hq_event_rma_received` indexes only `unit_received` events (partial index), so ingest pays
for about one event in ten. Building it reads the whole event table once and, on PostgreSQL,
holds pushes back while it runs (about 1-2 s per million events here; benches retry, nothing is
lost): run the migration in a quiet hour on a large HQ.

Revision ID: 0003_lookup_indexes
Revises: 0002_console
Created: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_lookup_indexes"
down_revision = "0002_console"
branch_labels = None
depends_on = None

RECEIPT = sa.text("kind = 'unit_received'")


def upgrade() -> None:
    op.create_index("ix_hq_event_rma_received", "hq_event", ["rma_id"],
                    postgresql_where=RECEIPT, sqlite_where=RECEIPT)
    op.create_index("ix_hq_rma_order_id", "hq_rma", ["order_id"])


def downgrade() -> None:
    op.drop_index("ix_hq_rma_order_id", table_name="hq_rma")
    op.drop_index("ix_hq_event_rma_received", table_name="hq_event")
