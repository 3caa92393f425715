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
    from dockstation.kpis.render import to_json, to_table, write_csv
    from dockstation.kpis.stats import parse_week, week_of
    from dockstation.types import utcnow
    from sync.hq.kpis import report_options, weekly_report

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
    except Exception as exc:  # noqa: BLE001 - a lost connection, a missing table: one line
        fail(f"report failed: {type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}")
    finally:
        db.dispose()
    if fmt == "json":
        click.echo(to_json(result))
    elif fmt == "csv":
        buf = io.StringIO()
        write_csv(result, buf)
        click.echo(buf.getvalue(), nl=False)
    else:
        click.echo(to_table(result), nl=False)


commands: list[click.Command] = [report]
