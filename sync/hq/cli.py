"""`dockstation hq …`: the head-office server and its data (docs/sync.md).

Every command takes the same `--db URL` (`$DOCKSTATION_HQ_DB`): `sqlite:///path` (default
`./hq.sqlite3`) or `postgresql+psycopg://user@host/db`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import click

from dockstation.cli import fail

DB_HELP = "HQ database: sqlite:///FILE (default ./hq.sqlite3) or postgresql+psycopg://USER@HOST/DB."
# Shared by every `hq` command, including `hq report` (sync/hq/report_cli.py imports it from here).
db_option = click.option("--db", "db_url", envvar="DOCKSTATION_HQ_DB", default="sqlite:///hq.sqlite3",
                         show_default=True, help=DB_HELP)


def open_db(db_url: str):  # type: ignore[no-untyped-def]
    from sync.hq.db import HQDatabase

    try:
        return HQDatabase(db_url)
    except Exception as exc:  # unreachable server, bad URL, no permission
        fail(f"cannot open the HQ database {db_url!r}: {str(exc).splitlines()[0]}")


@click.group("hq")
def hq() -> None:
    """Head-office server (HQ): serve benches, register stations and readers, load the manifest."""


@hq.command("serve")
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8040, show_default=True, type=int)
@click.option("--config-dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Configuration served to benches (default: the package's config/).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes (HQ is stateless: any number may share one PostgreSQL).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
def serve(db_url: str, host: str, port: int, config_dir: Path | None, workers: int, log_level: str) -> None:
    """Run the HQ HTTP API (OpenAPI at /docs and /openapi.json); logs JSON lines to stdout."""
    import logging
    import logging.config

    import uvicorn

    from dockstation.config import package_config_dir
    from sync.bundle import BundleRefused, check_config_dir
    from sync.hq.app import ENV_CONFIG_DIR, create_app
    from sync.hq.logs import log_config

    directory = config_dir or package_config_dir()
    try:
        bundle = check_config_dir(directory)
    except BundleRefused as exc:
        fail(f"configuration refused, not serving it to benches: {exc}")
    db = open_db(db_url)
    # Once, here: HQ's and uvicorn's loggers as JSON lines on stdout; uvicorn's access log (which
    # prints query strings, tokens and all) off, HQ's own request line instead (sync/hq/logs.py).
    logging_config = log_config(log_level)
    logging.config.dictConfig(logging_config)
    logging.getLogger("dockstation.hq").info(
        "HQ on http://%s:%d · database %s · config %s (version %s) · %d worker(s)", host, port, db.describe(),
        directory, bundle.version[:12], workers)
    options = {"host": host, "port": port, "log_level": log_level, "log_config": logging_config, "access_log": False}
    if workers == 1:
        uvicorn.run(create_app(db, config_dir=directory), **options)
        return
    db.dispose()
    os.environ["DOCKSTATION_HQ_DB"] = db_url
    os.environ[ENV_CONFIG_DIR] = str(directory)
    uvicorn.run("sync.hq.app:app_from_env", factory=True, workers=workers, **options)


@hq.command("add-station")
@click.argument("station_id")
@db_option
@click.option("--site", default="", help="Site name, for reports.")
@click.option("--rotate", is_flag=True, help="Give an existing station a new token (the old one stops working).")
def add_station_cmd(station_id: str, db_url: str, site: str, rotate: bool) -> None:
    """Register a bench and print its token once (HQ keeps only a hash of it)."""
    from sync.hq.db import StationExists, add_station

    if not re.fullmatch(r"[A-Z0-9]{1,8}", station_id):
        fail(f"station id must be 1-8 capital letters or digits (as in station.toml), got {station_id!r}")
    db = open_db(db_url)
    try:
        token = add_station(db, station_id, site=site, rotate=rotate)
    except StationExists as exc:
        fail(str(exc))
    finally:
        db.dispose()
    click.echo(token)
    click.echo(f"Station {station_id} {'has a new token' if rotate else 'registered'}. Put the token above in "
               "that bench's config/station.toml as [hq] token = \"…\". It is not shown again.", err=True)


READER_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"


@hq.command("add-reader")
@click.argument("name")
@db_option
@click.option("--rotate", is_flag=True, help="Give an existing reader a new token (the old one stops working).")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(["refunds"]),
              help="Also read the refund feed (GET /api/v1/refunds). Repeatable; on --rotate, replaces the "
                   "reader's scopes (none given: kept).")
def add_reader_cmd(name: str, db_url: str, rotate: bool, scopes: tuple[str, ...]) -> None:
    """Register an HQ reader (head office: weekly KPIs, any unit) and print its token once."""
    from sync.hq.db import ReaderExists, add_reader

    if not re.fullmatch(READER_NAME, name):
        fail(f"reader name must be 1-64 letters, digits, '.', '_' or '-' (starting with a letter or digit), "
             f"got {name!r}")
    db = open_db(db_url)
    try:
        token = add_reader(db, name, rotate=rotate, scopes=scopes if scopes or not rotate else None)
    except ReaderExists as exc:
        fail(str(exc))
    finally:
        db.dispose()
    click.echo(token)
    click.echo(f"Reader {name} {'has a new token' if rotate else 'registered'}: it reads /api/v1/kpis/weekly and "
               "/api/v1/units/{lpn} of every station" + (" and the refund feed, /api/v1/refunds" if "refunds" in scopes
                                                          else "") + ". Keep it secret. It is not shown again.", err=True)


def _revoke(kind: str, name: str, db_url: str) -> None:
    from sync.hq.db import revoke_reader, revoke_station

    db = open_db(db_url)
    try:
        found = (revoke_station if kind == "station" else revoke_reader)(db, name)
    finally:
        db.dispose()
    if not found:
        fail(f"no {kind} {name!r} at HQ (dockstation hq list shows them)")
    again = f"add-station {name} --rotate" if kind == "station" else f"add-reader {name} --rotate"
    click.echo(f"{kind.capitalize()} {name}: token revoked, refused from now on (401)"
               + (", its events stay at HQ" if kind == "station" else "")
               + f". A new token: dockstation hq {again}.")


@hq.command("revoke-station")
@click.argument("station_id")
@db_option
def revoke_station_cmd(station_id: str, db_url: str) -> None:
    """Shut a station's token out at once (a stolen bench PC); its events stay at HQ."""
    _revoke("station", station_id, db_url)


