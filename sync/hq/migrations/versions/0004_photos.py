"""Photos benches upload (issue 18, sync/hq/photos.py): one row per photo, station and unit; the
bytes are in HQ's photo folder, named by their SHA-256.

Revision ID: 0004_photos
Revises: 0003_lookup_indexes
Created: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_photos"
down_revision = "0003_lookup_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("hq_photo",
                    sa.Column("sha256", sa.String(64), primary_key=True),
                    sa.Column("station_id", sa.String(16), primary_key=True),
                    sa.Column("lpn", sa.String(32), primary_key=True),
                    sa.Column("bytes", sa.BigInteger(), nullable=False),
                    sa.Column("stored_at", sa.DateTime(), nullable=False))
    op.create_index("ix_hq_photo_lpn", "hq_photo", ["lpn"])


def downgrade() -> None:
    op.drop_index("ix_hq_photo_lpn", table_name="hq_photo")
    op.drop_table("hq_photo")
