"""Issue 14 item 14: requests with a valid token that made HQ answer 500 now get a 4xx with a reason.

A real uvicorn HQ on loopback, on SQLite and on PostgreSQL (each was a 500 on at least one).
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from sync.hq.db import add_reader, add_station
from sync.protocol import PROTOCOL_HEADER, encode_cursor


def get(hq: Any, path: str, token: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{hq.url}/api/v1{path}", params=params, timeout=30,
                     headers={"Authorization": f"Bearer {token}", PROTOCOL_HEADER: "1"})


def post(hq: Any, token: str, content: bytes) -> httpx.Response:
    return httpx.post(f"{hq.url}/api/v1/events", content=content, timeout=30,
                      headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})


def reason(resp: httpx.Response) -> str:
    detail = resp.json()["detail"]
    return detail if isinstance(detail, str) else "; ".join(f"{e['loc']}: {e['msg']}" for e in detail)


@pytest.mark.parametrize("week", ["9999-W52", "0000-W00", "2025-W53", "2026-W54", "1969-W10", "2200-W01"])
def test_weeks_hq_cannot_report_are_422(hq, hq_db, week):
    reader = add_reader(hq_db, "bi")
    resp = get(hq, "/kpis/weekly", reader, week=week)
    assert resp.status_code == 422, resp.text
    assert "week" in reason(resp)


def test_the_last_week_hq_reports_and_a_long_year(hq, hq_db):
    reader = add_reader(hq_db, "bi")
    assert get(hq, "/kpis/weekly", reader, week="2199-W52").status_code == 200
    assert get(hq, "/kpis/weekly", reader, week="2026-W53").status_code == 200  # 2026 has 53 ISO weeks
    assert get(hq, "/kpis/weekly", reader, week="2025-W53").status_code == 422  # 2025 has 52


@pytest.mark.parametrize("lpn", ["%00", "B07-0000%000001", "%C3%28", "B07-00000001%0A"])
def test_a_unit_id_that_is_no_lpn_is_422(hq, hq_db, lpn):
    reader = add_reader(hq_db, "bi")
    resp = httpx.get(f"{hq.url}/api/v1/units/{lpn}", headers={"Authorization": f"Bearer {reader}"}, timeout=30)
    assert resp.status_code == 422, resp.text
    assert "lpn" in reason(resp)


@pytest.mark.parametrize("number", [2**63, 2**64 + 5, 10**40, 10**18])
def test_a_cursor_holding_a_number_past_what_hq_issues_is_422(hq, hq_db, number):
    """Cursors hold HQ's change ids, below 10**18; OpenAPI gives their exact pattern."""
    token = add_station(hq_db, "B07")
    cursor = base64.urlsafe_b64encode(f"c1:{number}".encode()).decode().rstrip("=")
    resp = get(hq, "/manifest", token, after=cursor)
    assert resp.status_code == 422, resp.text
    assert "after" in reason(resp)


@pytest.mark.parametrize("after", ["+", "YzE6", "YzE6MQ==", "abc", "YzE6M"])
def test_what_is_not_a_cursor_hq_made_is_422(hq, hq_db, after):
    token = add_station(hq_db, "B07")
    resp = get(hq, "/manifest", token, after=after)
    assert resp.status_code == 422 and "after" in reason(resp), resp.text


def test_the_largest_cursor_is_ahead_of_hq_not_an_error(hq, hq_db):
    token = add_station(hq_db, "B07")
    resp = get(hq, "/manifest", token, after=encode_cursor(10**18 - 1))
    assert resp.status_code == 410 and "start again without a cursor" in reason(resp)


@pytest.mark.parametrize("body", [b"\x80", b'{"protocol":1,"station_id":"B07","events":[],"x":"\xff"}', b"\xef\xbb\xbf{}",
                                  b'{"protocol":1,"station_id":"B07","events":[{"seq":1,"kind":"a","at":"\\ud800"}]}'])
def test_a_body_that_is_not_utf8_json_is_422_with_a_reason(hq, hq_db, body):
    token = add_station(hq_db, "B07")
    resp = post(hq, token, body)
    assert resp.status_code == 422, resp.text
    assert reason(resp)  # a list of (loc, msg); the input is never echoed back


@pytest.mark.parametrize("at", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+01:00",
                                "0346-12-11T04:47:51.936586-22:53", "2026-11-20T09:00:00+16:00"])
def test_a_time_outside_what_utc_can_hold_is_422(hq, hq_db, at):
    token = add_station(hq_db, "B07")
    body = ('{"protocol":1,"station_id":"B07","events":[{"seq":1,"kind":"unit_received","at":"%s",'
            '"lpn":"B07-00000001"}]}' % at).encode()
    resp = post(hq, token, body)
    assert resp.status_code == 422, resp.text
    assert "in years 0002-9998" in reason(resp)


@pytest.mark.parametrize("payload", [
    '{"x":"\\ud800"}', '{"x":"\\udc00\\ud800"}', '{"x":1e400}', '{"x":-1e400}', '{"x":123456789012345678901234567890}',
    '{"\\u0000":"\\u0000"}', pytest.param('{"x":' + "[" * 60 + "]" * 60 + "}", id="deep"), '{"x":"\\ud83d\\ude00"}',
    '{"x":1.0e-400}', '{"x":[1e999,2]}', '{"x":{"y":1E+400}}',
])
def test_odd_json_in_a_payload_is_stored_or_refused_never_a_500(hq, hq_db, payload):
    token = add_station(hq_db, "B07")
    body = ('{"protocol":1,"station_id":"B07","events":[{"seq":1,"kind":"unit_received",'
            '"at":"2026-11-20T09:00:00+00:00","lpn":"B07-00000001","payload":%s}]}' % payload).encode()
    first = post(hq, token, body)
    assert first.status_code in (200, 422), first.text
    if first.status_code == 200:  # and sent again, it is the same event: a duplicate, not a conflict
        again = post(hq, token, body).json()
        assert (again["duplicates"], again["conflicts"]) == (1, [])
        assert get(hq, "/units/B07-00000001", token).status_code == 200


def test_a_number_past_a_double_is_refused_by_name(hq, hq_db):
    token = add_station(hq_db, "B07")
    body = (b'{"protocol":1,"station_id":"B07","events":[{"seq":1,"kind":"unit_received",'
            b'"at":"2026-11-20T09:00:00+00:00","lpn":"B07-00000001","payload":{"unit_price":1e400}}]}')
    resp = post(hq, token, body)
    assert resp.status_code == 422 and "too large for a 64-bit float" in reason(resp)


def test_a_seq_written_as_a_whole_float_is_that_seq(hq, hq_db):
    """OpenAPI's integer includes 3.0; HQ takes it as 3 on both databases (not a 500 on PostgreSQL)."""
    token = add_station(hq_db, "B07")
    body = (b'{"protocol":1.0,"station_id":"B07","events":[{"seq":1.0,"kind":"unit_received",'
            b'"at":"2026-11-20T09:00:00Z","lpn":"B07-00000001"},{"seq":2e0,"kind":"unit_received",'
            b'"at":"2026-11-20T09:00:00Z","lpn":"B07-00000002"}]}')
    resp = post(hq, token, body)
    assert resp.status_code == 200 and resp.json()["acked_seq"] == 2, resp.text
    assert post(hq, token, body.replace(b"1.0,", b"1.5,", 1)).status_code == 422
