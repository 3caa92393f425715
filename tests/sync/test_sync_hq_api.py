"""The HQ HTTP API against a real uvicorn on loopback, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from sync.hq.db import HqConflict, HqEvent, HqStation, add_station, hash_token, revoke_station
from sync.protocol import PROTOCOL_HEADER

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def ev(seq: int, event_kind: str = "unit_received", lpn: str | None = None, **payload: Any) -> dict[str, Any]:
    return {"seq": seq, "kind": event_kind, "at": (T0 + timedelta(minutes=seq)).isoformat(), "operator": "1001",
            "lpn": lpn or f"B07-{seq:08d}", "rma_id": "RMA-2026-000001",
            "payload": payload or {"line_no": 1, "sku": "PHN-1", "category": "phones", "lane": "standard",
                                   "sla_hours": 24, "unit_price": "699.00", "currency": "USD"}}


def post(hq, token: str | None, events: list[dict[str, Any]], station: str = "B07", **extra: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{hq.url}/api/v1/events", json={"protocol": 1, "station_id": station, "events": events, **extra},
                      headers=headers, timeout=30)


def get(hq, path: str, token: str | None, **params: Any) -> httpx.Response:
    headers = {PROTOCOL_HEADER: "1"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.get(f"{hq.url}{path}", params=params, headers=headers, timeout=30)


def count(db, table) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(table.__table__)).scalar_one()


def test_health_and_openapi_are_served(hq):
    health = httpx.get(f"{hq.url}/healthz").json()
    assert health["status"] == "ok" and health["protocol"] == [1]
    spec = httpx.get(f"{hq.url}/openapi.json").json()
    assert {"/api/v1/events", "/api/v1/manifest", "/api/v1/config", "/api/v1/units/{lpn}"} <= set(spec["paths"])
    assert "EventBatch" in spec["components"]["schemas"]


def test_token_is_stored_hashed_and_names_the_station(hq, hq_db):
    token = add_station(hq_db, "B07")
    with hq_db.read() as conn:
        stored = conn.execute(select(HqStation.__table__.c.token_hash)).scalar_one()
    assert stored == hash_token(token) and token not in stored
    assert post(hq, token, [ev(1)]).json()["acked_seq"] == 1


def test_token_scoping_401_without_and_403_for_another_station(hq, hq_db):
    b07, b08 = add_station(hq_db, "B07"), add_station(hq_db, "B08")
    assert post(hq, None, [ev(1)]).status_code == 401
    assert post(hq, "not-a-token", [ev(1)]).status_code == 401
    assert post(hq, b07, [ev(1)], station="B08").status_code == 403  # B07's token, B08's events
    other = ev(1) | {"station_id": "B08"}
    assert post(hq, b07, [other]).status_code == 403
    assert get(hq, "/api/v1/manifest", None).status_code == 401
    assert count(hq_db, HqEvent) == 0
    # each token still writes its own station
    assert post(hq, b08, [ev(1, lpn="B08-00000001")], station="B08").status_code == 200
    revoke_station(hq_db, "B08")
    assert post(hq, b08, [ev(2, lpn="B08-00000002")], station="B08").status_code == 401


@pytest.mark.parametrize("bad", [
    {"seq": 0},  # seqs start at 1
    {"kind": "Not A Kind"},
    {"at": "2026-11-20T09:00:00"},  # no UTC offset
    {"payload": ["not", "an", "object"]},
    {"surprise": 1},  # unknown field
    {"seq": "2"},  # strict: a number is a number
    {"at": 1763629200},  # a unix time is not ISO 8601
    {"at": "1763629200"},  # nor as text (pydantic would take it, PostgreSQL would not)
    {"operator": 1001},
])
def test_schema_errors_are_422_and_store_nothing(hq, hq_db, bad):
    token = add_station(hq_db, "B07")
    resp = post(hq, token, [ev(1), ev(2) | bad])
    assert resp.status_code == 422, resp.text
    assert count(hq_db, HqEvent) == 0  # the batch is all or nothing


def test_a_nul_in_scanned_text_is_stored_on_every_database_and_stays_idempotent(hq, hq_db):
    token = add_station(hq_db, "B07")
    event = ev(1) | {"operator": "10\u000001", "payload": {"code": "A\u0000B", "list": ["\u0000"]}}
    first = post(hq, token, [event, ev(2)]).json()
    assert (first["stored"], first["acked_seq"]) == (2, 2)
    again = post(hq, token, [event]).json()  # re-sent: the same event, not a conflict
    assert (again["duplicates"], again["conflicts"]) == (1, [])
    with hq_db.read() as conn:
        row = conn.execute(select(HqEvent.__table__).where(HqEvent.__table__.c.seq == 1)).one()
    assert row.operator == "10\ufffd01" and row.payload == {"code": "A\ufffdB", "list": ["\ufffd"]}


def test_times_finer_than_microseconds_are_stored_as_validated_and_stay_idempotent(hq, hq_db):
    token = add_station(hq_db, "B07")
    event = ev(1) | {"at": "2026-11-20T09:00:00.1234569+01:00"}  # PostgreSQL alone would round
    assert post(hq, token, [event]).json()["stored"] == 1
    again = post(hq, token, [event]).json()
    assert (again["duplicates"], again["conflicts"]) == (1, [])
    with hq_db.read() as conn:
        at = conn.execute(select(HqEvent.__table__.c.at)).scalar_one()
    assert at == datetime(2026, 11, 20, 8, 0, 0, 123456, tzinfo=UTC)


def test_unknown_protocol_version_is_refused_with_a_clear_message(hq, hq_db):
    token = add_station(hq_db, "B07")
    resp = post(hq, token, [ev(1)], protocol=2)
    assert resp.status_code == 422 and "protocol version 2 is not supported" in resp.text
    resp = httpx.get(f"{hq.url}/api/v1/manifest", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 400 and "X-Dockstation-Protocol" in resp.text
    resp = httpx.get(f"{hq.url}/api/v1/config", headers={"Authorization": f"Bearer {token}", PROTOCOL_HEADER: "9"})
    assert resp.status_code == 400 and "not supported" in resp.text


def test_post_is_idempotent_and_answers_the_gap_free_high_water_mark(hq, hq_db):
    token = add_station(hq_db, "B07")
    assert post(hq, token, [ev(1), ev(2), ev(3)]).json()["acked_seq"] == 3
    gap = post(hq, token, [ev(5), ev(6)]).json()  # 4 is missing: stored, but not acknowledged
    assert (gap["acked_seq"], gap["stored"]) == (3, 2)
    again = post(hq, token, [ev(1), ev(2), ev(3)]).json()  # a retry: stores nothing
    assert (again["stored"], again["duplicates"], again["acked_seq"]) == (0, 3, 3)
    filled = post(hq, token, [ev(4)]).json()  # the gap closes: 6 in one step
    assert filled["acked_seq"] == 6
    assert count(hq_db, HqEvent) == 6


def test_a_batch_partly_stored_already_stores_only_the_new_events(hq, hq_db):
    # On PostgreSQL a batch above the station's highest stored seq is a plain INSERT; one that
    # overlaps what HQ holds (or fills a gap below it) must take the ON CONFLICT way instead.
    token = add_station(hq_db, "B07")
    post(hq, token, [ev(1), ev(2), ev(3)])
    overlap = post(hq, token, [ev(2), ev(3), ev(4), ev(5)]).json()
    assert (overlap["stored"], overlap["duplicates"], overlap["acked_seq"]) == (2, 2, 5)
    post(hq, token, [ev(8)])
    below = post(hq, token, [ev(6), ev(7)]).json()  # all new, but below the highest stored
    assert (below["stored"], below["duplicates"], below["acked_seq"]) == (2, 0, 8)
    assert count(hq_db, HqEvent) == 8


def test_a_conflicting_duplicate_never_overwrites_and_is_flagged(hq, hq_db):
    token = add_station(hq_db, "B07")
    post(hq, token, [ev(1)])
    changed = ev(1) | {"kind": "unit_voided", "payload": {"reason": "other content"}}
    answer = post(hq, token, [changed]).json()
    assert answer["conflicts"] == [1] and answer["acked_seq"] == 1
    with hq_db.read() as conn:
        kind = conn.execute(select(HqEvent.__table__.c.kind)).scalar_one()
        flagged = conn.execute(select(HqConflict.__table__.c.event)).scalar_one()
    assert kind == "unit_received" and flagged["kind"] == "unit_voided"


def test_concurrent_identical_pushes_store_each_event_once(hq, hq_db):
    token = add_station(hq_db, "B07")
    batch = [ev(i) for i in range(1, 201)]
    barrier = threading.Barrier(6)
    answers: list[dict[str, Any]] = []

    def push() -> None:
        barrier.wait()
        answers.append(post(hq, token, batch).json())

    threads = [threading.Thread(target=push) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 6 and all(a["acked_seq"] == 200 for a in answers)
    assert sum(a["stored"] for a in answers) == 200  # exactly one request stored them
    assert count(hq_db, HqEvent) == 200


def test_hq_stamps_its_own_time_and_keeps_the_benchs_claim(hq, hq_db):
    token = add_station(hq_db, "B07")
    future = datetime.now(UTC) + timedelta(hours=7)  # a bench clock 7 hours fast
    answer = post(hq, token, [ev(1) | {"at": future.isoformat()}]).json()
    assert answer["acked_seq"] == 1
    with hq_db.read() as conn:
        row = conn.execute(select(HqEvent.__table__)).one()
    assert abs((row.at - future).total_seconds()) < 0.001
    assert row.received_at < row.at - timedelta(hours=6)


def test_a_unit_is_its_events_folded_in_seq_order(hq, hq_db):
    token = add_station(hq_db, "B07")
    lpn = "B07-00000001"
    assert get(hq, f"/api/v1/units/{lpn}", token).status_code == 404
    graded = ev(3, "unit_graded", lpn, grade="B", flags=["missing_accessories"], category="phones")
    disposed = ev(4, "unit_disposed", lpn, kind="policy", path="open_box", rule_id="r7", recovery_value="480.50",
                  grade="B")
    graded["at"] = (T0 + timedelta(days=2)).isoformat()  # the bench clock jumped: order is by seq
    post(hq, token, [disposed, graded])  # the receipt has not arrived yet
    early = get(hq, f"/api/v1/units/{lpn}", token).json()
    assert (early["state"], early["received_at"]) == ("disposed", None)
    post(hq, token, [ev(1, lpn=lpn), ev(2, "inspection_started", lpn, inspection_id=1)])
    unit = get(hq, f"/api/v1/units/{lpn}", token).json()
    assert (unit["state"], unit["grade"], unit["disposition"], unit["recovery_value"]) == ("disposed", "B", "open_box", "480.50")
    assert unit["received_at"].startswith("2026-11-20T09:01") and unit["last_seq"] == 4
    assert unit["flags"] == ["missing_accessories"] and unit["station_id"] == "B07"
    # another bench may not write about it (issue 14 item 11): refused, the unit is unchanged
    b08 = add_station(hq_db, "B08")
    regrade = ev(1, "unit_graded", lpn, grade="C", flags=[], category="phones") | {"at": (T0 + timedelta(days=3)).isoformat()}
    assert post(hq, b08, [regrade], station="B08").status_code == 403
    assert get(hq, f"/api/v1/units/{lpn}", token).json()["grade"] == "B"


def test_config_bundle_has_a_version_etag_and_never_local_files(hq, hq_db):
    token = add_station(hq_db, "B07")
    resp = get(hq, "/api/v1/config", token)
    bundle = resp.json()
    assert resp.headers["etag"] == f'"{bundle["version"]}"'
    assert "codes.toml" in bundle["files"] and "station.toml" not in bundle["files"]
    assert "operators.toml" not in bundle["files"]
    again = httpx.get(f"{hq.url}/api/v1/config", headers={"Authorization": f"Bearer {token}", PROTOCOL_HEADER: "1",
                                                          "If-None-Match": resp.headers["etag"]})
    assert again.status_code == 304


def test_hq_refuses_to_serve_an_invalid_config(tmp_path, hq_db):
    from netfaults import HQServer

    from sync.hq.app import create_app

    bad = tmp_path / "hqconfig"
    bad.mkdir()
    (bad / "codes.toml").write_text("grades = []\n")
    server = HQServer(create_app(hq_db, config_dir=bad)).start()
    try:
        token = add_station(hq_db, "B07")
        resp = get(server, "/api/v1/config", token)
        assert resp.status_code == 503 and "grades" in resp.text
    finally:
        server.stop()


def test_large_bodies_are_refused_before_reading(hq, hq_db):
    import socket

    token = add_station(hq_db, "B07")
    with socket.create_connection(("127.0.0.1", hq.port), timeout=10) as sock:
        sock.sendall(f"POST /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {64 << 20}\r\n\r\n{{".encode())
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413")


def test_a_chunked_body_is_capped_too(hq, hq_db):
    token = add_station(hq_db, "B07")

    def chunks():
        for _ in range(40):  # 40 MB, never announced in a Content-Length
            yield b" " * (1 << 20)

    resp = httpx.post(f"{hq.url}/api/v1/events", content=chunks(), timeout=60,
                      headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert resp.status_code == 413
    assert count(hq_db, HqEvent) == 0


def test_every_request_is_answered_from_the_database(hq, hq_db):
    """Two app instances (two 'workers') over one database give the same answers."""
    from netfaults import HQServer

    from sync.hq.app import create_app
    from sync.hq.db import HQDatabase

    token = add_station(hq_db, "B07")
    other_db = HQDatabase(hq_db.url)
    second = HQServer(create_app(other_db)).start()
    try:
        post(hq, token, [ev(1), ev(2)])
        assert post(second, token, [ev(4)]).json()["acked_seq"] == 2
        assert post(hq, token, [ev(3)]).json()["acked_seq"] == 4  # 4 came through the other worker
    finally:
        second.stop()
        other_db.dispose()
    with hq_db.read() as conn:
        assert conn.execute(text("SELECT acked_seq FROM hq_station")).scalar_one() == 4
