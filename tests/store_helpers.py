"""Store helpers for tests: an older release's database (migration tests), a manifest RMA written
straight to the store."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from decimal import Decimal

from dockstation.models import Rma, RmaLine
from dockstation.store import Store
from dockstation.types import utcnow


def rewind_schema(path, version: int, drop_indexes=()) -> None:
    """Drop `drop_indexes` (those later releases added), before v2 the scan_exception columns v2
    added, before v5 inspection.all_pass, before v6 print_job.label and the approval_request table,
    before v11 the photo tables, before v12 the age trigger columns, table and indexes;
    set user_version to `version`. The rows stay, as an older release would have them."""
    conn = sqlite3.connect(path)
    try:
        for name in drop_indexes:
            conn.execute(f"DROP INDEX {name}")
        if version < 12:  # v12 (issue 20): age triggers
            for name in ("ix_unit_open_received", "ix_unit_open_inspected", "ix_unit_open_updated",
                         "ix_approval_request_open"):
                conn.execute(f"DROP INDEX IF EXISTS {name}")
            conn.execute("DROP TABLE IF EXISTS age_firing")
            conn.execute("ALTER TABLE unit DROP COLUMN age_path")
            conn.execute("ALTER TABLE unit DROP COLUMN age_trigger")
        if version < 11:  # v11 (issue 18): the photo tables
            conn.execute("DROP TABLE IF EXISTS photo")
            conn.execute("DROP TABLE IF EXISTS photo_waiver")
        if version < 9:  # v9 (issue 16): customer columns, search, parcels, holds, units with no RMA
            for trigger in ("rma_fts_ai", "rma_fts_ad", "rma_fts_au"):
                conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
            conn.execute("DROP TABLE IF EXISTS rma_fts")
            conn.execute("DROP INDEX IF EXISTS ix_rma_customer_email")
            conn.execute("DROP INDEX IF EXISTS ix_rma_line_sku")
            conn.execute("ALTER TABLE rma DROP COLUMN customer_name")
            conn.execute("ALTER TABLE rma DROP COLUMN customer_email")
            conn.execute("DROP TABLE IF EXISTS hold")
            conn.execute("DROP TABLE IF EXISTS parcel")
            version_now = conn.execute("PRAGMA schema_version").fetchone()[0]
            conn.execute("PRAGMA writable_schema = ON")
            conn.execute("UPDATE sqlite_master SET sql = replace(sql, 'rma_id VARCHAR, ', 'rma_id VARCHAR NOT NULL, ') "
                         "WHERE type = 'table' AND name = 'unit'")
            conn.execute(f"PRAGMA schema_version = {version_now + 1}")
            conn.execute("PRAGMA writable_schema = OFF")
            conn.commit()
        if version < 6:  # v6 added print_job.label; the approval_request table came with it
            conn.execute("ALTER TABLE print_job DROP COLUMN label")
            conn.execute("DROP TABLE IF EXISTS approval_request")
        if version < 5:
            cols = [row[1] for row in conn.execute("PRAGMA table_info(inspection)")]
            if "all_pass" in cols:
                conn.execute("ALTER TABLE inspection DROP COLUMN all_pass")
        if version < 2:
            conn.execute("ALTER TABLE scan_exception DROP COLUMN value")
            conn.execute("ALTER TABLE scan_exception DROP COLUMN lpn")
        conn.execute(f"PRAGMA user_version={int(version)}")
        conn.commit()
    finally:
        conn.close()


def add_rma(store: Store, rma_id: str, lines: list[dict], *, status: str = "open",
            expires_in_days: float = 30, tracking: str | None = None) -> None:
    """A manifest RMA written straight to the store (the import path has its own tests)."""
    now = utcnow()
    with store.write() as s:
        s.add(Rma(rma_id=rma_id, order_id=f"O-{rma_id}", created_at=now - timedelta(days=3),
                  expires_at=now + timedelta(days=expires_in_days), status=status, updated_at=now))
        for n, line in enumerate(lines, start=1):
            s.add(RmaLine(rma_id=rma_id, line_no=n, tracking_number=tracking, carrier="ups" if tracking else None,
                          unit_price=Decimal(str(line.pop("unit_price", "49.99"))), **line))
