"""HQ's weekly report in SQL over `hq_event` gives the hand-computed answers, on SQLite and on
PostgreSQL, and the same figures as the reference fold on generated data."""

from __future__ import annotations

import os
import random
import uuid
from datetime import timedelta

import pytest
from kpi_data import D, E, SITES, W, build
from sqlalchemy import create_engine, text
from test_kpi_math import check

from dockstation.kpis.render import report_dict
from dockstation.kpis.report import EventRow, weekly_report
from dockstation.kpis.sql_report import sql_weekly_report
from dockstation.types import utcnow
from sync.hq.db import HQDatabase, HqEvent, HqStation, hq_metadata

PG_URL = os.environ.get("DOCKSTATION_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def insert(conn, rows: list[EventRow]) -> None:
    now = utcnow()
    conn.execute(HqEvent.__table__.insert(), [
        dict(station_id=r.station_id, seq=r.seq, kind=r.kind, at=r.at, operator="op", lpn=r.lpn, rma_id=None,
             payload=dict(r.payload), received_at=now) for r in rows])
    conn.execute(HqStation.__table__.insert(), [
        dict(station_id=s, token_hash=uuid.uuid4().hex, site=site, created_at=now, revoked=False, acked_seq=0)
        for s, site in SITES.items()])


@pytest.fixture
def sqlite_conn(tmp_path):
    db = HQDatabase(f"sqlite:///{tmp_path / 'hq.sqlite3'}")
    yield db
    db.dispose()


@pytest.fixture
def pg_engine():
    """A private schema in the shared `test` database, dropped afterwards (others use it too)."""
    try:
        admin = create_engine(PG_URL)
        with admin.connect() as c:
            c.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any reason to be unreachable is a skip reason
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    schema = f"kpi_test_{uuid.uuid4().hex[:10]}"
    with admin.begin() as c:
        c.execute(text(f"CREATE SCHEMA {schema}"))
    engine = create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    with engine.begin() as c:
        hq_metadata.create_all(c)
    yield engine
    engine.dispose()
    with admin.begin() as c:
        c.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def test_sqlite_weekly_report_matches_the_hand_built_answers(sqlite_conn):
    with sqlite_conn.write() as conn:
        insert(conn, build())
    with sqlite_conn.read() as conn:
        report = sql_weekly_report(conn, "2026-W10", sites=SITES)
    check(report)


@pytest.mark.postgres
def test_postgres_weekly_report_matches_the_hand_built_answers(pg_engine):
    with pg_engine.begin() as conn:
        insert(conn, build())
    with pg_engine.begin() as conn:
        report = sql_weekly_report(conn, "2026-W10", sites=SITES)
    check(report)


def generated(seed: int, n_units: int = 400) -> list[EventRow]:
    """Random units over three weeks around W10: receipts, grades, decisions, voids, exceptions."""
    rng = random.Random(seed)
    rows: list[EventRow] = []
    seqs = {"B07": 0, "B08": 0, "B09": 0}

    def ev(station, event_kind, at, lpn, /, **p):
        seqs[station] += 1
        rows.append(EventRow(station, seqs[station], event_kind, at, lpn, p))

    paths = ["restock", "open_box", "refurbish", "liquidate", "recycle", "vendor_return", "donate", "dispose",
             "quarantine", "quarantine"]
    flags = ["empty_box", "wrong_item", "serial_mismatch", "missing_accessories", "hygiene_seal_broken", "short_dated"]
    for i in range(n_units):
        station = rng.choice(list(seqs))
        lpn = f"{station}-{i:08d}"
        received = W - 120 * D + timedelta(minutes=rng.randint(0, 140 * 24 * 60))
        cat, price = rng.choice([("phones", "300"), ("apparel", "25.50"), ("home", "60")])
        ev(station, "unit_received", received, lpn, category=cat, unit_price=price,
           risk_flags=rng.sample(flags, rng.choice([0, 0, 0, 1])))
        t = received
        if rng.random() < 0.3:
            t += timedelta(minutes=rng.randint(5, 600))
            ev(station, "unit_graded", t, lpn, flags=rng.sample(flags, rng.choice([0, 0, 1, 2])))
        if rng.random() < 0.75:
            for k in range(rng.choice([1, 1, 1, 2, 3])):
                t += timedelta(minutes=rng.randint(1, 3000))
                kind = "policy" if k == 0 and rng.random() < 0.9 else rng.choice(["override", "redisposition"])
                # sometimes another bench makes the later decision
                where = station if rng.random() < 0.9 else rng.choice(list(seqs))
                ev(where, "unit_disposed", t, lpn, kind=kind, path=rng.choice(paths), category=cat, unit_price=price,
                   recovery_value=str(round(rng.uniform(0, float(price) * 1.1), 2)),
                   flags=rng.sample(flags, rng.choice([0, 0, 1])))
        elif rng.random() < 0.1:
            ev(station, "unit_voided", t + timedelta(days=rng.randint(0, 40)), lpn, reason="x")
    for j in range(60):
        station = rng.choice(list(seqs))
        at = W - 7 * D + timedelta(minutes=rng.randint(0, 21 * 24 * 60))
        ev(station, "exception_recorded", at, None, id=j, kind=rng.choice(["unknown_rma", "duplicate", "wrong_item"]),
           value=rng.choice([None, "10.25", "99"]))
        if rng.random() < 0.4:
            ev(station, "exception_resolved", at + D, None, id=j, action=rng.choice(["matched", "voided"]))
    return rows


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sql_and_fold_agree_on_generated_weeks(sqlite_conn, seed):
    rows = generated(seed)
    with sqlite_conn.write() as conn:
        insert(conn, rows)
    for week in ("2026-W09", "2026-W10", "2026-W11"):
        want = report_dict(weekly_report(rows, week, sites=SITES))
        with sqlite_conn.read() as conn:
            got = report_dict(sql_weekly_report(conn, week, sites=SITES))
        assert got == want, week
    # the data must exercise what is compared
    assert want["total"]["disposed"] > 10 and any(want["total"]["aging"].values())


@pytest.mark.postgres
def test_postgres_and_fold_agree_on_a_generated_week(pg_engine):
    rows = generated(5)
    with pg_engine.begin() as conn:
        insert(conn, rows)
    for week in ("2026-W09", "2026-W10"):
        want = report_dict(weekly_report(rows, week, sites=SITES))
        with pg_engine.begin() as conn:
            got = report_dict(sql_weekly_report(conn, week, sites=SITES))
        assert got == want, week


def test_as_of_limits_aging_to_what_had_happened(sqlite_conn):
    rows = build()
    with sqlite_conn.write() as conn:
        insert(conn, rows)
    with sqlite_conn.read() as conn:
        mid = sql_weekly_report(conn, "2026-W10", sites=SITES, as_of=W + 3 * D)
    assert mid.total.aging == weekly_report(rows, "2026-W10", as_of=W + 3 * D).total.aging
    assert mid.as_of == W + 3 * D and mid.end == E


@pytest.mark.parametrize("sites", [{"B07": "NORTH", "B08": "SOUTH", "B09": "SOUTH"},
                                   {"B07": "NORTH", "B08": "NORTH", "B09": "NORTH"}])
def test_site_groups_are_computed_from_their_units_and_sql_agrees(sqlite_conn, sites):
    """HQ's report also groups by site (issue 17): the same figures from the fold and from SQL; one
    site holding every station has exactly the total's figures (percentiles from the units, not
    from the stations' percentiles); a site of one station has that station's."""
    rows = generated(4)
    with sqlite_conn.write() as conn:
        insert(conn, rows)
    want = report_dict(weekly_report(rows, "2026-W10", sites=sites, by_site=True))
    with sqlite_conn.read() as conn:
        got = report_dict(sql_weekly_report(conn, "2026-W10", sites=sites, by_site=True))
    assert got == want
    by_site = {g["site"]: g for g in want["sites"]}
    assert sorted(by_site) == sorted(set(sites.values()))
    plain = {k: v for k, v in want["total"].items() if k not in ("site", "station_id")}
    if len(by_site) == 1:
        assert {k: v for k, v in by_site["NORTH"].items() if k not in ("site", "station_id")} == plain
    else:
        assert by_site["SOUTH"]["disposed"] > 0 and by_site["SOUTH"]["cycle_time_hours"]["p90"] is not None
        station = next(g for g in want["stations"] if g["station_id"] == "B07")
        assert {k: v for k, v in by_site["NORTH"].items() if k != "station_id"} == \
            {k: v for k, v in station.items() if k != "station_id"}
    assert "sites" not in report_dict(weekly_report(rows, "2026-W10", sites=sites))  # the bench's: unchanged
