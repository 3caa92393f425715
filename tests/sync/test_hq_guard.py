"""Issue 14 item 12: HQ authenticates from the headers before it reads a body, then reads the body
within limits. Measured from outside, deterministically: a client sends only the headers of a
31 MB POST and waits; HQ answers (401, 403, 413) without the body ever being sent. Before, HQ
waited for the whole body (and buffered it) before looking at the token.

A real uvicorn HQ on loopback, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from netfaults import HQServer

from sync.hq.app import create_app
from sync.hq.db import add_reader, add_station

BIG = 31 << 20  # what the issue sent, 16 times at once


def headers_only(port: int, token: str | None, length: int = BIG, path: str = "/api/v1/events") -> bytes:
    """Send a POST's headers announcing `length` bytes, send no body, and read HQ's answer."""
    auth = f"Authorization: Bearer {token}\r\n" if token is not None else ""
    head = (f"POST {path} HTTP/1.1\r\nHost: hq\r\n{auth}Content-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(head)
        answer = b""
        while not _complete(answer):  # a timeout here is the defect: HQ waiting for the body
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        return answer


def _complete(answer: bytes) -> bool:
    head, sep, body = answer.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return True


def status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


@pytest.fixture
def small_hq(hq_db: Any) -> Iterator[HQServer]:
    """An HQ taking bodies up to 64 KiB, so the limit is quick to pass."""
    server = HQServer(create_app(hq_db, max_body=64 << 10)).start()
    yield server
    server.stop()


def test_a_bad_token_gets_401_before_the_body_is_sent(hq, hq_db):
    add_station(hq_db, "B07")
    for token in ("bogus", None, ""):
        answer = headers_only(hq.port, token)
        assert status(answer) == 401, answer[:200]
        assert b"www-authenticate: bearer" in answer.lower()


def test_the_issue_attack_sixteen_parallel_31mb_posts_with_a_bogus_token(hq, hq_db):
    """Every one of them is answered 401 from its headers: HQ never asked for one byte of a body."""
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda _: headers_only(hq.port, "bogus"), range(16)))
    assert [status(a) for a in answers] == [401] * 16


def test_a_revoked_or_reader_token_is_answered_before_the_body_too(hq, hq_db):
    from sync.hq.db import revoke_station

    token = add_station(hq_db, "B07")
    reader = add_reader(hq_db, "bi")
    answer = headers_only(hq.port, reader, length=1000)
    assert status(answer) == 403 and b"needs a station token" in answer
    revoke_station(hq_db, "B07")
    answer = headers_only(hq.port, token, length=1000)
    assert status(answer) == 401 and b"revoked" in answer


def test_a_valid_token_with_a_too_large_content_length_gets_413_before_the_body(hq, hq_db):
    token = add_station(hq_db, "B07")
    answer = headers_only(hq.port, token, length=(32 << 20) + 1)
    assert status(answer) == 413 and b"larger than 33554432 bytes" in answer


def test_a_chunked_body_is_counted_and_refused_past_the_limit(small_hq, hq_db):
    token = add_station(hq_db, "B07")
    sent = {"bytes": 0}

    def body() -> Iterator[bytes]:  # no Content-Length: HQ can only count
        yield b'{"protocol":1,"station_id":"B07","events":[],"pad":"'
        for _ in range(64):
            sent["bytes"] += 4096
            yield b"x" * 4096
        yield b'"}'

    resp = httpx.post(f"{small_hq.url}/api/v1/events", content=body(),
                      headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}, timeout=30)
    assert resp.status_code == 413 and "larger than 65536 bytes" in resp.json()["detail"]
    # under the limit, chunked, is fine
    ok = httpx.post(f"{small_hq.url}/api/v1/events", content=iter([b'{"protocol":1,', b'"station_id":"B07","events":[]}']),
                    headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}, timeout=30)
    assert ok.status_code == 200, ok.text


def test_every_answer_carries_a_request_id(hq, hq_db):
    token = add_station(hq_db, "B07")
    resp = httpx.get(f"{hq.url}/api/v1/config", headers={"Authorization": f"Bearer {token}",
                                                         "X-Dockstation-Protocol": "1"}, timeout=30)
    assert resp.status_code == 200 and len(resp.headers["x-request-id"]) == 32
    mine = httpx.get(f"{hq.url}/healthz", headers={"X-Request-ID": "lb-1234"}, timeout=30)
    assert mine.headers["x-request-id"] == "lb-1234"  # the load balancer's id is kept
    odd = httpx.get(f"{hq.url}/healthz", headers={"X-Request-ID": "a b\tc"}, timeout=30)
    assert odd.headers["x-request-id"] != "a b\tc"


def test_a_body_that_trickles_in_is_cut_and_frees_its_slot(hq_db):
    """An authenticated sender that stops mid-body gets 408 and its batch slot back: with one slot,
    the next batch is stored."""
    token = add_station(hq_db, "B07")
    server = HQServer(create_app(hq_db, batch_slots=1, body_seconds=1)).start()
    try:
        head = (f"POST /api/v1/events HTTP/1.1\r\nHost: hq\r\nAuthorization: Bearer {token}\r\n"
                "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n").encode()
        with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
            sock.sendall(head + b'{"protocol":1,')  # and then nothing
            answer = b""
            while not _complete(answer):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
        assert status(answer) == 408 and b"did not arrive within 1 s" in answer
        ok = httpx.post(f"{server.url}/api/v1/events", json={"protocol": 1, "station_id": "B07", "events": []},
                        headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert ok.status_code == 200
    finally:
        server.stop()
