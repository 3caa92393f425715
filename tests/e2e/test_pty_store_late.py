"""`dockstation run` in a real pty when its store turns out unusable after the first screen.

The store opens once the first screen is drawn (tui/app.py); a database from a newer release is
still refused with exit 1 and one line saying why, like before the screen existed.
"""

from __future__ import annotations

import sqlite3

from test_pty_receive import BenchTerminal

from dockstation.store import DB_NAME, Store


def test_a_database_from_a_newer_release_ends_run_with_exit_1_and_its_reason(home):
    Store.in_home(home).close()
    conn = sqlite3.connect(home / DB_NAME)
    conn.execute("PRAGMA user_version=99")
    conn.close()
    term = BenchTerminal(home)
    try:
        assert term.wait_exit() == 1
        text = term.text()
        assert f"dockstation: cannot open the bench database in {home}" in text
        assert "schema v99 is newer than this release" in text
    finally:
        term.close()
