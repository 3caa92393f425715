"""The refund feed at HQ: paged to its end with no entry twice, stable and idempotent, for reader
tokens with the `refunds` scope; webhooks signed the Standard Webhooks way, verified by a receiver
on loopback with the reference library, retried while the receiver is down, each event delivered
once by id (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from standardwebhooks import Webhook

from dockstation.cli import main
from sync.hq.db import add_reader, add_station
from sync.hq.refunds import feed
from sync.hq.refunds.webhooks import add_webhook, deliver_due, deliveries

H = {"X-Dockstation-Protocol": "1"}


def _decided(seq: int, station: str, rma: str, amount: str = "10.00") -> dict[str, Any]:
    return {"seq": seq, "kind": "refund_decided", "at": f"2026-11-20T09:00:{seq % 60:02d}+00:00", "rma_id": rma,
            "payload": {"refund": "full", "amount": amount, "currency": "USD", "reason": "Returned as sold",
                        "rules": [], "policy_version": "2026.11-1", "decided_at": "2026-11-20T09:00:00+00:00",
                        "units": [{"lpn": f"{station}-{seq:08d}", "refund": "full", "amount": amount}],
                        "lpns": [f"{station}-{seq:08d}"], "missing_lines": []}}


def _other(seq: int) -> dict[str, Any]:
    return {"seq": seq, "kind": "operator_signed_in", "at": "2026-11-20T08:00:00+00:00", "operator": "1001"}


def _push(hq, token: str, station: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    r = httpx.post(f"{hq.url}/api/v1/events", headers={"Authorization": f"Bearer {token}", **H}, timeout=30,
                   json={"protocol": 1, "station_id": station, "events": events})
    assert r.status_code == 200, r.text
    return r.json()


def _page(hq, token: str, after: str = "", limit: int = 3) -> httpx.Response:
    return httpx.get(f"{hq.url}/api/v1/refunds", params={"after": after, "limit": limit},
                     headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _all(hq, token: str, after: str = "", limit: int = 3) -> tuple[list[dict[str, Any]], str]:
    entries: list[dict[str, Any]] = []
    while True:
        r = _page(hq, token, after, limit)
        assert r.status_code == 200, r.text
        body = r.json()
        assert _page(hq, token, after, limit).json() == body  # idempotent: the same cursor, the same page
        entries += body["entries"]
        after = body["cursor"]
        if not body["more"]:
            return entries, after


def test_the_feed_paged_to_its_end_with_no_entry_twice(hq, hq_db):
    a, b = add_station(hq_db, "A1"), add_station(hq_db, "B2")
    reader = add_reader(hq_db, "finance", scopes=("refunds",))
    _push(hq, a, "A1", [_other(1), _decided(2, "A1", "RMA-1"), _decided(3, "A1", "RMA-2"), _other(4)])
    _push(hq, b, "B2", [_decided(1, "B2", "RMA-3"), _decided(3, "B2", "RMA-5")])  # seq 2 not there yet: a gap
    first, cursor = _all(hq, reader)
    assert [e["rma_id"] for e in first] == ["RMA-1", "RMA-2", "RMA-3"]  # RMA-5 waits behind B2's gap
    assert first[0]["id"] == "A1-2" and first[0]["refund"] == "full" and first[0]["amount"] == "10.00"
    assert _page(hq, reader, cursor).json() == {"entries": [], "cursor": cursor, "more": False}
    _push(hq, b, "B2", [_decided(2, "B2", "RMA-4"), _decided(4, "B2", "RMA-1", "99.00")])  # the gap closes
    for n in range(5, 12):
        _push(hq, a, "A1", [_decided(n, "A1", f"RMA-A{n}")])
    later, _ = _all(hq, reader, cursor, limit=4)
    ids = [e["rma_id"] for e in first + later]
    assert len(ids) == len(set(ids)) == 12  # RMA-1 decided again by B2: the first decision stands
    assert {"RMA-4", "RMA-5"} <= set(ids[3:])  # B2's, read once its gap closed
    again, _ = _all(hq, reader, "", limit=5)  # stable: from the start, the same entries in the same order
    assert again == first + later


def test_only_readers_with_the_refunds_scope_read_it(hq, hq_db):
    station = add_station(hq_db, "A1")
    plain = add_reader(hq_db, "kpis")
    assert _page(hq, station).status_code == 403
    r = _page(hq, plain)
    assert r.status_code == 403 and "--scope refunds" in r.json()["detail"]
    assert _page(hq, plain, after="not a cursor!").status_code in (403, 422)
    scoped = add_reader(hq_db, "finance", scopes=("refunds",))
    assert _page(hq, scoped, after="bm90LWEtY3Vyc29y").status_code == 422


def test_add_reader_with_the_refunds_scope_on_the_command_line(hq_db, db_url):
    out = CliRunner().invoke(main, ["hq", "add-reader", "finance", "--scope", "refunds", "--db", db_url])
    assert out.exit_code == 0, out.output
    with hq_db.read() as conn:
        from sync.hq.db import reader_scopes

        assert reader_scopes(conn, "finance") == {"refunds"}


class Receiver:
    """A webhook endpoint on loopback: verifies each delivery with the Standard Webhooks library,
    answers 503 while `down`, counts messages by id."""

    def __init__(self, secret: str) -> None:
        self.verifier = Webhook(secret)
        self.down = True
        self.seen: dict[str, int] = {}
        self.bodies: dict[str, Any] = {}
        self.refused = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["content-length"]))
                if receiver.down:
                    self.send_response(503)
                    self.end_headers()
                    return
                try:
                    data = receiver.verifier.verify(body, {k.lower(): v for k, v in self.headers.items()})
                except Exception:  # noqa: BLE001 - a bad signature
                    receiver.refused += 1
                    self.send_response(400)
                    self.end_headers()
                    return
                msg = self.headers["webhook-id"]
                receiver.seen[msg] = receiver.seen.get(msg, 0) + 1
                receiver.bodies[msg] = data
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/refunds"

    def close(self) -> None:
        self.server.shutdown()


def test_webhooks_signed_retried_and_delivered_once_by_id(hq, hq_db, monkeypatch):
    a = add_station(hq_db, "A1")
    receiver = Receiver("whsec_" + "A" * 44)  # replaced below with the secret HQ prints
    try:
        webhook_id, secret = add_webhook(hq_db, receiver.url, ["refund.decided"])
        receiver.verifier = Webhook(secret)
        _push(hq, a, "A1", [_decided(n, "A1", f"RMA-{n}") for n in range(1, 4)])
        with httpx.Client() as client:
            assert deliver_due(hq_db, client) == 0  # the receiver is down: 503, each kept for later
            log = deliveries(hq_db)
            assert {d["state"] for d in log} == {"pending"} and {d["last_status"] for d in log} == {503}
            assert all(d["attempts"] == 1 for d in log)
            # HQ "down and up": another worker (a new process) picks the deliveries up once due
            import sync.hq.refunds.webhooks as wh

            monkeypatch.setattr(wh, "backoff", lambda attempts: 0.0)  # the clock, not the behaviour
            receiver.down = False
            deadline = time.monotonic() + 30
            while len(receiver.seen) < 3 and time.monotonic() < deadline:
                deliver_due(hq_db, client)
            _push(hq, a, "A1", [_decided(4, "A1", "RMA-4")])
            while len(receiver.seen) < 4 and time.monotonic() < deadline:
                deliver_due(hq_db, client)
            assert deliver_due(hq_db, client) == 0  # nothing left: each delivered once
        assert receiver.refused == 0
        assert sorted(receiver.seen.values()) == [1, 1, 1, 1]
        assert {b["data"]["rma_id"] for b in receiver.bodies.values()} == {"RMA-1", "RMA-2", "RMA-3", "RMA-4"}
        assert all(b["type"] == "refund.decided" for b in receiver.bodies.values())
        assert {d["state"] for d in deliveries(hq_db)} == {"delivered"}
        out = CliRunner().invoke(main, ["hq", "webhooks", "--db", hq_db.url, "--format", "json"])
        assert out.exit_code == 0, out.output
        log = json.loads(out.output)
        assert log["webhooks"][0]["id"] == webhook_id and len(log["deliveries"]) == 4
    finally:
        receiver.close()


def test_a_tampered_delivery_fails_verification():
    from sync.hq.refunds.webhooks import new_secret, sign

    secret = new_secret()
    body = b'{"type":"refund.decided","timestamp":"x","data":{}}'
    ts = int(time.time())
    headers = {"webhook-id": "msg_refund_1", "webhook-timestamp": str(ts),
               "webhook-signature": sign(secret, "msg_refund_1", ts, body)}
    assert Webhook(secret).verify(body, headers)["type"] == "refund.decided"
    with pytest.raises(Exception):
        Webhook(secret).verify(body.replace(b"{}", b'{"x":1}'), headers)


def test_cursor_round_trip():
    assert feed.decode_cursor(feed.encode_cursor(123456)) == 123456
    with pytest.raises(feed.CursorError):
        feed.decode_cursor("YzE6MTIz")  # a manifest cursor is not a refund cursor
