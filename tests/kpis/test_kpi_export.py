"""`export_kpis` (the bench's `dockstation export kpis`) over a seeded store, and its CLI glue."""

from __future__ import annotations

import csv
import io
import json

import click
from bench_seed import NOW, seed
from click.testing import CliRunner

from dockstation.cli import Context
from dockstation.cli.kpis_export import kpis_command
from dockstation.kpis.export import export_kpis


def test_json_export_since_monday(store):
    seed(store)
    out = io.StringIO()
    export_kpis(store, "json", out, "2026-03-02", now=NOW, site="NORTH")
    body = json.loads(out.getvalue())
    t = body["total"]
    assert body["period"] == "since 2026-03-02" and body["stations"][0]["site"] == "NORTH"
    # received Monday 00:00 (edge, included) .. today; unit 6 (31 days) and 14 (last week) are not
    assert t["received"] == 10 and t["disposed"] == 3
    assert t["cycle_time_hours"] == {"p50": 5.0, "p90": 21.0}
    assert t["accuracy"]["right_first_time"] == 2  # unit 13 was overridden
    assert t["capital_released"] == "140"  # restock 90 + open_box 30 + liquidate 20 (after override)
    assert t["aging"] == {"≤30d": 6, "30–60d": 1, "60–90d": 0, ">90d": 0}  # unit 15 voided, gone


def test_csv_export_and_default_since(store):
    seed(store)
    out = io.StringIO()
    report = export_kpis(store, "csv", out, None, now=NOW)
    assert report.start.isoformat() == "2026-03-02T00:00:00+00:00"  # Monday of NOW's week
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert rows[0].keys() == {"period", "site", "station_id", "section", "key", "metric", "value"}
    summary = {(r["station_id"], r["metric"]): r["value"] for r in rows if r["section"] == "summary"}
    assert summary[("*", "disposed")] == "3" and summary[("B07", "cycle_p50_hours")] == "5.0"
    assert {r["key"] for r in rows if r["section"] == "recovery"} == {"phones/restock", "phones/open_box",
                                                                       "phones/liquidate"}


def test_cli_glue(home, store):
    seed(store)

    @click.group()
    @click.pass_context
    def export(ctx):
        ctx.obj = Context(home)

    export.add_command(kpis_command)
    runner = CliRunner()
    ok = runner.invoke(export, ["kpis", "--format", "json", "--since", "2026-01-01"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["period"] == "since 2026-01-01"
    target = home / "k.csv"
    assert runner.invoke(export, ["kpis", "--format", "csv", "-o", str(target)]).exit_code == 0
    assert target.read_text().startswith("period,site,station_id,section,key,metric,value")
    bad = runner.invoke(export, ["kpis", "--since", "last tuesday"])
    assert bad.exit_code != 0 and "--since must be a date" in bad.output
