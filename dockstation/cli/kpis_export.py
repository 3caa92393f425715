"""`dockstation export kpis --format csv|json [--since DATE] [--output FILE]`.

`dockstation export` belongs to the export feature (dockstation/cli/export.py); it calls
`run_export_kpis` for the `kpis` choice (or adds `kpis_command` as a subcommand if `export` is a
group). The figures and their definitions: dockstation.kpis.export, docs/kpis.md.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import click

from dockstation.config import ConfigError, StationConfig, load_layered


def run_export_kpis(home: Path, fmt: str, output: Path | None, since: str | None) -> None:
    """Write this bench's KPIs; a bad --since, config or output path ends with a one-line reason."""
    from dockstation.cli import fail
    from dockstation.kpis.config import load_kpis_config
    from dockstation.kpis.export import export_kpis, since_start
    from dockstation.store import DB_NAME, Store
    from dockstation.types import utcnow

    if since is not None:
        try:
            since_start(since, utcnow())
        except ValueError:
            fail(f"--since must be a date such as 2026-03-02, not {since!r}")
    if not (home / DB_NAME).is_file():
        fail(f"no bench database in {home} (set --home or ${'DOCKSTATION_HOME'})")
    try:
        cfg = load_kpis_config(home)
        station = load_layered("station.toml", StationConfig, home, required=True)
    except ConfigError as exc:
        fail(f"configuration refused: {exc}")
    store = Store.in_home(home)
    buf = io.StringIO()
    try:
        export_kpis(store, fmt, buf, since, cfg=cfg, site=station.site)
    except ValueError as exc:
        fail(str(exc))
    finally:
        store.close()
    if output is None:
        sys.stdout.write(buf.getvalue())
        return
    # Like the other exports: the file is replaced only when the export is complete.
    tmp = output.with_name(f".{output.name}.tmp")
    try:
        tmp.write_text(buf.getvalue(), encoding="utf-8", newline="")
        os.replace(tmp, output)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        fail(f"cannot write {output}: {exc.strerror or exc}")


@click.command("kpis")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="json", show_default=True)
@click.option("--since", default=None, metavar="DATE", help="Start date (UTC); default: Monday of this week.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File to write (default: standard output).")
@click.pass_obj
def kpis_command(ctx: object, fmt: str, since: str | None, output: Path | None) -> None:
    """This bench's KPI stack since a date: cycle time, accuracy, recovery, aging, leakage, capital."""
    run_export_kpis(ctx.home, fmt, output, since)  # type: ignore[attr-defined]


# Not registered on its own: `dockstation export` owns the command line (see module doc).
commands: list[click.Command] = []
