"""HQ's ingest path (issue 19): the fast lane into PostgreSQL by COPY, and back-pressure.

- On PostgreSQL, batches go through the fast lane (sync/hq/ingest.py) and COPY: a real uvicorn HQ
  stores a batch once however often it is sent, keeps a differing copy as a conflict, and acks
  only what is stored without gaps, exactly as before; the fast lane stores what pydantic's path
  stores, escapes and all.
- The fast lane takes only what pydantic takes, read the same way: any body it is unsure of goes
  to pydantic (read_batch returns None).
- Back-pressure: a worker whose batch slots and queue are full answers 503 with Retry-After
  (and closes the connection); the bench's client waits that long and sends the batch again.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from sync.hq import ingest
from sync.hq.app import create_app
from sync.hq.db import HQDatabase, HqEvent, add_station
from sync.protocol import EventBatch
from conftest import OPERATORS
from dockstation.store import Store
from netfaults import HQServer
from sync_support import BenchSide, assert_hq_holds_exactly, hq_events

def make_bench(tmp_path: Path, station: str, url: str, token: str) -> BenchSide:
    home = tmp_path / f"bench-{station}"
    (home / "config").mkdir(parents=True)
    (home / "config" / "operators.toml").write_text(OPERATORS)
    bench = BenchSide(home, Store.in_home(home), station)
    bench.set_hq(url, token)
    return bench


@pytest.fixture
def pg_db(pg_schema_url: str) -> Iterator[HQDatabase]:
    db = HQDatabase(pg_schema_url)
    yield db
    db.dispose()


@pytest.fixture
def pg_hq(pg_db: HQDatabase) -> Iterator[HQServer]:
    server = HQServer(create_app(pg_db)).start()
    yield server
    server.stop()


def event(station: str, seq: int, **over: Any) -> dict[str, Any]:
    unit = (seq + 3) // 4
    return {"seq": seq, "kind": "unit_graded", "at": f"2026-11-20T08:{seq // 60 % 60:02d}:{seq % 60:02d}+01:00",
            "operator": "1001", "lpn": f"{station}-{unit:08d}", "rma_id": f"RMA-2026-{unit:06d}",
            "payload": {"grade": "B", "flags": [], "n": seq, "price": 699.5}, **over}


def body(station: str, events: list[dict[str, Any]]) -> bytes:
    return json.dumps({"protocol": 1, "station_id": station, "events": events}, ensure_ascii=False).encode()


def push(hq: HQServer, token: str, station: str, events: list[dict[str, Any]] | bytes) -> httpx.Response:
    content = events if isinstance(events, bytes) else body(station, events)
    return httpx.post(f"{hq.url}/api/v1/events", content=content, timeout=60,
                      headers={"Authorization": f"Bearer {token}", "X-Dockstation-Protocol": "1",
                               "Content-Type": "application/json"})


def stored(db: HQDatabase, station: str) -> list[tuple[Any, ...]]:
    return [k[:1] + k[2:] for k in hq_events(db, station)]


# -- the fast lane on a real HQ, PostgreSQL ----------------------------------------------------
@pytest.mark.postgres
def test_the_same_batch_twice_is_stored_once(pg_hq, pg_db):
    token = add_station(pg_db, "B07")
    batch = [event("B07", q) for q in range(1, 2001)]
    assert ingest.read_batch(body("B07", batch), list) is not None  # the fast lane takes it
    first = push(pg_hq, token, "B07", batch).json()
    again = push(pg_hq, token, "B07", batch).json()
    assert (first["stored"], first["duplicates"], first["acked_seq"], first["conflicts"]) == (2000, 0, 2000, [])
    assert (again["stored"], again["duplicates"], again["acked_seq"], again["conflicts"]) == (0, 2000, 2000, [])
    assert len(stored(pg_db, "B07")) == 2000


@pytest.mark.postgres
def test_a_differing_batch_is_a_conflict_and_hq_keeps_its_copy(pg_hq, pg_db):
    token = add_station(pg_db, "B07")
    push(pg_hq, token, "B07", [event("B07", q) for q in range(1, 11)])
    before = stored(pg_db, "B07")
    forged = [event("B07", q, payload={"grade": "D"}) if q in (3, 4) else event("B07", q) for q in range(1, 13)]
    answer = push(pg_hq, token, "B07", forged).json()
    assert (answer["stored"], answer["duplicates"], answer["conflicts"], answer["acked_seq"]) == (2, 8, [3, 4], 12)
    assert stored(pg_db, "B07")[:10] == before  # HQ's own copy stays
    assert push(pg_hq, token, "B07", []).json()["conflicts"] == [3, 4]  # named in every answer


@pytest.mark.postgres
def test_acks_stay_gap_free(pg_hq, pg_db):
    token = add_station(pg_db, "B07")
    assert push(pg_hq, token, "B07", [event("B07", q) for q in range(1, 11)]).json()["acked_seq"] == 10
    ahead = push(pg_hq, token, "B07", [event("B07", q) for q in range(21, 31)]).json()
    assert (ahead["stored"], ahead["acked_seq"]) == (10, 10)  # 11-20 missing: not acknowledged
    closing = push(pg_hq, token, "B07", [event("B07", q) for q in range(11, 21)]).json()
    assert (closing["stored"], closing["acked_seq"]) == (10, 30)
    assert [k[0] for k in stored(pg_db, "B07")] == list(range(1, 31))


@pytest.mark.postgres
def test_the_fast_lane_stores_what_pydantics_path_stores(pg_hq, pg_db):
    """Text COPY must escape; times convert to UTC; payloads are kept as sent. B07's batch takes
    the fast lane, B08's the same events with one repeated at the end (pydantic's path)."""
    tokens = {s: add_station(pg_db, s) for s in ("B07", "B08")}
    hard = {"operator": "tab\there", "rma_id": "back\\slash\nnew line\r", "at": "2026-11-20T23:30:00.123456-05:30",
            "payload": {"text": "quote \" tab \t é 😀 \u001d", "nested": {"a": [1, 2.5, None, True]}, "big": 10**30,
                        "lpns": None}}
    for station, token in tokens.items():
        events = [event(station, 1, **hard), event(station, 2), event(station, 3, operator=None, rma_id=None)]
        raw = body(station, events + ([events[0]] if station == "B08" else []))
        assert (ingest.read_batch(raw, list) is None) == (station == "B08")
        answer = push(pg_hq, token, station, raw).json()
        assert (answer["stored"], answer["acked_seq"]) == (3, 3), answer
    b07, b08 = stored(pg_db, "B07"), stored(pg_db, "B08")
    assert [k[:3] + k[4:] for k in b07] == [k[:3] + k[4:] for k in b08]  # all but the LPN (its station's)
    t = HqEvent.__table__
    with pg_db.read() as conn:
        row = conn.execute(select(t.c.at, t.c.operator, t.c.rma_id, t.c.payload)
                           .where(t.c.station_id == "B07", t.c.seq == 1)).one()
    assert (row.operator, row.rma_id) == ("tab\there", "back\\slash\nnew line\r")
    assert row.at.replace(tzinfo=None).isoformat() == "2026-11-21T05:00:00.123456"
    assert row.payload == hard["payload"]


def utc(e: dict[str, Any], suffix: str = "+00:00") -> dict[str, Any]:
    """The same event with its time written in UTC (event() writes +01:00)."""
    local = datetime.fromisoformat(e["at"])
    return {**e, "at": local.astimezone(UTC).replace(tzinfo=None).isoformat() + suffix}


@pytest.mark.postgres
def test_a_batch_in_utc_is_copied_straight_and_stored_as_a_staged_one(pg_hq, pg_db):
    """Times in UTC, every seq new: COPY straight into hq_event (B07). The same events with
    +01:00 go through the staging table (B08): both store the same rows, escapes and all."""
    tokens = {s: add_station(pg_db, s) for s in ("B07", "B08")}
    hard = {"operator": "tab\there", "rma_id": "back\\slash\nnew line\r",
            "payload": {"text": "quote \" tab \t é 😀 \u001d", "nested": {"a": [1, 2.5, None, True]}, "big": 10**30}}
    for station, token in tokens.items():
        events = [event(station, 1, **hard), event(station, 2), event(station, 3, operator=None, rma_id=None),
                  *(event(station, q) for q in range(4, 2001))]
        if station == "B07":
            events = [utc(e, "Z" if e["seq"] == 2 else "+00:00") for e in events]
        wire = ingest.read_batch(body(station, events), list)
        assert wire is not None and wire.rows.utc == (station == "B07")
        answer = push(pg_hq, token, station, events).json()
        assert (answer["stored"], answer["acked_seq"], answer["conflicts"]) == (2000, 2000, []), answer
        again = push(pg_hq, token, station, events).json()
        assert (again["stored"], again["duplicates"], again["acked_seq"]) == (0, 2000, 2000), again
    b07, b08 = stored(pg_db, "B07"), stored(pg_db, "B08")
    assert len(b07) == 2000 and [k[:3] + k[4:] for k in b07] == [k[:3] + k[4:] for k in b08]
    t = HqEvent.__table__
    with pg_db.read() as conn:
        row = conn.execute(select(t.c.at, t.c.operator, t.c.rma_id, t.c.payload, t.c.received_at)
                           .where(t.c.station_id == "B07", t.c.seq == 1)).one()
    assert (row.operator, row.rma_id, row.payload) == ("tab\there", "back\\slash\nnew line\r", hard["payload"])
    assert row.at.replace(tzinfo=None).isoformat() == "2026-11-20T07:00:01"
    assert abs(row.received_at.replace(tzinfo=None) - datetime.now(UTC).replace(tzinfo=None)) < timedelta(hours=1)


@pytest.mark.postgres
def test_acks_stay_gap_free_in_utc(pg_hq, pg_db):
    """test_acks_stay_gap_free with times in UTC: a batch above a gap is COPYed straight in, the
    one that closes the gap is staged (its seqs are below the highest stored)."""
    token = add_station(pg_db, "B07")
    batch = [utc(event("B07", q)) for q in range(1, 31)]
    assert push(pg_hq, token, "B07", batch[:10]).json()["acked_seq"] == 10
    ahead = push(pg_hq, token, "B07", batch[20:]).json()
    assert (ahead["stored"], ahead["acked_seq"]) == (10, 10)  # 11-20 missing: not acknowledged
    closing = push(pg_hq, token, "B07", batch[10:20]).json()
    assert (closing["stored"], closing["acked_seq"]) == (10, 30)
    beyond = push(pg_hq, token, "B07", [utc(event("B07", q)) for q in range(31, 41)]).json()
    assert (beyond["stored"], beyond["acked_seq"]) == (10, 40)
    assert [k[0] for k in stored(pg_db, "B07")] == list(range(1, 41))


@pytest.mark.postgres
def test_a_bench_syncs_through_the_fast_lane(pg_hq, pg_db, tmp_path):
    bench = make_bench(tmp_path, "B07", pg_hq.url, add_station(pg_db, "B07"))
    bench.record(4500)
    report = bench.client().sync_once()
    assert (report.outcome, report.pending) == ("ok", 0)
    assert_hq_holds_exactly(pg_db, bench)
    bench.store.close()


@pytest.mark.postgres
def test_an_escaped_lpn_key_naming_another_station_is_refused(pg_hq, pg_db):
    token = add_station(pg_db, "B07")
    raw = body("B07", [event("B07", 1)]).replace(b'"flags"', b'"\\u006cpn": "B08-00000001", "flags"')
    answer = push(pg_hq, token, "B07", raw)
    assert answer.status_code == 403 and "B08-00000001" in answer.text
    assert stored(pg_db, "B07") == []


# -- the fast lane takes a subset of what pydantic takes, read the same way ---------------------
def _at(value: str) -> bytes:
    return body("B07", [event("B07", 1, at=value)])


ODD = {
    "nul": body("B07", [event("B07", 1, operator="a\u0000b")]),
    "overflowing float": body("B07", [event("B07", 1)]).replace(b'"n": 1', b'"n": 1e400'),
    "309 digits with a point": body("B07", [event("B07", 1)]).replace(b'"n": 1', b'"n": ' + b"9" * 309 + b".0"),
    "NaN": body("B07", [event("B07", 1)]).replace(b'"n": 1', b'"n": NaN'),
    "deep payload": body("B07", [event("B07", 1, payload={})]).replace(b'"payload": {}', b'"payload": '
                                                                       + b'{"a": ' * 250 + b"1" + b"}" * 250),
    "payload null": body("B07", [event("B07", 1, payload=None)]),
    "payload a list": body("B07", [event("B07", 1, payload=[1])]),  # type: ignore[arg-type]
    "repeated seq": body("B07", [event("B07", 1), event("B07", 1)]),
    "seqs out of order": body("B07", [event("B07", 2), event("B07", 1)]),
    "seq as float": body("B07", [event("B07", 1)]).replace(b'"seq": 1', b'"seq": 1.0'),
    "seq as text": body("B07", [event("B07", 1)]).replace(b'"seq": 1', b'"seq": "1"'),
    "unknown field": body("B07", [event("B07", 1, extra=1)]),
    "7 fraction digits": _at("2026-11-20T08:00:00.1234567+00:00"),
    "lower-case z": _at("2026-11-20T08:00:00z"),
    "February 30": _at("2026-02-30T08:00:00+00:00"),
    "no offset": _at("2026-11-20T08:00:00"),
    "newline after the time": _at("2026-11-20T08:00:00+00:00\n"),
    "kind upper case": body("B07", [event("B07", 1, kind="Unit")]),
    "protocol 2": body("B07", []).replace(b'"protocol": 1', b'"protocol": 2'),
    "station lower case": body("b07", []),
    "operator too long": body("B07", [event("B07", 1, operator="x" * 65)]),
}


@pytest.mark.parametrize("name", sorted(ODD))
def test_the_fast_lane_leaves_what_it_is_unsure_of_to_pydantic(name):
    assert ingest.read_batch(ODD[name], list) is None


@pytest.mark.parametrize("name", ["plain", "escapes", "utf-8", "big int", "exponent", "escaped key", "minimal"])
def test_what_the_fast_lane_takes_pydantic_reads_the_same(name):
    events = {
        "plain": [event("B07", q) for q in range(1, 5)],
        "escapes": [event("B07", 1, operator="a\tb\\c", payload={"x": "line\nbreak", "y": "\u001d"})],
        "utf-8": [event("B07", 1, operator="Zoë", payload={"é": "😀"})],
        "big int": [event("B07", 1, payload={"n": 10**40})],
        "exponent": [event("B07", 1, payload={"n": 1.5e300, "code": "12E4"})],
        "escaped key": [event("B07", 1)],
        "minimal": [{"seq": 7, "kind": "manifest_synced", "at": "2026-11-20T08:00:00Z"}],
    }[name]
    raw = body("B07", events)
    if name == "escaped key":
        raw = raw.replace(b'"grade"', b'"\\u0067rade"')
    wire = ingest.read_batch(raw, list)
    assert wire is not None
    model = EventBatch.model_validate_json(raw)
    assert wire.station_id == model.station_id and wire.rows.seqs == [e.seq for e in model.events]
    for fast, slow in zip(wire.events, model.events, strict=True):
        assert (fast.kind, fast.operator, fast.lpn, fast.rma_id) == (slow.kind, slow.operator, slow.lpn, slow.rma_id)
        assert json.loads(bytes(fast.payload)) == slow.payload
    lines = wire.rows.copy().decode().split("\n")[:-1]
    assert len(lines) == len(model.events) and all(line.count("\t") == 6 for line in lines)


# -- back-pressure ----------------------------------------------------------------------------
class HeldSlot:
    """Takes a worker's only batch slot: a push whose body never finishes arriving (it is read
    inside the slot). Closing the socket frees the slot."""

    def __init__(self, server: HQServer, token: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        self.sock.sendall((f"POST /api/v1/events HTTP/1.1\r\nHost: hq\r\nAuthorization: Bearer {token}\r\n"
                           "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{").encode())

    def release(self) -> None:
        self.sock.close()


def _wait_until(check: Any) -> None:
    for _ in range(600):
        if check():
            return
        threading.Event().wait(0.05)
    raise AssertionError("never happened")


@pytest.mark.parametrize("db_name", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_full_worker_answers_503_with_retry_after_and_stores_nothing(db_name, request, tmp_path):
    url = f"sqlite:///{tmp_path / 'hq.sqlite3'}" if db_name == "sqlite" else request.getfixturevalue("pg_schema_url")
    db = HQDatabase(url)
    app = create_app(db, batch_slots=1, batch_queue=0)
    server = HQServer(app).start()
    try:
        token = add_station(db, "B07")
        held = HeldSlot(server, add_station(db, "B08"))
        _wait_until(lambda: app.state.batch_slots.full)
        answer = push(server, token, "B07", [event("B07", q) for q in range(1, 101)])
        assert answer.status_code == 503 and answer.headers["retry-after"] == "1"
        assert answer.headers["connection"] == "close" and "busy" in answer.json()["detail"]
        assert stored(db, "B07") == [] and app.state.batch_slots.refused == 1
        held.release()
        _wait_until(lambda: not app.state.batch_slots.full)
        again = push(server, token, "B07", [event("B07", q) for q in range(1, 101)])
        assert again.status_code == 200 and again.json()["acked_seq"] == 100
    finally:
        server.stop()
        db.dispose()


@pytest.mark.parametrize("db_name", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_the_bench_waits_as_hq_asks_then_its_batch_goes_through(db_name, request, tmp_path):
    url = f"sqlite:///{tmp_path / 'hq2.sqlite3'}" if db_name == "sqlite" else request.getfixturevalue("pg_schema_url")
    db = HQDatabase(url)
    app = create_app(db, batch_slots=1, batch_queue=0)
    server = HQServer(app).start()
    try:
        bench = make_bench(tmp_path, "B07", server.url, add_station(db, "B07"))
        bench.record(40)
        held = HeldSlot(server, add_station(db, "B08"))
        _wait_until(lambda: app.state.batch_slots.full)
        # The slot is freed once HQ has answered the bench "busy": its retry then goes through.
        threading.Thread(target=lambda: (_wait_until(lambda: app.state.batch_slots.refused >= 1), held.release()),
                         daemon=True).start()
        report = bench.client().sync_once()
        assert (report.outcome, report.pending) == ("ok", 0), report.message
        assert report.busy_waits == [1.0]  # one busy answer, Retry-After: 1, waited out
        assert app.state.batch_slots.refused == 1
        assert_hq_holds_exactly(db, bench)
        bench.store.close()
    finally:
        server.stop()
        db.dispose()


def test_retry_after_is_read_as_seconds_or_an_http_date():
    from email.utils import format_datetime

    from dockstation.types import utcnow
    from sync.busy import retry_after

    def ra(value: str) -> float | None:
        return retry_after(httpx.Response(503, headers={"Retry-After": value}))

    assert (ra("1"), ra("2.5"), ra(""), ra("soon"), ra("-3")) == (1.0, 2.5, None, None, None)
    later = ra(format_datetime(utcnow() + timedelta(seconds=90), usegmt=True))
    assert later is not None and 60 < later <= 90
    assert ra(format_datetime(utcnow() - timedelta(seconds=90), usegmt=True)) == 0.0
