"""Issue 20 in the KPI stack: value decay counts as margin leakage by aging, and HQ's weekly
report counts age trigger firings by trigger id — the reference fold, SQLite and PostgreSQL agree
on a hand-built week."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from test_hq_report_sql import insert, pg_engine, sqlite_conn  # noqa: F401  (fixtures)

from dockstation.kpis.render import csv_rows, report_dict, to_table
from dockstation.kpis.report import EventRow, weekly_report
from dockstation.kpis.sql_report import sql_weekly_report

MON = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 2026-W10
WEEK = "2026-W10"


def events() -> list[EventRow]:
    rows: list[EventRow] = []
    seq = 0

    def ev(event_kind: str, at: datetime, lpn: str | None, **payload) -> None:
        nonlocal seq
        seq += 1
        rows.append(EventRow("B07", seq, event_kind, at, lpn, payload))

    # an apparel unit that waited five weeks: 20.00 of its estimate lost to decay
    ev("unit_received", MON - timedelta(days=35), "B07-00000001", category="apparel", unit_price="100.00", risk_flags=[])
    ev("age_trigger_fired", MON, "B07-00000001", trigger_id="apparel-30d", action="reroute")
    ev("unit_disposed", MON + timedelta(hours=2), "B07-00000001", kind="policy", path="liquidate",
       recovery_value="20.00", decay="20.00", category="apparel", unit_price="100.00", flags=[])
    # a phone disposed quickly: no decay
    ev("unit_received", MON, "B07-00000002", category="phones", unit_price="300.00", risk_flags=[])
    ev("unit_disposed", MON + timedelta(hours=1), "B07-00000002", kind="policy", path="restock",
       recovery_value="285.00", decay="0.00", category="phones", unit_price="300.00", flags=[])
    # a phone re-decided: the latest decision's decay counts, once
    ev("unit_received", MON - timedelta(days=20), "B07-00000003", category="phones", unit_price="200.00", risk_flags=[])
    ev("age_trigger_fired", MON + timedelta(hours=1), "B07-00000003", trigger_id="ungraded-3d", action="lane")
    ev("age_trigger_fired", MON + timedelta(hours=3), "B07-00000003", trigger_id="electronics-60d", action="escalate")
    ev("unit_disposed", MON + timedelta(hours=4), "B07-00000003", kind="policy", path="refurbish",
       recovery_value="90.00", decay="10.00", category="phones", unit_price="200.00", flags=[])
    ev("unit_disposed", MON + timedelta(days=1), "B07-00000003", kind="redisposition", path="liquidate",
       recovery_value="40.00", decay="5.50", category="phones", unit_price="200.00", flags=[])
    # an open unit that fired the same trigger; and one the week before (not counted)
    ev("unit_received", MON - timedelta(days=10), "B07-00000004", category="home", unit_price="50.00", risk_flags=[])
    ev("age_trigger_fired", MON + timedelta(hours=5), "B07-00000004", trigger_id="ungraded-3d", action="lane")
    ev("age_trigger_fired", MON - timedelta(days=2), "B07-00000004", trigger_id="graded-2d", action="escalate")
    return rows


def check(r) -> None:
    t = r.total
    aging = {(x.type, x.count, x.value) for x in t.leakage if x.source == "aging"}
    assert aging == {("apparel", 1, Decimal("20.00")), ("phones", 1, Decimal("5.50"))}
    assert t.triggers == {"apparel-30d": 1, "electronics-60d": 1, "ungraded-3d": 2}
    assert report_dict(r)["total"]["triggers"] == {"apparel-30d": 1, "electronics-60d": 1, "ungraded-3d": 2}
    assert [*r.stations][0].triggers == t.triggers
    assert ["2026-W10", "", "*", "triggers", "ungraded-3d", "firings", 2] in list(csv_rows(r))
    table = to_table(r)
    assert "Age trigger firings" in table and "apparel-30d" in table
    assert "aging" in table


def test_fold_counts_decay_and_firings():
    check(weekly_report(events(), WEEK))


def test_sqlite_report_agrees(sqlite_conn):
    with sqlite_conn.engine.begin() as conn:
        insert(conn, events())
    with sqlite_conn.engine.connect() as conn:
        check(sql_weekly_report(conn, WEEK))


def test_postgres_report_agrees(pg_engine):
    with pg_engine.begin() as conn:
        insert(conn, events())
    with pg_engine.connect() as conn:
        check(sql_weekly_report(conn, WEEK))
