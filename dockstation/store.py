"""The bench's SQLite store: one file in $DOCKSTATION_HOME, WAL, synchronous=FULL.

pysqlite's own transaction handling defeats SAVEPOINT and BEGIN IMMEDIATE (FIELD-NOTES), so we
turn it off (`isolation_level=None`) and emit BEGIN ourselves: `BEGIN IMMEDIATE` for the writer
engine (a writer takes the lock up front and never fails half-way with SQLITE_BUSY on upgrade),
plain `BEGIN` for readers. Every connection gets the pragmas; `foreign_keys` is per connection.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Engine, Index, String, Table, Text, create_engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import QueuePool
from sqlmodel import Session, SQLModel

from dockstation import models  # noqa: F401  (registers the tables)
from dockstation.models import AgeFiring, ApprovalRequest, Event, Unit
from dockstation.rows import OwnConnection, Tx, transaction
from dockstation.store_failures import explain

DB_NAME = "dockstation.sqlite3"
BUSY_TIMEOUT_MS = 5000


class StoreError(Exception):
    pass


# Schema migrations. A fresh database is created from the models at LATEST; an older one is
# brought forward one step at a time, each step in its own transaction, so a newer release opens
# an older bench database without losing a row. Append steps; never edit a released one.
Migration = Callable[[Any], None]


def _v2_exception_value(conn: Any) -> None:
    # v2: value at stake on exceptions (margin-leakage KPI) and the unit's matched LPN.
    cols = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(scan_exception)")}
    if "value" not in cols:
        conn.exec_driver_sql("ALTER TABLE scan_exception ADD COLUMN value VARCHAR(40)")
    if "lpn" not in cols:
        conn.exec_driver_sql("ALTER TABLE scan_exception ADD COLUMN lpn VARCHAR")


def _v3_queue_indexes(conn: Any) -> None:
    # v3: indexes for triage's flag-history counts and the lead screen's queue (see models.py).
    # ix_unit_queue (state, lane, …) serves what ix_unit_state_lane did.
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_unit_state_lane")
    conn.exec_driver_sql(
        "CREATE INDEX IF NOT EXISTS ix_unit_flagged_sku ON unit (sku) WHERE risk_flags != '[]'")
    conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_rma_order_id ON rma (order_id)")
    conn.exec_driver_sql(
        "CREATE INDEX IF NOT EXISTS ix_unit_queue ON unit (state, lane, received_at, sla_due_at)")
    conn.exec_driver_sql(
        "CREATE INDEX IF NOT EXISTS ix_unit_open_due ON unit (sla_due_at, received_at) "
        "WHERE state NOT IN ('disposed', 'voided')")


# v4: the lead screen's refresh with 100k open units (issue 8, dockstation/kpis/bench.py).
# - ix_unit_open_lane_due: open units by lane and due time, so SLA breaches are counted as the
#   lane's open units minus those in time, a range as small as the recent intake;
# - ix_event_kind_at_op: operators' actions today, index-only (ix_event_kind_at lacks operator);
# - ix_event_disposal: real dispositions (not holds in quarantine) by unit, so "is there an
#   earlier one?" is one index probe. Its WHERE is the lead query's term, character for character
#   (the planner uses a partial index only when the query's WHERE contains its terms).
# A new database gets them from the metadata, like the models' own indexes.
_V4_INDEXES = [
    Index("ix_unit_open_lane_due", Unit.__table__.c.lane, Unit.__table__.c.sla_due_at,  # type: ignore[attr-defined]
          Unit.__table__.c.received_at,  # type: ignore[attr-defined]
          sqlite_where=text("state NOT IN ('disposed', 'voided')")),
    Index("ix_event_kind_at_op", Event.__table__.c.kind, Event.__table__.c.at,  # type: ignore[attr-defined]
          Event.__table__.c.operator),  # type: ignore[attr-defined]
    Index("ix_event_disposal", Event.__table__.c.lpn, Event.__table__.c.at,  # type: ignore[attr-defined]
          Event.__table__.c.seq,  # type: ignore[attr-defined]
          sqlite_where=text("kind = 'unit_disposed' AND instr(payload, '\"path\":\"quarantine\"') = 0")),
]


def _v4_lead_indexes(conn: Any) -> None:
    for index in _V4_INDEXES:
        index.create(conn, checkfirst=True)


def _v5_inspection_all_pass(conn: Any) -> None:
    # v5: an inspection remembers CMD:ALLPASS (issue 13), so the scan that answers the last value
    # it waits for grades the unit, after a restart too.
    cols = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(inspection)")}
    if "all_pass" not in cols:
        conn.exec_driver_sql("ALTER TABLE inspection ADD COLUMN all_pass BOOLEAN NOT NULL DEFAULT 0")


def _v6_print_job_label(conn: Any) -> None:
    # v6: which label a print job prints (the receipt label came with issue 13); every job
    # before it printed the disposition label. (The approval_request table: create_all.)
    cols = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(print_job)")}
    if "label" not in cols:
        conn.exec_driver_sql("ALTER TABLE print_job ADD COLUMN label VARCHAR NOT NULL DEFAULT 'disposition'")


# Search (issue 16, dockstation/search.py): customer names through an FTS5 index that follows the
# rma table by triggers (external content: the names are stored once), e-mail addresses through a
# case-insensitive index. Made for a new database too (create_all knows no virtual tables).
SEARCH_DDL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS rma_fts USING fts5(customer_name, content='rma', "
    "content_rowid='rowid', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS rma_fts_ai AFTER INSERT ON rma WHEN new.customer_name IS NOT NULL "
    "BEGIN INSERT INTO rma_fts (rowid, customer_name) VALUES (new.rowid, new.customer_name); END",
    "CREATE TRIGGER IF NOT EXISTS rma_fts_ad AFTER DELETE ON rma WHEN old.customer_name IS NOT NULL "
    "BEGIN INSERT INTO rma_fts (rma_fts, rowid, customer_name) VALUES ('delete', old.rowid, old.customer_name); END",
    "CREATE TRIGGER IF NOT EXISTS rma_fts_au AFTER UPDATE OF customer_name ON rma "
    "WHEN old.customer_name IS NOT new.customer_name BEGIN "
    "INSERT INTO rma_fts (rma_fts, rowid, customer_name) SELECT 'delete', old.rowid, old.customer_name "
    "WHERE old.customer_name IS NOT NULL; "
    "INSERT INTO rma_fts (rowid, customer_name) SELECT new.rowid, new.customer_name "
    "WHERE new.customer_name IS NOT NULL; END",
    "CREATE INDEX IF NOT EXISTS ix_rma_customer_email ON rma (customer_email COLLATE NOCASE)",
)


def _search_schema(conn: Any) -> None:
    for ddl in SEARCH_DDL:
        conn.exec_driver_sql(ddl)


_FTS_INSERT_TRIGGER = SEARCH_DDL[1]


@contextmanager
def names_indexed_in_bulk(conn: sqlite3.Connection) -> Iterator[None]:
    """Inside a write transaction on `conn` (raw sqlite3) that inserts many RMAs: their names go
    into `rma_fts` in one INSERT … SELECT at the end instead of one trigger run per row (a
    manifest import, a pull; 20-30% of a 100k-RMA import with names, bench/README.md).

    The insert trigger is dropped and made again inside the caller's transaction (SQLite's DDL
    is transactional): other connections never see the table without it, and a rollback brings
    it back. Updates keep their trigger (rma_fts_au: the old name must leave the index); a row
    this block inserts is never updated by the same import (its conflict trigger skips it)."""
    before = conn.execute("SELECT coalesce(max(rowid), 0) FROM rma").fetchone()[0]
    conn.execute("DROP TRIGGER IF EXISTS rma_fts_ai")
    yield
    conn.execute("INSERT INTO rma_fts (rowid, customer_name) SELECT rowid, customer_name FROM rma "
                 "WHERE rowid > ? AND customer_name IS NOT NULL", (before,))
    conn.execute(_FTS_INSERT_TRIGGER)


def _v9_parcels_and_search(conn: Any) -> None:
    # v9 (issue 16): the customer columns and their search indexes, SKU search, tracking numbers
    # in the carriers' normal form (scans are matched on it), and units with no RMA (holds).
    cols = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(rma)")}
    for name in ("customer_name", "customer_email"):
        if name not in cols:
            conn.exec_driver_sql(f"ALTER TABLE rma ADD COLUMN {name} VARCHAR")
    conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_rma_line_sku ON rma_line (sku)")
    _search_schema(conn)
    conn.exec_driver_sql("INSERT INTO rma_fts (rma_fts) VALUES ('rebuild')")
    from dockstation.carriers import tracking_key

    raw = conn.connection.driver_connection
    raw.create_function("ds_tracking_key", 1, tracking_key, deterministic=True)
    conn.exec_driver_sql("UPDATE rma_line SET tracking_number = ds_tracking_key(tracking_number) "
                         "WHERE tracking_number IS NOT NULL AND tracking_number != ds_tracking_key(tracking_number)")
    _unit_rma_nullable(conn)


def _unit_rma_nullable(conn: Any) -> None:
    """unit.rma_id loses its NOT NULL (a held unit has no RMA). SQLite cannot ALTER a column; its
    documented way to drop a NOT NULL, which changes nothing on disk, is to edit the table's SQL
    in the schema (sqlite.org/lang_altertable.html, "other kinds of table schema changes"): no
    copy of a big unit table, the foreign keys that point at it untouched."""
    row = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'unit'").first()
    if row is None or "rma_id VARCHAR NOT NULL" not in row[0]:
        return
    version = int(conn.exec_driver_sql("PRAGMA schema_version").scalar_one())
    conn.exec_driver_sql("PRAGMA writable_schema = ON")
    try:
        conn.exec_driver_sql("UPDATE sqlite_master SET sql = replace(sql, 'rma_id VARCHAR NOT NULL', 'rma_id VARCHAR') "
                             "WHERE type = 'table' AND name = 'unit'")
        conn.exec_driver_sql(f"PRAGMA schema_version = {version + 1}")
    finally:
        conn.exec_driver_sql("PRAGMA writable_schema = OFF")
    problems = conn.exec_driver_sql("PRAGMA integrity_check").scalar_one()
    if problems != "ok":
        raise RuntimeError(f"store migration v9: integrity check after the unit table's change: {problems}")


def _v12_age_triggers(conn: Any) -> None:
    # v12 (issue 20): the path an age trigger re-routed a unit to; the age_firing table (one row
    # per unit and trigger: create_all) and the index the trigger pass reads open units by.
    cols = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(unit)")}
    for name in ("age_path", "age_trigger"):
        if name not in cols:
            conn.exec_driver_sql(f"ALTER TABLE unit ADD COLUMN {name} VARCHAR")
    for index in _V12_INDEXES:
        index.create(conn, checkfirst=True)
    # A database that was at v11 before containers (v10, numbered earlier, merged later) skipped
    # step 10: its idempotent indexes now (its tables come from create_all after this step).
    for step in LATE_STEPS:
        MIGRATIONS[step](conn)


# The trigger pass (policy/triggers.py) finds units that waited too long in a state by the time
# their wait began: (state, received_at) and (state, inspected_at), over open units only, with the
# LPN, so the units a trigger already fired for are skipped from the index alone (the table row
# is read only for a unit still to be decided: SQLite defers the row's seek).
# v13: the same indexes carry the category and the lane too (a trigger's usual filter is tested
# on the index entry, so a unit that does not match costs no row read either), and the changed
# units' index the LPN and state (the pass reads "changed since" once, from the index alone). A database
# that went through v12 before gets them in step 13 (dropped and made again).
_V12_INDEXES = [
    Index("ix_unit_open_received", Unit.__table__.c.state, Unit.__table__.c.received_at,  # type: ignore[attr-defined]
          Unit.__table__.c.lpn, Unit.__table__.c.category, Unit.__table__.c.lane,  # type: ignore[attr-defined]
          sqlite_where=text("state NOT IN ('disposed', 'voided')")),
    Index("ix_unit_open_inspected", Unit.__table__.c.state, Unit.__table__.c.inspected_at,  # type: ignore[attr-defined]
          Unit.__table__.c.lpn, Unit.__table__.c.category, Unit.__table__.c.lane,  # type: ignore[attr-defined]
          sqlite_where=text("state NOT IN ('disposed', 'voided')")),
    # and the open units changed since the last pass (a lane moved, a hold matched)
    Index("ix_unit_open_updated", Unit.__table__.c.updated_at, Unit.__table__.c.lpn,  # type: ignore[attr-defined]
          Unit.__table__.c.state, sqlite_where=text("state NOT IN ('disposed', 'voided')")),
    # and the lead's approval queue by how long each unit has waited
    Index("ix_approval_request_open", ApprovalRequest.__table__.c.state,  # type: ignore[attr-defined]
          ApprovalRequest.__table__.c.requested_at),  # type: ignore[attr-defined]
]


def _v13_trigger_indexes(conn: Any) -> None:
    # v13 (issue 20): the trigger pass's indexes with more columns (see _V12_INDEXES).
    for index in _V12_INDEXES[:3]:
        cols = [row[2] for row in conn.exec_driver_sql(f"PRAGMA index_info({index.name})")]
        if cols != [c.name for c in index.columns]:
            conn.exec_driver_sql(f"DROP INDEX IF EXISTS {index.name}")
            index.create(conn)


# v14 (issue 20): each trigger's cursor (policy/trigger_due.py: a restart resumes from it, no
# whole read; not a model, create_all makes it from the metadata), and the partial indexes through
# which a pass looks at the deferred firings (an index merge, not a unit row per firing: 60 ms a
# pass at 12k deferred in bench_triggers.py). Their WHERE is the pass's, character for character.
TRIGGER_CURSOR = Table("trigger_cursor", SQLModel.metadata, Column("trigger_id", String, primary_key=True),
                       Column("cursor", Text, nullable=False))
_F, _U = AgeFiring.__table__.c, Unit.__table__.c  # type: ignore[attr-defined]
_V14_INDEXES = [Index("ix_age_firing_deferred", _F.lpn, _F.trigger_id, _F.due_at, _F.waited_hours,
                      sqlite_where=text("status = 'deferred'")),
                Index("ix_unit_inspecting", _U.lpn, sqlite_where=text("state = 'inspecting'")),
                # and which changes of a unit a firing made (after a restart: policy/trigger_due.py);
                # an escalation changes no unit row: left out (half the first pass's firings)
                Index("ix_age_firing_stamp", _F.lpn, _F.fired_at, _F.action,
                      sqlite_where=text("action IN ('lane', 'reroute')"))]


def _v14_trigger_cursors(conn: Any) -> None:
    TRIGGER_CURSOR.create(conn, checkfirst=True)
    for index in _V14_INDEXES:
        index.create(conn, checkfirst=True)


# v10 (issue 15): the container tables (create_all), and disposed units by disposition time for
# "which wait to be sorted" (dockstation/containers/queries.py): a partial index over disposed
# and quarantined units only.
_V10_INDEXES = [
    Index("ix_unit_disposed_at", Unit.__table__.c.disposed_at,  # type: ignore[attr-defined]
          sqlite_where=text("state IN ('disposed', 'quarantined')")),
]


def _v10_containers(conn: Any) -> None:
    for index in _V10_INDEXES:
        index.create(conn, checkfirst=True)


MIGRATIONS: dict[int, Migration] = {2: _v2_exception_value, 3: _v3_queue_indexes, 4: _v4_lead_indexes,
                                    5: _v5_inspection_all_pass, 6: _v6_print_job_label,
                                    9: _v9_parcels_and_search, 10: _v10_containers,
                                    12: _v12_age_triggers, 13: _v13_trigger_indexes,
                                    14: _v14_trigger_cursors}
# Steps numbered below a release already out (run again, idempotent, on a database at LATEST that
# lacks their tables: see _migrate).
LATE_STEPS = (10,)
# Versions with no step of their own (a release that only added tables, which create_all makes):
# the database still moves up to them. Bump LATEST when a release changes the schema.
LATEST = 4
LATEST = max(LATEST, 5)  # v5: inspection.all_pass
LATEST = max(LATEST, 6)
LATEST = max(LATEST, 11)  # v11: the photo and photo_waiver tables (issue 18); create_all makes them
LATEST = max(LATEST, 9)  # v9: parcels, holds, search (issue 16)
LATEST = max(LATEST, 10)  # v10: the container and container_unit tables (issue 15); create_all makes them
LATEST = max(LATEST, 12)  # v12: age triggers (issue 20): unit.age_path/age_trigger, age_firing
LATEST = max(LATEST, 13)  # v13: the trigger pass's indexes carry category, lane; "changed" the LPN
LATEST = max(LATEST, 14)  # v14: trigger cursors kept in the store; the deferred firings' indexes


def _missing_tables(conn: Any) -> bool:
    """One query: does the database lack a table of the models?"""
    names = {row[0] for row in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return not set(SQLModel.metadata.tables) <= names


def _configure(engine: Engine, begin: str) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL: the WAL is synced on every commit, so an acknowledged scan survives a power cut.
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)


class Store:
    """Open (creating or migrating) the bench database at `path`."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # A thread whose `plain_conn.own` is set (an `own_connection`) makes its plain writes on it,
        # not through the pool: the event loop's inline store calls (tui/inline_store.py).
        self.plain_conn = threading.local()
        self._own: list[OwnConnection] = []
        url = f"sqlite:///{self.path}"
        kw: dict[str, Any] = {
            "connect_args": {"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
            "poolclass": QueuePool,
            "pool_size": 4,
            "max_overflow": 4,
            # Errors (shown, logged) name the statement but never its values: customer data.
            "hide_parameters": True,
        }
        self.engine = create_engine(url, **kw)
        _configure(self.engine, "BEGIN IMMEDIATE")
        self.read_engine = create_engine(url, **kw)
        _configure(self.read_engine, "BEGIN")
        try:
            self._migrate()
            self._restore_bulk_indexes()
        except DBAPIError as exc:  # a full disk, a read-only home, a damaged file: say which
            self.close()
            failure = explain(exc)
            raise StoreError(f"{self.path}: {failure.summary if failure else exc}") from exc

    @classmethod
    def in_home(cls, home: Path) -> Store:
        return cls(Path(home) / DB_NAME)

    # -- schema ---------------------------------------------------------------------------
    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.exec_driver_sql("PRAGMA user_version").scalar_one())

    def _migrate(self) -> None:
        with self.engine.begin() as conn:
            version = int(conn.exec_driver_sql("PRAGMA user_version").scalar_one())
            if version > LATEST:
                raise StoreError(
                    f"{self.path}: database schema v{version} is newer than this release "
                    f"(v{LATEST}); install the newer Dockstation, or use another home"
                )
            has_tables = conn.exec_driver_sql(
                "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='event'"
            ).scalar_one()
            if not has_tables:
                SQLModel.metadata.create_all(conn)
                _search_schema(conn)
                conn.exec_driver_sql(f"PRAGMA user_version={LATEST}")
                return
            if version == 0:
                version = 1  # databases from before versioning were v1
            if version == LATEST and _missing_tables(conn):
                # Numbers are handed out ahead of merges, so a release's number may be below one
                # already in use (v10 came after v11): a database at LATEST may still lack the
                # tables of a lower step. create_all makes only what is missing; the late steps
                # (idempotent) add their indexes on older tables.
                SQLModel.metadata.create_all(conn)
                for step in LATE_STEPS:
                    MIGRATIONS[step](conn)
        for step in range(version + 1, LATEST + 1):
            with self.engine.begin() as conn:
                if step in MIGRATIONS:
                    MIGRATIONS[step](conn)
                # Tables added by later releases: create_all only creates what is missing.
                SQLModel.metadata.create_all(conn)
                conn.exec_driver_sql(f"PRAGMA user_version={step}")

    def _restore_bulk_indexes(self) -> None:
        """Indexes a manifest import left out when it died mid-way (dockstation/manifest_bulk.py)."""
        from dockstation.manifest_bulk import restore_abandoned

        with self.engine.connect() as conn:
            restore_abandoned(self.path, conn.connection.dbapi_connection)  # type: ignore[arg-type]

    # -- sessions -------------------------------------------------------------------------
    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction (BEGIN IMMEDIATE): commits on exit, rolls back on error."""
        with Session(self.engine, expire_on_commit=False) as session:
            with session.begin():
                yield session

    def plain_write(self) -> AbstractContextManager[Tx]:
        """`write` without a Session, for a use case that sends its own SQL through `rows` (the
        parcel scan, receiving/core.py): BEGIN IMMEDIATE, commit on exit, rollback on error. On the
        thread's own connection while one is set (`plain_conn.own`), else on a pooled one."""
        return transaction(getattr(self.plain_conn, "own", None) or self.engine, "BEGIN IMMEDIATE")

    @contextmanager
    def read(self) -> Iterator[Session]:
        with Session(self.read_engine, expire_on_commit=False) as session:
            with session.begin():
                yield session

    def checkpoint(self) -> None:
        """Long readers can starve auto-checkpointing; the TUI calls this now and then."""
        with self.engine.connect() as conn:
            # On the DBAPI connection: through SQLAlchemy it would run inside the BEGIN IMMEDIATE
            # the engine emits, where SQLite refuses a checkpoint ("database table is locked").
            conn.connection.dbapi_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]

    def raw_connection(self) -> sqlite3.Connection:
        """A plain sqlite3 connection with the same pragmas, for bulk loads (manifest import)."""
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    def own_connection(self, busy_ms: int) -> OwnConnection:
        """A write connection kept out of the pool, with its own busy timeout (rows.OwnConnection),
        for one thread's plain writes while it is that thread's `plain_conn.own`; closed with the
        store."""
        own = OwnConnection(self.engine, busy_ms)
        self._own.append(own)
        return own

    def close(self) -> None:
        for own in self._own:
            own.close()
        self.engine.dispose()
        self.read_engine.dispose()


def sql(statement: str) -> Any:
    return text(statement)
