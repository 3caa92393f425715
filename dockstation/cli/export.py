"""`dockstation export units|exceptions|events|photos|containers|kpis --format csv|json [--output FILE] [--since DATE]`."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from dockstation.cli import Context, fail, pass_ctx


def _since(value: str | None) -> datetime | None:
    """A date (midnight UTC) or an ISO 8601 time; a time without an offset is taken as UTC."""
    if value is None:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--since: not a date or ISO 8601 time: {value!r} (e.g. 2026-11-01 or 2026-11-01T08:00:00+01:00)")
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


@click.command("export")
@click.argument("what", type=click.Choice(["units", "exceptions", "events", "photos", "containers", "kpis"]))
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="json", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to FILE (replaced only when the export is complete); default: stdout.")
@click.option("--since", "since_text", default=None, metavar="DATE",
              help="Only rows from DATE on (units received or changed, exceptions raised or "
                   "resolved, events recorded), e.g. 2026-11-01 (UTC) or an ISO time with offset.")
@pass_ctx
def export_cmd(ctx: Context, what: str, fmt: str, output: Path | None, since_text: str | None) -> None:
    """Export this bench's units, exceptions, events, photos, containers or KPIs as CSV or JSON."""
    if what == "kpis":  # the KPI stack (dockstation.kpis), not rows of a table
        from dockstation.cli.kpis_export import run_export_kpis

        run_export_kpis(ctx.home, fmt, output, since_text)
        return
    from dockstation.export import export
    from dockstation.store import DB_NAME, Store, StoreError

    since = _since(since_text)
    if not (ctx.home / DB_NAME).is_file():
        fail(f"no bench database in {ctx.home} (set --home or DOCKSTATION_HOME)")
    try:
        store = Store.in_home(ctx.home)
    except (StoreError, OSError) as exc:
        fail(f"cannot open the bench database in {ctx.home}: {exc}")
    try:
        if output is None:
            export(store, what, fmt, sys.stdout, since=since)  # type: ignore[arg-type]
            return
        part = output.with_name(output.name + ".part")
        try:
            with part.open("w", encoding="utf-8", newline="") as fh:
                count = export(store, what, fmt, fh, since=since)  # type: ignore[arg-type]
            os.replace(part, output)
        except OSError as exc:
            part.unlink(missing_ok=True)
            fail(f"{output}: cannot write: {exc.strerror or exc}")
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        click.echo(f"{output}: {count} {what}", err=True)
    finally:
        store.close()


commands: list[click.Command] = [export_cmd]
