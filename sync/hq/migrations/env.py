"""Alembic's environment for HQ's schema: run on a connection HQ hands over (sync/hq/schema.py).

HQ never runs alembic on its own engine from here: `schema.upgrade` opens the transaction, takes
the schema lock (two workers or two `hq migrate` at once on PostgreSQL), and passes the
connection in `config.attributes["connection"]`; every revision then runs in that one transaction,
so a migration that fails leaves the database as it was (PostgreSQL and SQLite both have
transactional DDL; HQ's SQLite engine emits its own BEGIN, docs FIELD-NOTES).
"""

from __future__ import annotations

from alembic import context

from sync.hq.schema import VERSION_TABLE, all_metadata

connection = context.config.attributes.get("connection")
if connection is None:  # `alembic` run by hand against this folder: say how HQ does it instead
    raise SystemExit("run HQ's migrations with `dockstation hq migrate --db URL` (docs/hq.md, Migrations)")

context.configure(
    connection=connection,
    target_metadata=all_metadata(),
    version_table=VERSION_TABLE,
    # SQLite alters a table by copying it (batch mode); PostgreSQL alters in place.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
