"""Issue 14 item 11: a station token writes events only about its own units, and reads only those.

A real uvicorn HQ on loopback, on SQLite and on PostgreSQL (the `hq`/`hq_db` fixtures); the bench
side through the real sync client.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from sync.hq.db import HqEvent, add_reader, add_station
from sync.hq.scope import foreign_unit, lpn_owner
from sync.protocol import PROTOCOL_HEADER, EventIn

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def ev(seq: int, lpn: str | None, kind: str = "unit_received", **payload: Any) -> dict[str, Any]:
    return {"seq": seq, "kind": kind, "at": (T0 + timedelta(minutes=seq)).isoformat(), "operator": "1001",
            "lpn": lpn, "rma_id": "RMA-2026-000001",
            "payload": payload or {"line_no": 1, "sku": "PHN-1", "category": "phones", "unit_price": "699.00"}}


def push(hq: Any, token: str, station: str, events: list[dict[str, Any]]) -> httpx.Response:
    return httpx.post(f"{hq.url}/api/v1/events", json={"protocol": 1, "station_id": station, "events": events},
                      headers={"Authorization": f"Bearer {token}"}, timeout=30)


def unit(hq: Any, token: str, lpn: str) -> httpx.Response:
    return httpx.get(f"{hq.url}/api/v1/units/{lpn}", headers={"Authorization": f"Bearer {token}", PROTOCOL_HEADER: "1"},
                     timeout=30)


def count(db: Any, station: str) -> int:
    t = HqEvent.__table__
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(t).where(t.c.station_id == station)).scalar_one()


def test_the_issue_attack_is_refused_and_changes_nothing(hq, hq_db):
    """B07 pushes a grade for B08's unit, then reads it: both refused; readers still see B08's own."""
    b07, b08 = add_station(hq_db, "B07"), add_station(hq_db, "B08")
    reader = add_reader(hq_db, "bi")
    assert push(hq, b08, "B08", [ev(1, "B08-00000001")]).status_code == 200
    forged = push(hq, b07, "B07", [ev(1, "B08-00000001", "unit_graded", grade="D")])
    assert forged.status_code == 403
    detail = forged.json()["detail"]
    assert "only write events about B07's own units" in detail and "seq 1 (unit_graded)" in detail
    assert "B08-00000001" in detail and "nothing of it was stored" in detail
    assert count(hq_db, "B07") == 0
    assert unit(hq, b07, "B08-00000001").status_code == 404  # no RMA, SKU or price of B08's unit
    seen = unit(hq, reader, "B08-00000001").json()
    assert (seen["state"], seen["grade"], seen["sku"]) == ("received", None, "PHN-1")


@pytest.mark.parametrize("bad", [
    {"lpn": "B08-00000002"},                                  # another station's unit
    {"lpn": "B0-00000002"},                                   # a prefix of the station id is not the station
    {"lpn": "B07X-00000002"},                                 # nor is a longer id starting with it
    {"lpn": "not-an-lpn"},                                    # not a unit of anyone
    {"lpn": None, "kind": "exception_resolved", "payload": {"id": 1, "action": "matched", "lpn": "B08-00000009"}},
    {"lpn": "B07-00000002", "payload": {"lpns": ["B07-00000001", "B08-00000001"]}},  # a list naming units
])
def test_a_batch_naming_any_unit_not_its_own_is_refused_whole(hq, hq_db, bad):
    b07 = add_station(hq_db, "B07")
    add_station(hq_db, "B08")
    good = [ev(1, "B07-00000001"), ev(2, "B07-00000002", "inspection_started", inspection_id=1)]
    event = {**ev(3, "B07-00000003"), **bad}
    answer = push(hq, b07, "B07", [*good, event])
    assert answer.status_code == 403, answer.text
    assert count(hq_db, "B07") == 0  # not even the good events: the gap-free ack never skips one
    # the same events without the bad one go through, and the ack is gap-free
    assert push(hq, b07, "B07", good).json()["acked_seq"] == 2


def test_its_own_units_and_unit_less_events_go_through(hq, hq_db):
    b07 = add_station(hq_db, "B07")
    events = [ev(1, "B07-00000001"), ev(2, None, "operator_signed_in", name="Casey", role="clerk"),
              {**ev(3, None, "exception_resolved"), "payload": {"id": 4, "action": "matched", "lpn": "B07-00000001"}},
              ev(4, "B07-00000001", "label_printed", job_id=1, reprint=0, printer="dir:///tmp")]
    assert push(hq, b07, "B07", events).json()["acked_seq"] == 4
    assert unit(hq, b07, "B07-00000001").json()["station_id"] == "B07"


def test_a_station_reads_only_units_it_created_and_only_their_creators_events_count(hq, hq_db):
    """Events another station wrote about a unit before this rule (put straight into the table
    here, as an old HQ would have stored them) change nothing that anyone reads."""
    b07, b08 = add_station(hq_db, "B07"), add_station(hq_db, "B08")
    reader = add_reader(hq_db, "bi")
    assert push(hq, b08, "B08", [ev(1, "B08-00000001")]).status_code == 200
    with hq_db.write() as conn:  # B07's forged grade of B08's unit, left by an older HQ
        conn.execute(HqEvent.__table__.insert().values(
            station_id="B07", seq=1, kind="unit_graded", at=T0 + timedelta(hours=1), operator="x",
            lpn="B08-00000001", rma_id=None, payload={"grade": "D"}, received_at=T0))
    assert unit(hq, b07, "B08-00000001").status_code == 404  # HQ holds one of B07's events: still not its unit
    assert unit(hq, reader, "B08-00000001").json()["grade"] is None
    assert unit(hq, b08, "B08-00000001").json()["state"] == "received"


def test_the_real_client_surfaces_the_refusal(hq, hq_db, make_bench):
    """A bench whose store holds a unit of another station (a station_id changed under an old
    database) cannot sync its events: `dockstation sync` says why, with the exit code of a refusal."""
    bench = make_bench("B07")
    bench.set_hq(hq.url, bench.token)
    from dockstation import events

    with bench.store.write() as s:
        events.record(s, "B07", "unit_received", operator="1001", lpn="B08-00000001", rma_id="RMA-1", payload={})
    report = bench.client().sync_once()
    assert (report.outcome, report.exit_code) == ("refused", 3)
    assert report.message.startswith("refused by HQ (403: ") and "B07's own units" in report.message
    assert count(hq_db, "B07") == 0 and report.pending == 1


def test_the_rule_itself():
    assert lpn_owner("B07-00012345") == "B07" and lpn_owner("B07-123") is None and lpn_owner("b07-00012345") is None
    assert lpn_owner("B07-00012345\n") is None
    mine = EventIn(seq=1, kind="unit_graded", at=T0, lpn="B07-00000001", payload={"lpn": "B07-00000001"})
    theirs = EventIn(seq=2, kind="exception_resolved", at=T0, payload={"lpn": "B08-00000001"})
    assert foreign_unit("B07", [mine]) is None
    assert foreign_unit("B07", [mine, theirs]) == (theirs, "B08-00000001")
    assert foreign_unit("B07", [EventIn(seq=3, kind="x", at=T0, payload={"lpns": "B07-00000001"})]) is None
