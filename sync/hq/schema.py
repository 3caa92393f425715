"""HQ's schema, versioned with alembic (sync/hq/migrations; docs/hq.md, "Migrations").

- An empty database is created at the newest revision (the tables of `hq_metadata`, then the
  version row), so a first `hq add-station` or `hq serve` on a new database just works.
- A database at an older revision, or from before versioning (tables but no version table), is
  out of date: only `dockstation hq migrate` (or `hq serve --migrate`) upgrades it; anything else
  refuses it with a one-line reason, so no worker ever runs on a schema it does not know.
- A database at a revision this release does not know (a newer release migrated it) is refused.

Every check and upgrade runs in one transaction that holds the schema lock (PostgreSQL advisory
lock; SQLite's BEGIN IMMEDIATE), so workers starting together, or a migration racing a start,
take turns. The revision row lives in `hq_schema_version`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, MetaData, inspect

if TYPE_CHECKING:
    from sync.hq.db import HQDatabase

log = logging.getLogger("dockstation.hq")
VERSION_TABLE = "hq_schema_version"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MIGRATE = "dockstation hq migrate"


class SchemaError(Exception):
    """The database's schema is not the one this release runs on (the message says what to do)."""


class SchemaOutOfDate(SchemaError):
    pass


class SchemaTooNew(SchemaError):
    pass


@dataclass(frozen=True)
class SchemaState:
    current: str | None  # the revision in the version table; None: no version table
    head: str
    has_tables: bool  # any hq_* table (a database from before versioning has tables, no version)

    @property
    def empty(self) -> bool:
        return self.current is None and not self.has_tables

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    def describe(self) -> str:
        if self.empty:
            return "empty"
        return f"revision {self.current}" if self.current else "from before versioned migrations"


def all_metadata() -> MetaData:
    """Every HQ table (the core tables and the console's share one registry)."""
    import sync.hq.console.models  # noqa: F401  (registers the console's tables)
    import sync.hq.refunds.models  # noqa: F401  (the refund feed and its webhooks)
    from sync.hq.db import hq_metadata

    return hq_metadata


def _config(connection: Connection | None = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


@cache
def head() -> str:
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(_config()).get_heads()
    if len(heads) != 1:  # two revisions naming the same parent: someone must merge them
        raise SchemaError(f"HQ's migrations have {len(heads)} heads ({', '.join(sorted(heads))}): merge them")
    return str(heads[0])


def revisions() -> list[tuple[str, str]]:
    """(revision, first line of its description), oldest first."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(_config())
    return [(s.revision, (s.doc or "").splitlines()[0] if s.doc else "") for s in reversed(list(scripts.walk_revisions()))]


def state(conn: Connection) -> SchemaState:
    from alembic.runtime.migration import MigrationContext

    names = set(inspect(conn).get_table_names())
    current = None
    if VERSION_TABLE in names:
        current = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()
    return SchemaState(current, head(), any(n.startswith("hq_") and n != VERSION_TABLE for n in names))


def _known(revision: str) -> bool:
    return any(r == revision for r, _ in revisions())


def upgrade_locked(conn: Connection, target: str = "head") -> None:
    """Run the migrations up to `target` inside the caller's transaction (which holds the lock)."""
    from alembic import command

    command.upgrade(_config(conn), target)


def ensure(db: HQDatabase, *, migrate: bool = False) -> tuple[SchemaState, SchemaState]:
    """Check (and with `migrate`, upgrade) `db`'s schema; returns the state before and after.

    Raises SchemaOutOfDate / SchemaTooNew with the one line to show."""
    from sync.hq.db import LOCK_SCHEMA

    with db.engine.begin() as conn:
        db.advisory_lock(conn, LOCK_SCHEMA)
        before = state(conn)
        if before.up_to_date:
            return before, before
        if before.current is not None and not _known(before.current):
            raise SchemaTooNew(f"the HQ database {db.describe()} is at schema revision {before.current}, which this "
                               f"release does not know (a newer release migrated it): run that release, or restore "
                               f"a backup made before it")
        if before.empty:
            # A new database: the tables as the models define them, stamped at the newest revision
            # (what the migrations from nothing make too; tests/sync/test_hq_migrations.py).
            all_metadata().create_all(conn)
            _stamp(conn)
        elif migrate:
            log.info("HQ schema: %s -> %s", before.describe(), before.head)
            upgrade_locked(conn)
        else:
            raise SchemaOutOfDate(f"the HQ database {db.describe()} is {before.describe()}, this release needs "
                                  f"revision {before.head}: back it up, then run `{MIGRATE} --db URL` "
                                  f"(or `hq serve --migrate`)")
        after = state(conn)
    return before, after


def _stamp(conn: Connection) -> None:
    from alembic.runtime.migration import MigrationContext

    ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    ctx.stamp(_script_directory(), "head")


def _script_directory() -> Any:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config())
