"""`hq import-manifest FILE`: expected returns loaded at HQ; benches pull the changes."""

from __future__ import annotations

from pathlib import Path

import click

from sync.hq.cli import db_option, fail, open_db


@click.command("import-manifest")
@click.argument("file", type=click.Path(path_type=Path))  # a missing file or a folder: exit 1 below
@db_option
def import_manifest_cmd(file: Path, db_url: str) -> None:
    """Load expected returns (Manifest CSV) at HQ; benches pull the changes."""
    from dockstation.manifest import ManifestError
    from sync.hq.manifest_import import import_csv

    db = open_db(db_url)
    try:
        report = import_csv(db, file)
    except ManifestError as exc:
        fail(f"{file.name}: {exc}")
    finally:
        db.dispose()
    for warning in report.warnings:
        click.echo(f"{file.name}: warning: {warning}", err=True)
    for err in report.error_rows:
        click.echo(f"{file.name}: line {err.line}: {err.reason}", err=True)
    click.echo(f"{file.name}: {report.rows} rows · RMAs new {report.rmas_new}, changed {report.rmas_changed}, "
               f"unchanged {report.rmas_unchanged} · {report.errors} bad rows")
    if report.errors:
        fail(f"{report.errors} bad row(s) refused (the good rows were loaded)", code=2)


commands: list[click.Command] = [import_manifest_cmd]