@hq.command("revoke-reader")
@click.argument("name")
@db_option
def revoke_reader_cmd(name: str, db_url: str) -> None:
    """Shut an HQ reader's token out at once."""
    _revoke("reader", name, db_url)


@hq.command("list")
@db_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def list_cmd(db_url: str, fmt: str) -> None:
    """Stations (site, last push, acked seq, revoked, open conflicts) and HQ readers."""
    import json

    from dockstation.types import iso
    from sync.hq.db import list_readers, list_stations

    db = open_db(db_url)
    try:
        stations, readers = list_stations(db), list_readers(db)
    finally:
        db.dispose()

    if fmt == "json":  # times ISO 8601 UTC, null for a station that never pushed
        def plain(rows: list[dict]) -> list[dict]:  # type: ignore[type-arg]
            return [{k: iso(v) if k.endswith("_at") else v for k, v in row.items()} for row in rows]

        click.echo(json.dumps({"stations": plain(stations), "readers": plain(readers)}, indent=2))
        return

    def when(value: object) -> str:
        return (iso(value) or "")[:19].replace("T", " ")  # type: ignore[arg-type]

    def state(row: dict) -> str:  # type: ignore[type-arg]
        return "revoked" if row["revoked"] else "active"

    click.echo(f"{'STATION':<9} {'SITE':<12} {'STATE':<8} {'ACKED SEQ':>10}  {'LAST PUSH (UTC)':<19}  CONFLICTS")
    for row in stations:
        push = when(row["last_push_at"]) or "never"
        click.echo(f"{row['station_id']:<9} {row['site'] or '-':<12} {state(row):<8} {row['acked_seq']:>10}  "
                   f"{push:<19}  {row['open_conflicts'] or '-'}")
    if not stations:
        click.echo("(no stations: dockstation hq add-station ID)")
    if any(row["open_conflicts"] for row in stations):
        click.echo("Open conflicts: their benches' sync exits 5 until resolved (dockstation hq conflicts).")
    click.echo("")
    click.echo(f"{'READER':<24} {'STATE':<8} CREATED (UTC)")
    for row in readers:
        click.echo(f"{row['name']:<24} {state(row):<8} {when(row['created_at'])}")
    if not readers:
        click.echo("(no readers: dockstation hq add-reader NAME)")


@hq.command("import-manifest")
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


# -- `hq report` belongs to the KPI feature: sync/hq/report_cli.py defines a click command named
# `report`; it is attached here when that module exists. -----------------------------------------
try:
    from sync.hq.report_cli import report as _report_cmd
except ModuleNotFoundError as _exc:
    if _exc.name != "sync.hq.report_cli":
        raise
else:
    hq.add_command(_report_cmd)

from sync.hq.conflicts_cli import commands as _conflict_cmds  # noqa: E402  (they use db_option above)

for _cmd in _conflict_cmds:
    hq.add_command(_cmd)

from sync.hq.refunds.cli import commands as _refund_cmds  # noqa: E402  (the refund feed's webhooks)

for _cmd in _refund_cmds:
    hq.add_command(_cmd)

commands: list[click.Command] = [hq]
