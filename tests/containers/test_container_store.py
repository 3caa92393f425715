"""The store gets the container tables whatever version it is at: v10 came after v11 was released."""

from __future__ import annotations

import sqlite3

from dockstation.store import LATEST, Store


def test_a_database_at_the_latest_version_without_the_container_tables_gets_them(tmp_path):
    path = tmp_path / "db.sqlite3"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.executescript("DROP TABLE container_print_job; DROP TABLE container_unit; DROP TABLE container; "
                       "DROP INDEX ix_unit_disposed_at;")
    conn.execute(f"PRAGMA user_version={LATEST}")  # a bench from before the containers, at v11
    conn.commit()
    conn.close()
    store = Store(path)
    with store.read() as s:
        names = {r[0] for r in s.connection().exec_driver_sql("SELECT name FROM sqlite_master")}
    store.close()
    assert {"container", "container_unit", "container_print_job", "ix_unit_disposed_at"} <= names
    assert LATEST >= 11
