"""GET /api/v1/kpis/weekly on a real uvicorn, and `dockstation hq report` in every format."""

from __future__ import annotations

import csv
import io
import json
import socket
import threading
import time

import httpx
import pytest
import uvicorn
from click.testing import CliRunner
from kpi_data import SITES, build
from test_hq_report_sql import insert

from sync.hq.app import create_app
from sync.hq.db import HQDatabase, add_reader, add_station
from sync.hq.cli.report import report


@pytest.fixture
def hq_db(tmp_path):
    url = f"sqlite:///{tmp_path / 'hq.sqlite3'}"
    db = HQDatabase(url)
    with db.write() as conn:
        insert(conn, build())
    yield db, url
    db.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(hq_db):
    db, _ = hq_db
    add_station(db, "B99", site="HQ")  # an idle station: listed with zeros
    token = add_reader(db, "kpi-test")  # the weekly route is for head office readers
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(db), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", token
    srv.should_exit = True
    thread.join(5)


def test_weekly_route_answers_the_hand_built_week(server):
    base, token = server
    auth = {"Authorization": f"Bearer {token}"}
    r = httpx.get(f"{base}/api/v1/kpis/weekly", params={"week": "2026-W10"}, headers=auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["period"] == "2026-W10"
    stations = {s["station_id"]: s for s in body["stations"]}
    assert set(stations) == {"B07", "B08", "B99"}  # every registered station, idle ones too
    assert stations["B07"]["site"] == "NORTH" and stations["B99"]["disposed"] == 0
    assert body["total"]["cycle_time_hours"] == {"p50": 5.0, "p90": 10.0}
    assert body["total"]["accuracy"] == {"right_first_time": 10, "disposed": 13, "rate": 0.7692}
    assert body["total"]["capital_released"] == "428"
    assert body["total"]["aging"] == {"≤30d": 3, "30–60d": 3, "60–90d": 1, ">90d": 1}
    leak = {(x["source"], x["type"]): x for x in body["total"]["leakage"]["by_type"]}
    assert leak[("exception", "unknown_rma")] == {"type": "unknown_rma", "source": "exception", "count": 3,
                                                  "value": "45.50"}
    # no token, a bad token, a bad week
    assert httpx.get(f"{base}/api/v1/kpis/weekly", params={"week": "2026-W10"}).status_code == 401
    assert httpx.get(f"{base}/api/v1/kpis/weekly", params={"week": "2026-W10"},
                     headers={"Authorization": "Bearer nope"}).status_code == 401
    assert httpx.get(f"{base}/api/v1/kpis/weekly", params={"week": "2026-10"}, headers=auth).status_code == 422
    bad = httpx.get(f"{base}/api/v1/kpis/weekly", params={"week": "2026-W60"}, headers=auth)
    assert bad.status_code == 422 and "no such ISO week" in bad.text
    assert "/api/v1/kpis/weekly" in httpx.get(f"{base}/openapi.json").json()["paths"]


def test_hq_report_cli_formats(hq_db):
    _, url = hq_db
    runner = CliRunner()
    out = runner.invoke(report, ["--db", url, "--week", "2026-W10", "--format", "json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["total"]["disposed"] == 13

    out = runner.invoke(report, ["--db", url, "--week", "2026-W10", "--format", "csv"])
    assert out.exit_code == 0, out.output
    rows = list(csv.DictReader(io.StringIO(out.output)))
    want = {(r["station_id"], r["metric"]): r["value"] for r in rows if r["section"] == "summary"}
    assert want[("*", "cycle_p90_hours")] == "10.0" and want[("B08", "cycle_p50_hours")] == "4.0"
    assert want[("B07", "right_first_time")] == "8" and want[("B07", "capital_released")] == "368"
    assert {r["site"] for r in rows if r["station_id"] == "B08"} == {SITES["B08"]}

    out = runner.invoke(report, ["--db", url, "--week", "2026-W10"])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].startswith("KPIs 2026-W10")
    total = next(l for l in lines if l.split()[:1] == ["TOTAL"])
    assert total.split()[1:5] == ["13", "13", "5.00", "10.00"]
    assert "Margin leakage by exception type" in out.output

    bad = runner.invoke(report, ["--db", url, "--week", "2026-W99"])
    assert bad.exit_code != 0 and "no such ISO week" in bad.output


def test_hq_report_is_attached_to_the_hq_group(hq_db):
    from dockstation.cli import main

    _, url = hq_db
    out = CliRunner().invoke(main, ["hq", "report", "--db", url, "--week", "2026-W10", "--format", "json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["total"]["accuracy"]["rate"] == 0.7692
