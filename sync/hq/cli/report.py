"""`dockstation hq report --week YYYY-Www [--format table|csv|json] [--db URL]`.

Same figures as GET /api/v1/kpis/weekly and the console's KPI page (definitions: docs/kpis.md).
"""

from __future__ import annotations

import io
from pathlib import Path

import click

from sync.hq.cli import db_option, fail, open_db


@click.command("report")
@db_option
@click.option("--week", default=None, metavar="YYYY-Www", help="ISO week (UTC); default: the current week.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--config-dir", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help="Folder with HQ's kpis.toml (aging buckets, definitions); default: the package's config/.")
def report(db_url: str, week: str | None, fmt: str, config_dir: Path | None) -> None:
    """Weekly KPI report over all stations: per site/station and in total."""
    from dockstation.config import ConfigError
    from dockstation.kpis.render import to_table, write_csv
    from dockstation.kpis.stats import parse_week, week_of
    from dockstation.types import utcnow
    from sync.hq.kpis import report_options, weekly_report, with_containers

    week = week or week_of(utcnow())
    try:
        parse_week(week)
    except ValueError as exc:
        fail(str(exc))
    try:
        options = report_options(config_dir)
    except ConfigError as exc:
        fail(f"configuration refused: {exc}")
    db = open_db(db_url)
    try:
        result = weekly_report(db, week, options=options)
        text = with_containers(db, result, week, options) if fmt == "json" else ""
    except Exception as exc:  # noqa: BLE001 - a lost connection, a missing table: one line
        fail(f"report failed: {type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}")
    finally:
        db.dispose()
    if fmt == "json":
        click.echo(text)
    elif fmt == "csv":
        buf = io.StringIO()
        write_csv(result, buf)
        click.echo(buf.getvalue(), nl=False)
    else:
        click.echo(to_table(result), nl=False)





@click.command("kpis-refresh")
@db_option
@click.option("--weeks", default=12, show_default=True, type=click.IntRange(1, 260),
              help="How many weeks, ending with --week.")
@click.option("--week", default=None, metavar="YYYY-Www", help="The last week to compute; default: the current week.")
@click.option("--config-dir", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help="Folder with HQ's kpis.toml, as for `hq serve`.")
def kpis_refresh(db_url: str, weeks: int, week: str | None, config_dir: Path | None) -> None:
    """Compute the console's weekly KPI reports now (e.g. nightly from cron), so no one waits for them."""
    import time
    from datetime import timedelta

    from dockstation.kpis.stats import parse_week, week_of
    from dockstation.types import utcnow
    from sync.hq.console.kpi_cache import compute

    last = week or week_of(utcnow())
    try:
        start, _ = parse_week(last)
    except ValueError as exc:
        fail(str(exc))
    db = open_db(db_url)
    try:
        for n in range(weeks - 1, -1, -1):
            w = week_of(start - timedelta(weeks=n))
            began = time.perf_counter()
            got = compute(db, w, config_dir)
            disposed = (got.report or {}).get("total", {}).get("disposed", 0)
            click.echo(f"{w}: {disposed} disposed, computed in {time.perf_counter() - began:.1f} s")
    except Exception as exc:  # noqa: BLE001 - a lost connection, a bad kpis.toml: one line
        fail(f"kpis-refresh failed: {type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}")
    finally:
        db.dispose()
commands: list[click.Command] = [report, kpis_refresh]
