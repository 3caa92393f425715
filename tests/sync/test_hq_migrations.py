"""HQ's versioned schema (issue 17): from the release before migrations to this one, on SQLite and
PostgreSQL, without losing a row; `hq serve` refuses an out-of-date schema with one line; the
migrations from nothing make exactly the models' schema."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, text

from dockstation.cli import main
from netfaults import free_port
from test_hq_logs import wait_up

from hq_release import expected_rows, make_release_db, read_rows
from sync.hq.db import HQDatabase, add_station
from sync.hq.schema import VERSION_TABLE, SchemaOutOfDate, SchemaTooNew, all_metadata, head, revisions, upgrade_locked

DOCKSTATION = str(Path(sys.executable).parent / "dockstation")


def schema_diff(url: str) -> list:
    """What differs between the database's schema and the models' (alembic autogenerate)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={
                "compare_type": True, "include_name": lambda name, kind, _p: not (kind == "table" and name == VERSION_TABLE)})
            return compare_metadata(ctx, all_metadata())
    finally:
        engine.dispose()


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_the_release_schema_is_refused_until_migrated_and_then_every_row_is_there(db_url):
    make_release_db(db_url)

    with pytest.raises(SchemaOutOfDate) as refused:
        HQDatabase(db_url)
    assert "dockstation hq migrate" in str(refused.value) and "\n" not in str(refused.value)
    code, out = run_cli("hq", "add-station", "B09", "--db", db_url)
    assert code == 1 and out.count("\n") == 1 and "hq migrate" in out
    code, out = run_cli("hq", "migrate", "--check", "--db", db_url)
    assert code == 1 and "from before versioned migrations" in out
    assert read_rows(db_url) == expected_rows()  # refusing changed nothing

    code, out = run_cli("hq", "migrate", "--db", db_url)
    assert code == 0, out
    assert f"from before versioned migrations -> revision {head()}" in out
    assert read_rows(db_url) == expected_rows()
    assert schema_diff(db_url) == []

    code, out = run_cli("hq", "migrate", "--db", db_url)
    assert code == 0 and "nothing to do" in out
    code, _ = run_cli("hq", "migrate", "--check", "--db", db_url)
    assert code == 0
    db = HQDatabase(db_url)  # opens now, and works on the rows it found
    try:
        with db.read() as conn:
            row = conn.execute(text("SELECT scopes FROM hq_reader WHERE name = 'analyst'")).one()
            assert row.scopes == ""
            assert conn.execute(text("SELECT clock_skew_s FROM hq_station WHERE station_id = 'B07'")).scalar() is None
        assert add_station(db, "B09")
        with db.write() as conn:  # the sequences went on from the rows that were there
            conn.execute(text("INSERT INTO hq_conflict (station_id, seq, received_at, event) "
                              "VALUES ('B07', 3, '2026-11-21 00:00:00', '{}')"))
            assert conn.execute(text("SELECT max(id) FROM hq_conflict")).scalar() == 2
    finally:
        db.dispose()


def test_hq_serve_refuses_an_out_of_date_schema_in_one_line_and_migrates_when_asked(db_url, tmp_path):
    make_release_db(db_url)
    run = subprocess.run([DOCKSTATION, "hq", "serve", "--db", db_url, "--port", str(free_port())],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert run.stderr.strip().count("\n") == 0 and "hq migrate" in run.stderr and "--migrate" in run.stderr
    assert read_rows(db_url) == expected_rows()

    port = free_port()
    proc = subprocess.Popen([DOCKSTATION, "hq", "serve", "--db", db_url, "--migrate", "--port", str(port)],
                            stdout=(tmp_path / "out").open("wb"), stderr=(tmp_path / "err").open("wb"))
    try:
        wait_up(f"http://127.0.0.1:{port}", proc)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert "HQ schema upgraded: from before versioned migrations" in (tmp_path / "out").read_text()
    assert schema_diff(db_url) == []
    assert read_rows(db_url) == expected_rows()


def test_an_older_release_without_line_change_ids_gets_them_filled(db_url):
    make_release_db(db_url)
    engine = create_engine(db_url)
    with engine.begin() as conn:  # as releases before the lines' change_id left it
        conn.exec_driver_sql("DROP INDEX ix_hq_rma_line_change_id")
        conn.exec_driver_sql("DROP INDEX ix_hq_conflict_station_seq")
        conn.exec_driver_sql("ALTER TABLE hq_rma_line DROP COLUMN change_id")
    engine.dispose()
    HQDatabase(db_url, migrate=True).dispose()
    assert schema_diff(db_url) == []
    engine = create_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM hq_rma_line WHERE change_id = 1")).scalar() == 2
    engine.dispose()


def test_the_migrations_from_nothing_make_the_models_schema(db_url):
    engine = create_engine(db_url)
    with engine.begin() as conn:
        upgrade_locked(conn)
    engine.dispose()
    assert schema_diff(db_url) == []
    db = HQDatabase(db_url)  # and HQ takes it as up to date
    assert db.schema_before.up_to_date
    db.dispose()


def test_a_new_database_is_created_at_the_newest_revision(db_url):
    db = HQDatabase(db_url)
    try:
        assert db.schema_before.empty and db.schema_after.current == head()
        with db.read() as conn:
            assert conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar() == head()
            names = {i["name"] for i in inspect(conn).get_indexes("hq_event")}
        assert "ix_hq_event_rma_received" in names
    finally:
        db.dispose()
    assert schema_diff(db_url) == []


def test_each_revision_downgrades_to_the_baseline_and_up_again_keeping_rows(db_url):
    from alembic import command

    from sync.hq.schema import _config

    make_release_db(db_url)
    HQDatabase(db_url, migrate=True).dispose()
    engine = create_engine(db_url)
    with engine.begin() as conn:
        command.downgrade(_config(conn), "0001_baseline")
    with engine.connect() as conn:
        assert "hq_console_session" not in inspect(conn).get_table_names()
    engine.dispose()
    assert read_rows(db_url) == expected_rows()
    HQDatabase(db_url, migrate=True).dispose()
    assert schema_diff(db_url) == [] and read_rows(db_url) == expected_rows()


def test_a_schema_from_a_newer_release_is_refused(db_url):
    HQDatabase(db_url).dispose()
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '0099_future'"))
    engine.dispose()
    with pytest.raises(SchemaTooNew, match="0099_future"):
        HQDatabase(db_url, migrate=True)


def test_one_head_and_revisions_in_order():
    names = [r for r, _ in revisions()]
    assert names[0] == "0001_baseline" and names[-1] == head()
    assert names == sorted(names)  # numbered in order: a new one takes the next number
