"""Who may read what at HQ: station tokens vs HQ reader tokens, revoking, rotating, `hq list`.

A real uvicorn HQ on loopback, on SQLite and on PostgreSQL (the `hq`/`hq_db` fixtures).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from click.testing import CliRunner
from netfaults import HQServer
from sqlalchemy import func, select

from dockstation.cli import main
from sync.hq.app import create_app
from sync.hq.db import HqEvent, HqReader, add_reader, add_station, hash_token, revoke_reader, revoke_station
from sync.protocol import PROTOCOL_HEADER

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
WEEK = "2026-W47"  # the week of T0


def ev(seq: int, lpn: str, kind: str = "unit_received") -> dict[str, Any]:
    return {"seq": seq, "kind": kind, "at": (T0 + timedelta(minutes=seq)).isoformat(), "operator": "1001",
            "lpn": lpn, "rma_id": "RMA-2026-000001",
            "payload": {"line_no": 1, "sku": "PHN-1", "category": "phones", "lane": "standard", "sla_hours": 24,
                        "unit_price": "699.00", "currency": "USD"}}


def push(hq, token: str, station: str, events: list[dict[str, Any]]) -> httpx.Response:
    return httpx.post(f"{hq.url}/api/v1/events", json={"protocol": 1, "station_id": station, "events": events},
                      headers={"Authorization": f"Bearer {token}"}, timeout=30)


def get(hq, path: str, token: str | None, **params: Any) -> httpx.Response:
    headers = {PROTOCOL_HEADER: "1"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.get(f"{hq.url}/api/v1{path}", params=params, headers=headers, timeout=30)


def events_of(db, station: str) -> int:
    t = HqEvent.__table__
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(t).where(t.c.station_id == station)).scalar_one()


def two_stations(hq, hq_db) -> tuple[str, str]:
    b07, b08 = add_station(hq_db, "B07", site="NORTH"), add_station(hq_db, "B08", site="SOUTH")
    assert push(hq, b07, "B07", [ev(1, "B07-00000001")]).status_code == 200
    assert push(hq, b08, "B08", [ev(1, "B08-00000001")]).status_code == 200
    return b07, b08


def test_weekly_kpis_need_a_reader_token_a_station_token_gets_403(hq, hq_db):
    b07, _ = two_stations(hq, hq_db)
    reader = add_reader(hq_db, "bi-team")
    ok = get(hq, "/kpis/weekly", reader, week=WEEK)
    assert ok.status_code == 200, ok.text
    assert {s["station_id"] for s in ok.json()["stations"]} == {"B07", "B08"}  # every station's figures
    refused = get(hq, "/kpis/weekly", b07, week=WEEK)
    assert refused.status_code == 403
    detail = refused.json()["detail"]
    assert "reader token" in detail and "dockstation hq add-reader NAME" in detail and "station B07" in detail
    assert get(hq, "/kpis/weekly", None, week=WEEK).status_code == 401
    assert get(hq, "/kpis/weekly", "nope", week=WEEK).status_code == 401
    assert get(hq, "/kpis/weekly", reader, week="2026-W60").status_code == 422  # auth first, then the week


def test_a_station_reads_only_the_units_it_handled_a_reader_reads_any(hq, hq_db):
    b07, b08 = two_stations(hq, hq_db)
    reader = add_reader(hq_db, "support")
    assert get(hq, "/units/B07-00000001", b07).json()["station_id"] == "B07"
    other = get(hq, "/units/B08-00000001", b07)
    assert other.status_code == 404 and "only its own units" in other.json()["detail"]
    # the same answer as for a unit HQ does not have: a bench learns nothing of other stations
    assert get(hq, "/units/B09-00000001", b07).status_code == 404
    assert get(hq, "/units/B08-00000001", reader).json()["station_id"] == "B08"
    assert get(hq, "/units/B07-00000001", reader).json()["state"] == "received"
    assert get(hq, "/units/B09-00000001", reader).status_code == 404
    # B08 may not write about B07's unit (issue 14 item 11; test_hq_scope.py has the whole rule)
    graded = ev(2, "B07-00000001", "unit_graded") | {"payload": {"grade": "C", "flags": [], "category": "phones"}}
    assert push(hq, b08, "B08", [graded]).status_code == 403
    assert get(hq, "/units/B07-00000001", b08).status_code == 404
    assert get(hq, "/units/B07-00000001", b07).json()["grade"] is None


def test_reader_tokens_only_read(hq, hq_db):
    add_station(hq_db, "B07")
    reader = add_reader(hq_db, "bi-team")
    refused = push(hq, reader, "B07", [ev(1, "B07-00000001")])  # not a station's token
    assert refused.status_code == 403 and "needs a station token" in refused.json()["detail"]
    for path in ("/manifest", "/config"):
        resp = get(hq, path, reader)
        assert resp.status_code == 403 and "needs a station token" in resp.json()["detail"], path
    assert events_of(hq_db, "B07") == 0


def test_revoking_a_station_shuts_it_out_at_once_and_keeps_its_events(hq, hq_db, tmp_path):
    b07, _ = two_stations(hq, hq_db)
    reader = add_reader(hq_db, "bi-team")
    # a second HQ worker on the same database: revocation is in the database, not in a process
    second = HQServer(create_app(hq_db)).start()
    try:
        assert get(hq, "/config", b07).status_code == 200
        assert revoke_station(hq_db, "B07")
        for server in (hq, second):
            resp = push(server, b07, "B07", [ev(2, "B07-00000002")])
            assert resp.status_code == 401
            for path in ("/manifest", "/config", "/units/B07-00000001"):
                refused = get(server, path, b07)
                assert refused.status_code == 401 and "revoked" in refused.json()["detail"], path
        assert events_of(hq_db, "B07") == 1  # what it pushed before stays
        assert get(hq, "/units/B07-00000001", reader).json()["station_id"] == "B07"
        assert any(s["station_id"] == "B07" for s in get(hq, "/kpis/weekly", reader, week=WEEK).json()["stations"])
        # --rotate: the same code path gives a new token and lets the station in again; the old one stays out
        new = add_station(hq_db, "B07", rotate=True)
        assert push(second, new, "B07", [ev(2, "B07-00000002")]).json()["acked_seq"] == 2
        assert push(hq, b07, "B07", [ev(3, "B07-00000003")]).status_code == 401
    finally:
        second.stop()


def test_revoking_and_rotating_a_reader(hq, hq_db):
    old = add_reader(hq_db, "bi-team")
    assert get(hq, "/kpis/weekly", old, week=WEEK).status_code == 200
    new = add_reader(hq_db, "bi-team", rotate=True)
    assert get(hq, "/kpis/weekly", old, week=WEEK).status_code == 401  # rotated out
    assert get(hq, "/kpis/weekly", new, week=WEEK).status_code == 200
    assert revoke_reader(hq_db, "bi-team") and not revoke_reader(hq_db, "nobody")
    refused = get(hq, "/kpis/weekly", new, week=WEEK)
    assert refused.status_code == 401 and "reader bi-team was revoked" in refused.json()["detail"]


# -- the commands ------------------------------------------------------------------------------
def test_hq_commands_add_reader_revoke_and_list(hq, db_url, hq_db):
    runner = CliRunner()
    added = runner.invoke(main, ["hq", "add-reader", "bi-team", "--db", db_url])
    assert added.exit_code == 0, added.output
    token = added.stdout.strip()
    assert len(token) >= 40 and "\n" not in token and "not shown again" in added.stderr
    with hq_db.read() as conn:
        stored = conn.execute(select(HqReader.__table__.c.token_hash)).scalar_one()
    assert stored == hash_token(token)  # the hash only
    again = runner.invoke(main, ["hq", "add-reader", "bi-team", "--db", db_url])
    assert again.exit_code == 1 and "already" in again.stderr and token not in again.output
    assert runner.invoke(main, ["hq", "add-reader", "bi team", "--db", db_url]).exit_code == 1

    station = runner.invoke(main, ["hq", "add-station", "B07", "--db", db_url, "--site", "DC1"]).stdout.strip()
    assert push(hq, station, "B07", [ev(1, "B07-00000001"), ev(2, "B07-00000002")]).status_code == 200
    assert get(hq, "/kpis/weekly", token, week=WEEK).status_code == 200

    listed = runner.invoke(main, ["hq", "list", "--db", db_url, "--format", "json"])
    assert listed.exit_code == 0, listed.output
    data = json.loads(listed.stdout)
    (b07,) = data["stations"]
    assert (b07["station_id"], b07["site"], b07["acked_seq"], b07["revoked"]) == ("B07", "DC1", 2, False)
    assert b07["last_push_at"] is not None and data["readers"] == [
        {"name": "bi-team", "created_at": data["readers"][0]["created_at"], "revoked": False, "scopes": ""}]
    table = runner.invoke(main, ["hq", "list", "--db", db_url]).stdout
    assert "B07" in table and "DC1" in table and "bi-team" in table and "active" in table

    revoked = runner.invoke(main, ["hq", "revoke-station", "B07", "--db", db_url])
    assert revoked.exit_code == 0 and "events stay" in revoked.stdout
    assert push(hq, station, "B07", [ev(3, "B07-00000003")]).status_code == 401
    assert runner.invoke(main, ["hq", "revoke-reader", "bi-team", "--db", db_url]).exit_code == 0
    assert get(hq, "/kpis/weekly", token, week=WEEK).status_code == 401
    missing = runner.invoke(main, ["hq", "revoke-station", "B99", "--db", db_url])
    assert missing.exit_code == 1 and "no station 'B99'" in missing.stderr
    data = json.loads(runner.invoke(main, ["hq", "list", "--db", db_url, "--format", "json"]).stdout)
    assert data["stations"][0]["revoked"] and data["readers"][0]["revoked"]
    assert "revoked" in runner.invoke(main, ["hq", "list", "--db", db_url]).stdout
    # a revoked station cannot be added again by mistake; --rotate reinstates it
    blocked = runner.invoke(main, ["hq", "add-station", "B07", "--db", db_url])
    assert blocked.exit_code == 1 and "is revoked" in blocked.stderr
    assert events_of(hq_db, "B07") == 2

    # `hq report` reads the database itself: no token involved, revoked stations still counted
    report = runner.invoke(main, ["hq", "report", "--db", db_url, "--week", WEEK, "--format", "json"])
    assert report.exit_code == 0, report.output
    assert [s["station_id"] for s in json.loads(report.stdout)["stations"]] == ["B07"]
