"""Container events at a real HQ after sync (issue 15): uvicorn on loopback, SQLite and
PostgreSQL. `GET /api/v1/containers/{id}` folds the container from its station's events; a
station reads only its own; the weekly report counts what was shipped and the capital released."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
from click.testing import CliRunner

from dockstation import containers as ct
from dockstation.config import load_bench_config
from dockstation.kpis.stats import week_of
from dockstation.policy import load_policy
from dockstation.receiving import Bench
from dockstation.types import utcnow
from sync.hq.db import add_reader

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "containers"))
from containers_support import disposed, operator  # noqa: E402
from policy_support import OPERATORS  # noqa: E402


def get(hq, path: str, token: str) -> httpx.Response:
    return httpx.get(f"{hq.url}/api/v1{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_container_events_reach_hq_and_fold_into_the_container(hq, hq_db, make_bench):
    side = make_bench("B07", url=hq.url)
    (side.home / "config" / "operators.toml").write_text(OPERATORS)  # a grader and a lead too
    cfg = load_bench_config(side.home)
    bench = Bench(station_id="B07", codes=cfg.codes, operators=cfg.operators)
    policy = load_policy(side.home)
    store = side.store
    box = ct.open_container(store, "B07", "9001", policy=policy, paths=["liquidate"]).id
    other = ct.open_container(store, "B07", "9001", policy=policy, paths=["liquidate"]).id
    lpns = [disposed(store, bench, policy, i, grade=g, price="40.00") for i, g in enumerate("CDC", 1)]
    for lpn in lpns:
        ct.put(store, "B07", "2001", lpn, box, policy=policy)
    ct.put(store, "B07", "2001", lpns[2], other, policy=policy)  # moved out again
    ct.close(store, "B07", operator(bench, "grader"), box, grade_order=["A", "B", "C", "D", "F"])
    assert side.client().sync_once().outcome == "ok"

    reader = add_reader(hq_db, "ops")
    r = get(hq, f"/containers/{box}", reader)
    assert r.status_code == 200, r.text
    c = r.json()
    assert c["id"] == box and c["state"] == "closed" and c["kind"] == "gaylord" and c["paths"] == ["liquidate"]
    assert c["units"] == sorted(lpns[:2]) and c["lot_grade"] == "D" and c["value"] == "14.80"
    assert c["station_id"] == "B07" and c["closed_at"].endswith("+00:00")
    unit = get(hq, f"/units/{lpns[2]}", reader).json()  # the unit says where it is
    assert unit["container"] == other and unit["sorted_at"] is not None
    moved = get(hq, f"/containers/{other}", reader).json()
    assert moved["state"] == "open" and moved["units"] == [lpns[2]]

    assert get(hq, f"/containers/{box}", side.token).status_code == 200  # its own station
    intruder = make_bench("B09")
    assert get(hq, f"/containers/{box}", intruder.token).status_code == 404
    assert get(hq, "/containers/CT-B07-999999", reader).status_code == 404
    assert get(hq, "/containers/bad%20id", reader).status_code in (400, 422)

    week = week_of(utcnow())
    r = get(hq, f"/kpis/weekly?week={week}", reader)
    figures = r.json()["containers"]
    assert figures["closed"] == 1 and figures["units"] == 2 and figures["capital_released"] == "14.80"
    assert figures["shipped"] == [{"path": "liquidate", "containers": 1, "units": 2, "value": "14.80"}]
    res = CliRunner().invoke(__import__("dockstation.cli", fromlist=["main"]).main,
                             ["hq", "report", "--db", hq_db.url, "--week", week, "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["containers"]["capital_released"] == "14.80"
