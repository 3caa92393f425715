"""Make a bench database look like an older release left it, for the migration tests."""

from __future__ import annotations

import sqlite3


def rewind_schema(path, version: int, drop_indexes=()) -> None:
    """Drop `drop_indexes` (those later releases added), before v2 the scan_exception columns v2
    added, before v5 inspection.all_pass, before v6 print_job.label and the approval_request table,
    before v11 the photo tables;
    set user_version to `version`. The rows stay, as an older release would have them."""
    conn = sqlite3.connect(path)
    try:
        for name in drop_indexes:
            conn.execute(f"DROP INDEX {name}")
        if version < 11:  # v11 (issue 18): the photo tables
            conn.execute("DROP TABLE IF EXISTS photo")
            conn.execute("DROP TABLE IF EXISTS photo_waiver")
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
