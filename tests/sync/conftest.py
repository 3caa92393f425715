"""Fixtures for the sync tests: an HQ database (SQLite file, or PostgreSQL in a schema of its own),
a real uvicorn HQ on loopback, a fault proxy, and benches that sync to it.

HQ tests are parametrised over both databases. PostgreSQL is the server of the test machines
(127.0.0.1:5432, trust auth, database `test`; `.ci/run` exports DOCKSTATION_TEST_PG_URL); where it
does not answer, those tests skip and say why.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from dockstation.store import Store
from sync.hq.app import create_app
from sync.hq.db import HQDatabase, add_station
from netfaults import FaultProxy, HQServer
from sync_support import BenchSide

OPERATORS = '[[operators]]\nbadge = "1001"\nname = "Casey Clerk"\nrole = "clerk"\n'
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
_pg_problem: list[str] = []  # checked once per run


def pg_base_url() -> str:
    return os.environ.get("DOCKSTATION_TEST_PG_URL", PG_DEFAULT)


def _pg_conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def pg_unavailable() -> str | None:
    if not _pg_problem:
        import psycopg

        try:
            psycopg.connect(_pg_conninfo(pg_base_url()), connect_timeout=3).close()
            _pg_problem.append("")
        except Exception as exc:  # noqa: BLE001 - any failure means "skip with the reason"
            _pg_problem.append(f"PostgreSQL not reachable at {make_url(pg_base_url()).render_as_string()} "
                               f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); "
                               "set DOCKSTATION_TEST_PG_URL or start the server")
    return _pg_problem[0] or None


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    reason = pg_unavailable()
    if reason:
        pytest.skip(reason)
    import psycopg

    schema = f"ds_sync_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_pg_conninfo(pg_base_url()), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield make_url(pg_base_url()).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False)
    finally:
        with psycopg.connect(_pg_conninfo(pg_base_url()), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hq.sqlite3'}"
    return request.getfixturevalue("pg_schema_url")


@pytest.fixture
def hq_db(db_url: str) -> Iterator[HQDatabase]:
    db = HQDatabase(db_url)
    yield db
    db.dispose()


@pytest.fixture
def hq(hq_db: HQDatabase) -> Iterator[HQServer]:
    server = HQServer(create_app(hq_db)).start()
    yield server
    server.stop()


@pytest.fixture
def proxy(hq: HQServer) -> Iterator[FaultProxy]:
    p = FaultProxy(hq.port)
    yield p
    p.close()


@pytest.fixture
def make_bench(tmp_path: Path, hq_db: HQDatabase) -> Iterator[Any]:
    made: list[BenchSide] = []

    def make(station_id: str = "B07", url: str | None = None, token: str | None = None,
             register: bool = True) -> BenchSide:
        home = tmp_path / f"bench-{station_id}-{len(made)}"
        (home / "config").mkdir(parents=True)
        (home / "config" / "station.toml").write_text(f'station_id = "{station_id}"\n')
        (home / "config" / "operators.toml").write_text(OPERATORS)
        if register and token is None:
            token = add_station(hq_db, station_id, site="SITE1")
        bench = BenchSide(home, Store.in_home(home), station_id)
        if url is not None:
            bench.set_hq(url, token or "")
        bench.token = token  # type: ignore[attr-defined]
        made.append(bench)
        return bench

    yield make
    for b in made:
        b.store.close()
