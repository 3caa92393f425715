"""Issue 14 item 15 and HQ's logs: `dockstation hq serve` writes JSON lines to stdout (request id,
route, station, status, duration) and never a token, wherever a caller put it (a query string, a
header, a path). Before, uvicorn's access log printed every request line as sent, query and all.

A real `dockstation hq serve` process on loopback, on SQLite and on PostgreSQL, with 1 and 2 workers.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from netfaults import free_port

from sync.hq.db import HQDatabase, add_reader, add_station

REQUEST_FIELDS = {"ts", "level", "logger", "msg", "request_id", "method", "route", "station", "status", "duration_ms"}


def serve(db_url: str, port: int, out: Path, err: Path, workers: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([str(Path(sys.executable).parent / "dockstation"), "hq", "serve", "--db", db_url,
                             "--port", str(port), "--workers", str(workers)],
                            stdout=out.open("wb"), stderr=err.open("wb"))


def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("hq serve did not come up")


@pytest.mark.parametrize("workers", [1, 2])
def test_hq_logs_json_lines_and_never_a_token(db_url, tmp_path, workers):
    db = HQDatabase(db_url)
    station, other, reader = add_station(db, "B07"), add_station(db, "B08"), add_reader(db, "bi")
    db.dispose()
    port, out, err = free_port(), tmp_path / "stdout", tmp_path / "stderr"
    proc = serve(db_url, port, out, err, workers)
    url = f"http://127.0.0.1:{port}"
    ids = {}
    try:
        wait_up(url, proc)
        auth = {"Authorization": f"Bearer {station}", "X-Dockstation-Protocol": "1"}
        pushed = httpx.post(f"{url}/api/v1/events", headers=auth, json={"protocol": 1, "station_id": "B07", "events": [
            {"seq": 1, "kind": "unit_received", "at": "2026-11-20T09:00:00+00:00", "lpn": "B07-00000001",
             "payload": {"customer": "Jane Roe", "email": "jane@example.com"}}]})
        assert pushed.status_code == 200
        ids["push"] = pushed.headers["x-request-id"]
        # tokens where they do not belong: a query string, a path, a bogus header
        ids["query"] = httpx.get(f"{url}/api/v1/units/B07-00000001", headers=auth,
                                 params={"token": other, "access_token": reader}).headers["x-request-id"]
        ids["path"] = httpx.get(f"{url}/api/v1/{other}", headers=auth).headers["x-request-id"]
        ids["bogus"] = httpx.get(f"{url}/api/v1/config", headers={"Authorization": f"Bearer {other}x"}).headers[
            "x-request-id"]
        ids["reader"] = httpx.get(f"{url}/api/v1/kpis/weekly", params={"week": "2026-W47", "t": station},
                                  headers={"Authorization": f"Bearer {reader}"}).headers["x-request-id"]
        httpx.get(f"{url}/api/v1/manifest", headers=auth, params={"after": "+"})
    finally:
        proc.terminate()
        proc.wait(30)
    text = out.read_text() + err.read_text()
    for secret in (station, other, reader, "Jane Roe", "jane@example.com"):
        assert secret not in text
    assert "token=" not in text and "access_token" not in text
    lines = [json.loads(line) for line in out.read_text().splitlines()]  # every line is JSON
    assert lines and all({"ts", "level", "logger", "msg"} <= set(line) for line in lines)
    requests = {line["request_id"]: line for line in lines if line["logger"] == "dockstation.hq.request"}
    assert all(REQUEST_FIELDS <= set(line) for line in requests.values())
    push = requests[ids["push"]]
    assert (push["method"], push["route"], push["station"], push["status"]) == ("POST", "/api/v1/events", "B07", 200)
    assert isinstance(push["duration_ms"], float) and push["client"] == "127.0.0.1"
    assert (requests[ids["query"]]["route"], requests[ids["query"]]["status"]) == ("/api/v1/units/{lpn}", 200)
    assert requests[ids["path"]]["route"] is None and requests[ids["path"]]["status"] == 404
    bogus = requests[ids["bogus"]]
    assert (bogus["status"], bogus["station"], bogus["auth"]) == (401, None, "unknown token")
    assert (requests[ids["reader"]]["reader"], requests[ids["reader"]]["station"]) == ("bi", None)
    assert any(line["logger"] == "uvicorn.error" for line in lines)  # uvicorn's own lines are JSON too
    assert not err.read_text().strip()  # nothing on stderr at all
