"""Issue 17, sign-in: the console takes reader tokens only; its session cookie is HttpOnly,
SameSite=Strict, Secure behind TLS, and expires; forms carry tokens (CSRF); sign-out and a revoked
or rotated reader token end the session; the cookie opens no API route. A real HQ on loopback,
SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from console_support import csrf_of, sign_in, signed_in
from netfaults import HQServer, free_port
from test_hq_logs import wait_up

from sync.hq.app import create_app
from sync.hq.console.web import ConsoleSettings
from sync.hq.db import add_reader, add_station, revoke_reader


@pytest.fixture
def readers(hq_db: Any) -> dict[str, str]:
    return {"admin": add_reader(hq_db, "ana", scopes=("admin",)), "plain": add_reader(hq_db, "bi"),
            "station": add_station(hq_db, "B07", site="Leeds")}


def test_a_reader_signs_in_and_the_cookie_is_what_a_session_cookie_should_be(hq, readers):
    c, answer = sign_in(hq.url, readers["plain"])
    assert answer.status_code == 303 and answer.headers["location"] == "/kpis"
    cookie = next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and v.startswith("hq_session="))
    attrs = {a.strip().split("=")[0].lower(): a.strip() for a in cookie.split(";")[1:]}
    assert {"httponly", "samesite", "path", "max-age"} <= set(attrs)
    assert attrs["samesite"].lower() == "samesite=strict" and attrs["path"] == "Path=/"
    assert attrs["max-age"] == "Max-Age=43200"  # 12 h
    assert "secure" not in attrs  # plain http on loopback: a Secure cookie would never come back
    page = c.get("/kpis")
    assert page.status_code == 200 and "Signed in as" in page.text and "bi" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def _set_cookie(url: str, token: str, headers: dict[str, str]) -> str:
    c = httpx.Client(base_url=url, follow_redirects=False, headers=headers)
    form = c.get("/sign-in")
    # (a Secure cookie would stay in httpx's jar over plain http: sent by hand, as the browser does over TLS)
    signin = form.headers["set-cookie"].split(";")[0]
    answer = c.post("/sign-in", data={"csrf": csrf_of(form.text), "token": token}, headers={"Cookie": signin})
    assert answer.status_code == 303
    return next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and "hq_session=" in v)


@pytest.mark.parametrize("trusted", [False, True])
def test_behind_a_trusted_tls_proxy_the_cookie_is_secure_and_host_only(db_url, readers, tmp_path, trusted):
    """`hq serve` believes X-Forwarded-Proto only from the proxies --trust-proxy names."""
    port = free_port()
    proc = subprocess.Popen([str(Path(sys.executable).parent / "dockstation"), "hq", "serve", "--db", db_url,
                             "--port", str(port), *(["--trust-proxy", "127.0.0.1"] if trusted else [])],
                            stdout=(tmp_path / "out").open("wb"), stderr=(tmp_path / "err").open("wb"))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_up(url, proc)
        cookie = _set_cookie(url, readers["plain"], {"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.1.2.3"})
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    if trusted:
        assert cookie.startswith("__Host-hq_session=") and "Secure" in cookie and "Domain" not in cookie
        assert '"client": "10.1.2.3"' in (tmp_path / "out").read_text()
    else:  # anyone can send the header: it changes nothing
        assert cookie.startswith("hq_session=") and "Secure" not in cookie
        assert '"client": "10.1.2.3"' not in (tmp_path / "out").read_text()


@pytest.mark.parametrize(("who", "reason"), [("station", "station token refused"), ("nobody", "unknown token")])
def test_station_and_unknown_tokens_are_refused(hq, readers, who, reason):
    c, answer = sign_in(hq.url, readers.get(who, "not-a-token-at-all"))
    assert answer.status_code == 403 and reason in answer.text
    assert "set-cookie" not in {k for k, v in answer.headers.multi_items() if v.startswith("hq_session")}
    assert c.get("/kpis").status_code == 303  # still signed out


def test_a_form_without_its_token_is_refused(hq, readers):
    c = httpx.Client(base_url=hq.url, follow_redirects=False)
    c.get("/sign-in")
    refused = c.post("/sign-in", data={"token": readers["plain"]})
    assert refused.status_code == 403 and "form token" in refused.text
    signed = signed_in(hq.url, readers["admin"])
    assert signed.post("/stations/B07/revoke", data={}).status_code == 403
    assert signed.post("/stations/B07/revoke", data={"csrf": "guessed"}).status_code == 403
    other_site = signed.post("/stations/B07/revoke", data={"csrf": csrf_of(signed.get("/stations/B07/revoke").text)},
                             headers={"Origin": "https://evil.example"})
    assert other_site.status_code == 403 and "another site" in other_site.text
    assert httpx.get(f"{hq.url}/api/v1/config", headers={"Authorization": f"Bearer {readers['station']}",
                                                         "X-Dockstation-Protocol": "1"}).status_code == 200


def test_sign_out_ends_the_session(hq, readers):
    c = signed_in(hq.url, readers["plain"])
    cookie = c.cookies["hq_session"]
    out = c.post("/sign-out", data={"csrf": csrf_of(c.get("/kpis").text)})
    assert out.status_code == 303 and out.headers["location"] == "/sign-in?signed_out=1"
    again = httpx.get(f"{hq.url}/kpis", cookies={"hq_session": cookie}, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/sign-in")


@pytest.mark.parametrize("how", ["revoked", "rotated"])
def test_a_revoked_or_rotated_reader_token_ends_its_sessions(hq, hq_db, readers, how):
    c = signed_in(hq.url, readers["plain"])
    assert c.get("/kpis").status_code == 200
    revoke_reader(hq_db, "bi") if how == "revoked" else add_reader(hq_db, "bi", rotate=True)
    assert c.get("/kpis").status_code == 303
    if how == "revoked":
        assert sign_in(hq.url, readers["plain"])[1].status_code == 403


@pytest.mark.parametrize("settings", [ConsoleSettings(session_hours=0.0), ConsoleSettings(idle_minutes=0.0)])
def test_sessions_expire(hq_db, readers, settings):
    server = HQServer(create_app(hq_db, console=settings)).start()
    try:
        c, answer = sign_in(server.url, readers["plain"])
        assert answer.status_code == 303
        assert c.get("/kpis").status_code == 303
    finally:
        server.stop()


def test_the_cookie_opens_no_api_route(hq, readers):
    c = signed_in(hq.url, readers["admin"])
    for path in ("/api/v1/kpis/weekly?week=2026-W07", "/api/v1/units/B07-00000001", "/api/v1/config"):
        assert c.get(path).status_code == 401


def test_after_sign_in_only_a_path_of_this_console(hq, readers):
    c = httpx.Client(base_url=hq.url, follow_redirects=False)
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "/api/v1/config"):
        form = c.get("/sign-in")
        answer = c.post("/sign-in", data={"csrf": csrf_of(form.text), "token": readers["plain"], "next": target})
        assert answer.headers["location"] == "/kpis"
    form = c.get("/sign-in")
    answer = c.post("/sign-in", data={"csrf": csrf_of(form.text), "token": readers["plain"],
                                      "next": "/units?q=RMA-1"})
    assert answer.headers["location"] == "/units?q=RMA-1"


def test_console_requests_are_logged_with_the_reader_and_never_a_token_or_cookie(hq, readers, caplog):
    caplog.set_level(logging.INFO, logger="dockstation.hq.request")
    c = signed_in(hq.url, readers["plain"])
    c.get("/kpis")
    sign_in(hq.url, readers["station"])
    secrets = [readers["plain"], readers["station"], c.cookies["hq_session"]]

    def logged() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name == "dockstation.hq.request"]

    def refusals() -> list[logging.LogRecord]:
        return [r for r in logged() if r.hq["route"] == "/sign-in" and r.hq["status"] == 403]

    deadline = time.monotonic() + 30  # a request's line is written as its answer goes out: wait for it
    while not refusals() and time.monotonic() < deadline:
        time.sleep(0.02)
    lines = logged()
    page = [r for r in lines if r.hq["route"] == "/kpis"]
    assert page and page[-1].hq["reader"] == "bi" and page[-1].hq["status"] == 200
    refused = refusals()
    assert refused and refused[-1].hq["auth"] == "station token refused"
    for record in lines:
        text = record.getMessage() + repr(record.hq)
        assert not any(s in text for s in secrets)
