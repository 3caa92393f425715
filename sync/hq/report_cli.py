"""`dockstation hq report --week YYYY-Www [--format table|csv|json] [--db URL]`.

The `hq` command group (sync/hq/cli.py) attaches `report` from here. Same figures as
GET /api/v1/kpis/weekly (definitions: docs/kpis.md). The `--db` option matches every other `hq`
command; it is declared here rather than imported, because cli/hq.py imports this module while
it is itself being imported.
"""

from __future__ import annotations

import io
from pathlib import Path

import click

DB_HELP = "HQ database: sqlite:///FILE (default ./hq.sqlite3) or postgresql+psycopg://USER@HOST/DB."


@click.command("report")
@click.option("--db", "db_url", envvar="DOCKSTATION_HQ_DB", default="sqlite:///hq.sqlite3", show_default=True,
              help=DB_HELP)
@click.option("--week", default=None, metavar="YYYY-Www", help="ISO week (UTC); default: the current week.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--config-dir", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help="Folder with HQ's kpis.toml (aging buckets, definitions); default: the package's config/.")
def report(db_url: str, week: str | None, fmt: str, config_dir: Path | None) -> None:
    """Weekly KPI report over all stations: per site/station and in total."""
    from dockstation.cli import fail
    from dockstation.cli.hq import open_db
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
