"""`hq add-station`, `hq add-reader`, `hq revoke-station`, `hq revoke-reader`, `hq list`:
who may talk to HQ (station and reader tokens, stored only as SHA-256)."""

from __future__ import annotations

import re

import click

from sync.hq.cli import db_option, fail, open_db


@click.command("add-station")
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


@click.command("add-reader")
@click.argument("name")
@db_option
@click.option("--rotate", is_flag=True, help="Give an existing reader a new token (the old one stops working).")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(["admin", "refunds"]),
              help="What the reader may do beyond reading: `admin` revokes and rotates station tokens and "
                   "publishes policy from the console; `refunds` reads the refund feed (GET /api/v1/refunds). "
                   "Repeatable; on --rotate, replaces the reader's scopes when given.")
def add_reader_cmd(name: str, db_url: str, rotate: bool, scopes: tuple[str, ...]) -> None:
    """Register an HQ reader (head office: the console, weekly KPIs, any unit) and print its token once."""
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
    what = " and may revoke/rotate station tokens and publish policy (admin)" if "admin" in scopes else ""
    what += ", and reads the refund feed /api/v1/refunds" if "refunds" in scopes else ""
    click.echo(f"Reader {name} {'has a new token' if rotate else 'registered'}: it signs in to the console at / and "
               f"reads /api/v1/kpis/weekly and /api/v1/units/{{lpn}} of every station{what}. Keep it secret. "
               "It is not shown again.", err=True)


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


@click.command("revoke-station")
@click.argument("station_id")
@db_option
def revoke_station_cmd(station_id: str, db_url: str) -> None:
    """Shut a station's token out at once (a stolen bench PC); its events stay at HQ."""
    _revoke("station", station_id, db_url)


@click.command("revoke-reader")
@click.argument("name")
@db_option
def revoke_reader_cmd(name: str, db_url: str) -> None:
    """Shut an HQ reader's token out at once."""
    _revoke("reader", name, db_url)


@click.command("list")
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

    def skew(row: dict) -> str:  # type: ignore[type-arg]
        s = row["clock_skew_s"]
        return "-" if s is None else f"{s:+.1f} s"

    click.echo(f"{'STATION':<9} {'SITE':<12} {'STATE':<8} {'ACKED SEQ':>10}  {'LAST PUSH (UTC)':<19}  {'CLOCK':>9}  "
               "CONFLICTS")
    for row in stations:
        push = when(row["last_push_at"]) or "never"
        click.echo(f"{row['station_id']:<9} {row['site'] or '-':<12} {state(row):<8} {row['acked_seq']:>10}  "
                   f"{push:<19}  {skew(row):>9}  {row['open_conflicts'] or '-'}")
    if not stations:
        click.echo("(no stations: dockstation hq add-station ID)")
    if any(row["open_conflicts"] for row in stations):
        click.echo("Open conflicts: their benches' sync exits 5 until resolved (dockstation hq conflicts).")
    click.echo("")
    click.echo(f"{'READER':<24} {'STATE':<8} {'CREATED (UTC)':<19}  SCOPES")
    for row in readers:
        click.echo(f"{row['name']:<24} {state(row):<8} {when(row['created_at']):<19}  {row['scopes'] or '-'}")
    if not readers:
        click.echo("(no readers: dockstation hq add-reader NAME)")


commands: list[click.Command] = [add_station_cmd, add_reader_cmd, revoke_station_cmd, revoke_reader_cmd, list_cmd]
