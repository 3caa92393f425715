"""Issue 17, the console's pages over HTTP against a real HQ, on the hand-built history of
console_data.py (its docstring works the answers out): KPIs in total, per site and per station, the
12-week trend, charts, CSV of every table (formula-safe); stations with revoke and rotate; exceptions
by kind, station, age and state, shown as text; a unit's history and an RMA or order look-up."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import httpx
import pytest
from console_data import FORMULA, PREV_WEEK, WEEK, XSS, load
from console_support import csrf_of, kpi, row_text, signed_in, text_of

from sync.hq.db import add_reader


@pytest.fixture
def data(hq: Any, hq_db: Any, tmp_path: Any) -> dict[str, Any]:
    tokens = load(hq_db, tmp_path)
    return {"stations": tokens, "admin": add_reader(hq_db, "ana", scopes=("admin",)), "plain": add_reader(hq_db, "bi")}


@pytest.fixture
def admin(hq: Any, data: dict[str, Any]) -> httpx.Client:
    return signed_in(hq.url, data["admin"])


def test_the_kpi_page_shows_the_hand_worked_answers(admin):
    page = admin.get("/kpis", params={"week": WEEK})
    assert page.status_code == 200
    html = page.text
    assert (kpi(html, "received"), kpi(html, "disposed")) == ("4", "4")
    assert (kpi(html, "p50"), kpi(html, "p90")) == ("10.0 h", "48.0 h")
    assert kpi(html, "accuracy") == "50.0%"
    assert (kpi(html, "recovery"), kpi(html, "capital"), kpi(html, "leakage")) == ("145.00", "145.00", "25.00")
    assert "55.8% of price" in html
    rows = row_text(html, "summary")
    assert rows[1].startswith("All stations 4 4 10.0 h 48.0 h 50.0% 145.00 55.8% 145.00 25.00 0 1 0 0")
    assert any(r.startswith("Leeds all 3 3 10.0 h 20.0 h") for r in rows)
    assert any(r.startswith("York all 1 1 48.0 h 48.0 h") for r in rows)
    assert any(r.startswith("Leeds B07 2 2 10.0 h 20.0 h") for r in rows)
    recovery = row_text(html, "recovery-table")
    assert "phones liquidate 1 20.00 100.00 20.0%" in recovery and "toys recycle 1 0.00 20.00 0.0%" in recovery
    leakage = row_text(html, "leakage-table")
    assert "unknown_rma exception 1 15.00" in leakage and "empty_box flag 1 10.00" in leakage
    assert html.count('<svg class="chart"') == 5 and "<title>Cycle time" in html
    assert row_text(html, "triggers-table")[1:] == ["ungraded-30d 1"]


@pytest.mark.parametrize(("scope", "figures"), [("site:Leeds", ("3", "10.0 h", "20.0 h")),
                                                ("site:York", ("1", "48.0 h", "48.0 h")),
                                                ("station:B08", ("1", "4.0 h", "4.0 h"))])
def test_per_site_and_per_station(admin, scope, figures):
    html = admin.get("/kpis", params={"week": WEEK, "scope": scope}).text
    assert (kpi(html, "disposed"), kpi(html, "p50"), kpi(html, "p90")) == figures


def test_the_trend_fills_in_and_the_week_is_picked_in_the_page(admin):
    html = admin.get("/kpis", params={"week": WEEK}).text
    assert 'type="week"' in html and f'value="{WEEK}"' in html
    deadline = time.monotonic() + 60
    while "being computed" in html and time.monotonic() < deadline:  # the other 11 weeks, in the background
        time.sleep(0.2)
        html = admin.get("/kpis", params={"week": WEEK}).text
    trend = row_text(html, "trend-table")
    assert trend[-1].startswith(f"{WEEK} 10.0 h 48.0 h 4 50.0% 145.00")
    assert trend[-2].startswith(f"{PREV_WEEK} 24.0 h 24.0 h 1 100.0% 85.00")
    assert len(trend) == 13  # header + 12 weeks
    assert "<title>P50 2026-W06: 24 h</title>" in html


def test_every_table_downloads_as_csv_and_no_cell_runs_as_a_formula(admin):
    for table in ("summary", "trend", "recovery", "aging", "leakage", "triggers"):
        got = admin.get(f"/kpis/{table}.csv", params={"week": WEEK})
        assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
        assert f'filename="kpis-{WEEK}-{table}.csv"' in got.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(got.text)))
        assert len(rows) >= 2
    summary = list(csv.DictReader(io.StringIO(admin.get("/kpis/summary.csv", params={"week": WEEK}).text)))
    total = summary[0]
    assert (total["level"], total["disposed"], total["cycle_p50_hours"], total["capital_released"]) == \
        ("total", "4", "10.0", "145.00")
    exceptions = admin.get("/exceptions.csv", params={"state": "all"}).text
    assert "'" + FORMULA.replace('"', '""') in exceptions  # neutralised, and still all there
    assert admin.get("/kpis/nothing.csv", params={"week": WEEK}).status_code == 404


def test_exceptions_across_stations_filtered_and_shown_as_text(admin):
    html = admin.get("/exceptions").text  # open ones by default
    rows = row_text(html, "exceptions")
    assert len(rows) == 2 and "B07 unknown_rma" in rows[1]
    assert XSS not in html and "&lt;script&gt;" in html and "<img src=x" not in html
    assert XSS in text_of(html)
    everything = row_text(admin.get("/exceptions", params={"state": "all"}).text, "exceptions")
    assert len(everything) == 3 and any("C01 duplicate" in r and "matched" in r for r in everything)
    assert len(row_text(admin.get("/exceptions", params={"state": "all", "station": "C01"}).text, "exceptions")) == 2
    assert len(row_text(admin.get("/exceptions", params={"state": "all", "kind": "duplicate"}).text, "exceptions")) == 2
    # all of them are months old: none under a day, both open ones over 30 days
    assert "No exception matches" in admin.get("/exceptions", params={"age": "1d"}).text
    assert len(row_text(admin.get("/exceptions", params={"age": "30d"}).text, "exceptions")) == 2


def test_a_unit_and_its_whole_history(admin):
    found = admin.get("/units", params={"q": "b07-00000002"})
    assert found.status_code == 303 and found.headers["location"] == "/units/B07-00000002"
    html = admin.get("/units/B07-00000002").text
    history = row_text(html, "history-table")[1:]
    assert [r.split(" ")[3:5] for r in history][:1] == [["unit", "received"]]
    assert len(history) == 6  # received, started, answered, graded, disposed twice
    disposed = [r for r in history if "unit disposed" in r]
    assert "liquidate" in disposed[-1] and "9001 (Lee Lead)" in disposed[-1]
    assert "rule-liquidate 2026.02-1" in disposed[-1] and "override" in disposed[-1]
    assert "2001 (Gale Grader)" in history[3]
    summary = text_of(html)
    assert "State disposed" in summary and "liquidate" in summary and "Grade C" in summary
    csv_rows = list(csv.DictReader(io.StringIO(admin.get("/units/B07-00000002/history.csv").text)))
    assert [r["kind"] for r in csv_rows][-2:] == ["unit_disposed", "unit_disposed"]
    assert admin.get("/units/B07-00000099").status_code == 404


@pytest.mark.parametrize(("q", "lpns"), [("RMA-2026-000003", ["B08-00000001"]),
                                         ("ORD-1001", ["B07-00000001", "B07-00000002"])])
def test_an_rma_or_an_order_lists_its_units(admin, q, lpns):
    html = admin.get("/units", params={"q": q}).text
    for lpn in lpns:
        assert f'href="/units/{lpn}"' in html
    assert "Nothing at HQ" in admin.get("/units", params={"q": "RMA-NOPE"}).text


def test_stations_page_and_revoking_and_rotating_with_a_confirmation(hq, admin, data):
    html = admin.get("/stations").text
    rows = row_text(html, "stations")
    assert any(r.startswith("B07 Leeds ✔ active") for r in rows)
    station_auth = {"Authorization": f"Bearer {data['stations']['B08']}", "X-Dockstation-Protocol": "1"}
    confirm = admin.get("/stations/B08/revoke")
    assert confirm.status_code == 200 and "Revoke station B08" in confirm.text
    assert httpx.get(f"{hq.url}/api/v1/config", headers=station_auth).status_code == 200  # not yet
    done = admin.post("/stations/B08/revoke", data={"csrf": csrf_of(confirm.text)})
    assert done.status_code == 303
    assert httpx.get(f"{hq.url}/api/v1/config", headers=station_auth).status_code == 401
    assert any(r.startswith("B08 Leeds ✖ revoked") for r in row_text(admin.get("/stations").text, "stations"))

    rotated = admin.post("/stations/B07/rotate", data={"csrf": csrf_of(admin.get("/stations/B07/rotate").text)})
    assert rotated.status_code == 200 and rotated.headers["cache-control"] == "no-store"
    new = rotated.text.split('id="new-token" class="token" type="text" readonly size="60" value="')[1].split('"')[0]
    old = data["stations"]["B07"]
    for token, status in ((new, 200), (old, 401)):
        got = httpx.get(f"{hq.url}/api/v1/config", headers={"Authorization": f"Bearer {token}",
                                                            "X-Dockstation-Protocol": "1"})
        assert got.status_code == status
    assert new not in admin.get("/stations").text  # shown once
    audit = row_text(admin.get("/stations").text, "audit-table")
    assert any("ana station rotated B07" in r for r in audit) and any("ana station revoked B08" in r for r in audit)


def test_a_reader_without_the_admin_scope_reads_but_does_not_revoke(hq, data):
    plain = signed_in(hq.url, data["plain"])
    assert "Revoke…" not in plain.get("/stations").text
    assert plain.get("/stations/B07/revoke").status_code == 403
    refused = plain.post("/stations/B07/revoke", data={"csrf": csrf_of(plain.get("/kpis").text)})
    assert refused.status_code == 403 and "admin scope" in refused.text


def test_the_clock_a_bench_reports_is_shown(hq, admin, data):
    auth = {"Authorization": f"Bearer {data['stations']['C01']}", "X-Dockstation-Protocol": "1",
            "X-Dockstation-Clock-Skew": "-305.2"}
    assert httpx.post(f"{hq.url}/api/v1/events", headers=auth,
                      json={"protocol": 1, "station_id": "C01", "events": []}).status_code == 200
    row = next(r for r in row_text(admin.get("/stations").text, "stations") if r.startswith("C01"))
    assert "⚠ 5 min behind" in row
    auth["X-Dockstation-Clock-Skew"] = "nan"  # a hint HQ cannot read is ignored, never refused
    assert httpx.post(f"{hq.url}/api/v1/events", headers=auth,
                      json={"protocol": 1, "station_id": "C01", "events": []}).status_code == 200


def test_kpis_refresh_computes_the_weeks_ahead_of_the_first_view(hq, hq_db, data, db_url):
    from click.testing import CliRunner

    from dockstation.cli import main

    ran = CliRunner().invoke(main, ["hq", "kpis-refresh", "--db", db_url, "--week", WEEK])
    assert ran.exit_code == 0, ran.output
    assert f"{WEEK}: 4 disposed" in ran.output and f"{PREV_WEEK}: 1 disposed" in ran.output
    html = signed_in(hq.url, data["plain"]).get("/kpis", params={"week": WEEK}).text
    assert "being computed" not in html
    assert row_text(html, "trend-table")[-2].startswith(f"{PREV_WEEK} 24.0 h")
