"""How a big manifest import keeps SQLite's own work down: the lookup indexes of `rma` and
`rma_line` built once at the end (DEFERRED), and the WAL checkpointed beside the writer
(Checkpointer).

At 1M RMAs, inserting each row into the secondary indexes (tracking number, GTIN, SKU, order id,
e-mail: random keys, B-trees far bigger than the page cache) is most of an import's time; SQLite
builds the same index from a finished table by sorting, several times faster (bench/README.md:
the writer's CPU time 42 s → 19 s, the index build included). So an import that brings many more
rows than the tables hold (`worth_deferring`) drops them in a transaction of their own, writes
its batches, and makes them again (`build`) before its last transaction. The keys (the tables'
primary keys) stay, so every constraint holds throughout; other connections meanwhile find rows
by a scan of the table (correct, slower) — only while a big first import runs.

Durability: the batches commit as before. An import that dies between the drop and the build
(kill -9, a power cut) leaves its committed rows without those indexes: the next `Store` open
(`restore_abandoned`) makes them again. An import in progress is told from an abandoned one by a
lock on a file beside the database (`flock`: the kernel releases it when the process dies).
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
from pathlib import Path
from typing import IO

try:
    import fcntl
except ImportError:  # no flock (Windows): imports never defer, nothing is ever abandoned
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("dockstation.manifest")

# The secondary indexes of the two manifest tables, as the store makes them (dockstation/store.py,
# models.py; tests/test_manifest_indexes.py checks this list against a new database). Built in
# this order: what a scan looks up first. An index not named here is never dropped.
DEFERRED = {
    "ix_rma_line_tracking": "CREATE INDEX ix_rma_line_tracking ON rma_line (tracking_number)",
    "ix_rma_line_gtin": "CREATE INDEX ix_rma_line_gtin ON rma_line (gtin)",
    "ix_rma_order_id": "CREATE INDEX ix_rma_order_id ON rma (order_id)",
    "ix_rma_line_sku": "CREATE INDEX ix_rma_line_sku ON rma_line (sku)",
    "ix_rma_customer_email": "CREATE INDEX ix_rma_customer_email ON rma (customer_email COLLATE NOCASE)",
}
# Below this many rows the indexes fit the page cache and incremental inserts cost little; a
# file's rows are estimated from its size (≈ 200 bytes a row in real and generated manifests).
DEFER_MIN_ROWS = 100_000
BYTES_PER_ROW = 200
LOCK_SUFFIX = "-bulk.lock"


def worth_deferring(file_bytes: int, rows_held: int) -> bool:
    """Building the indexes from scratch sorts every row, old and new: it pays when the file
    brings several times the rows the table holds (a first import, not a re-import)."""
    rows = file_bytes // BYTES_PER_ROW
    return rows >= DEFER_MIN_ROWS and rows >= 4 * rows_held


def _normal(sql: str) -> str:
    return re.sub(r"\s+", " ", sql.replace("IF NOT EXISTS ", "")).strip().lower()


class BulkLock:
    """Held while an import runs without the indexes (non-blocking: None if another holds it)."""

    def __init__(self, fh: IO[bytes]) -> None:
        self._fh = fh

    @classmethod
    def take(cls, db_path: Path) -> BulkLock | None:
        if fcntl is None:
            return None
        try:
            fh = open(str(db_path) + LOCK_SUFFIX, "ab")  # noqa: SIM115 — held until release()
        except OSError:
            return None
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            return None
        return cls(fh)

    def release(self) -> None:
        self._fh.close()  # closing the file releases the lock


def drop(conn: sqlite3.Connection) -> list[str]:
    """Drop the indexes of DEFERRED that exist as we know them, in one transaction; their names."""
    live = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND "
                             "tbl_name IN ('rma', 'rma_line') AND sql IS NOT NULL").fetchall())
    names = [n for n, sql in DEFERRED.items() if n in live and _normal(live[n]) == _normal(sql)]
    conn.execute("BEGIN IMMEDIATE")
    try:
        for name in names:
            conn.execute(f'DROP INDEX "{name}"')
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return names


def missing(conn: sqlite3.Connection) -> list[str]:
    have = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    return [n for n in DEFERRED if n not in have]


def build(conn: sqlite3.Connection, names: list[str] | None = None) -> list[str]:
    """Make the missing indexes of DEFERRED (or of `names`), each in a transaction of its own so
    the bench's scans wait for one index at most (≈ 2–4 s at 1M RMAs); the names built."""
    todo = [n for n in (names if names is not None else DEFERRED) if n in missing(conn)]
    for name in todo:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(DEFERRED[name].replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return todo


def restore_abandoned(db_path: Path, conn: sqlite3.Connection) -> list[str]:
    """At a store's opening: make the indexes an interrupted bulk import left out (none when an
    import is running: it makes them itself). Cheap when nothing is missing: one query."""
    if not missing(conn):
        return []
    lock = BulkLock.take(db_path)
    if lock is None:
        return []  # an import holds the lock (or locks are unavailable): it is that import's job
    try:
        built = build(conn)
    except sqlite3.Error as exc:  # read-only, full disk: the bench still works, by table scans
        log.warning("%s: indexes %s missing and not made: %s", os.fspath(db_path), ", ".join(missing(conn)), exc)
        return []
    finally:
        lock.release()
    if built:
        log.warning("%s: made the indexes an interrupted manifest import left out: %s",
                    os.fspath(db_path), ", ".join(built))
    return built


class Checkpointer:
    """Moves the import's WAL into the database from a thread of its own, while the next batch
    is written. Checkpointing a batch writes (and syncs) every page it touched, and at 1M RMAs
    a batch touches most pages of the tracking-number and order indexes: done at each commit on
    the writer's connection (SQLite's auto-checkpoint) it took 15 s of a 46 s import; here the
    disk works while the writer does (the sqlite3 module releases the GIL meanwhile).

    SQLite starts the WAL file over only when a write begins with every frame checkpointed,
    which never happens while the thread trails the writer: every RESET_EVERY batches the
    writer finishes the checkpoint itself (the last batch's pages), so the file stays bounded
    (a few hundred MB at most). Durability is unchanged: commits are what they were; a
    checkpoint only copies committed pages into the database."""

    RESET_EVERY = 6

    def __init__(self, path: Path) -> None:
        from dockstation.store import BUSY_TIMEOUT_MS

        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                     timeout=BUSY_TIMEOUT_MS / 1000)
        self._lock = threading.Lock()  # one checkpoint at a time on our connection
        self._due = threading.Event()
        self._stop = False
        self._batches = 0
        self._thread = threading.Thread(target=self._run, name="manifest-checkpoint", daemon=True)
        self._thread.start()

    def _checkpoint(self) -> None:
        with self._lock:
            try:
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error:  # busy or failing: the next one, or the final one, tries again
                log.debug("manifest import: checkpoint failed", exc_info=True)

    def _run(self) -> None:
        while True:
            self._due.wait()
            self._due.clear()
            if self._stop:
                return
            self._checkpoint()

    def committed(self) -> None:
        """After each commit of the writer (its thread)."""
        self._batches += 1
        if self._batches % self.RESET_EVERY == 0:
            self._checkpoint()  # waits for the thread's, then the rest: the next write starts the file over
        else:
            self._due.set()

    def close(self) -> None:
        self._stop = True
        self._due.set()
        self._thread.join()
        self._conn.close()
