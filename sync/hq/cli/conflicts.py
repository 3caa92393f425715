"""`dockstation hq conflicts` and `dockstation hq resolve-conflict` (sync/hq/conflicts.py; docs/sync.md).

A conflict is a seq HQ holds, sent again with other content. HQ keeps its stored version and the
station's benches are told on every sync (exit 5) until an operator here resolves it.
"""

from __future__ import annotations

import getpass
import json

import click

from sync.hq.cli import db_option, fail, open_db


def _when(value: object) -> str:
    from dockstation.types import iso

    return (iso(value) or "")[:19].replace("T", " ")  # type: ignore[arg-type]


def _brief(event: dict | None) -> str:  # type: ignore[type-arg]
    if not event:
        return "(none)"
    return f"{event.get('kind')} {event.get('lpn') or '-'} at {str(event.get('at'))[:19]}"


@click.command("conflicts")
@db_option
@click.option("--station", "station_id", help="Only this station's conflicts.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def conflicts_cmd(db_url: str, station_id: str | None, fmt: str) -> None:
    """Open conflicts: events sent with a seq HQ holds with other content (both versions)."""
    from dockstation.text import clean
    from dockstation.types import iso
    from sync.hq.conflicts import list_open

    db = open_db(db_url)
    try:
        rows = list_open(db, station_id)
    finally:
        db.dispose()
    if fmt == "json":
        click.echo(json.dumps([{**r, "received_at": iso(r["received_at"])} for r in rows], indent=2, default=str))
        return
    if not rows:
        click.echo("no open conflicts" + (f" for station {station_id}" if station_id else ""))
        return
    click.echo(f"{'ID':>6} {'STATION':<8} {'SEQ':>8}  {'SENT (UTC)':<19}  {'DIFFERS IN':<26} HQ KEEPS  /  SENT")
    for r in rows:
        click.echo(f"{r['id']:>6} {r['station_id']:<8} {r['seq']:>8}  {_when(r['received_at']):<19}  "
                   f"{', '.join(r['differs']):<26} {clean(_brief(r['stored']), limit=60)}  /  "
                   f"{clean(_brief(r['sent']), limit=60)}")
    stations = sorted({r["station_id"] for r in rows})
    click.echo(f"{len(rows)} open conflict(s) of {', '.join(stations)}. Their benches' `dockstation sync` exits 5 "
               "until they are resolved: dockstation hq resolve-conflict --station ID --keep sent|stored "
               "(or by ID). --format json shows both versions whole.")


@click.command("resolve-conflict")
@click.argument("ids", nargs=-1, type=int)
@db_option
@click.option("--station", "station_id", help="All open conflicts of this station (instead of IDs).")
@click.option("--keep", type=click.Choice(["sent", "stored"]), required=True,
              help="sent: the version sent later replaces HQ's (e.g. a forged history pushed first with a stolen "
                   "token); stored: HQ's version stays, the sent one is discarded.")
@click.option("--note", default="", help="Why (kept with the resolution).")
@click.option("--by", "by", default=None, help="Who resolves (default: the login name).")
def resolve_cmd(ids: tuple[int, ...], db_url: str, station_id: str | None, keep: str, note: str,
                by: str | None) -> None:
    """Resolve open conflicts (by ID, or all of --station): keep the sent or the stored version."""
    from sync.hq.conflicts import ResolveError, resolve

    if bool(ids) == bool(station_id):
        fail("name the conflicts to resolve: their IDs, or --station ID (dockstation hq conflicts lists them)")
    db = open_db(db_url)
    try:
        done = resolve(db, keep=keep, ids=list(ids) or None, station_id=station_id, by=by or getpass.getuser(),
                       note=note)
    except ResolveError as exc:
        fail(str(exc))
    finally:
        db.dispose()
    stations = sorted({r["station_id"] for r in done})
    what = "the sent version replaced HQ's" if keep == "sent" else "HQ's version kept, the sent one discarded"
    click.echo(f"{len(done)} conflict(s) of {', '.join(stations)} resolved ({what}): seqs "
               f"{', '.join(str(r['seq']) for r in done[:20])}{' …' if len(done) > 20 else ''}.")


@click.command("drop-events")
@click.argument("station_id")
@db_option
@click.option("--after", type=click.IntRange(0), required=True,
              help="The bench's own last seq: every event of the station above it is dropped.")
@click.option("--note", default="", help="Why (kept with each dropped event).")
@click.option("--by", "by", default=None, help="Who drops them (default: the login name).")
@click.option("--yes", is_flag=True, help="Drop them: without it, only say what would be dropped.")
def drop_cmd(station_id: str, db_url: str, after: int, note: str, by: str | None, yes: bool) -> None:
    """Remove a station's events above a seq its bench never reached (a history forged with a stolen token)."""
    from sqlalchemy import func, select

    from sync.hq.conflicts import ResolveError, drop_events
    from sync.hq.db import HqEvent

    db = open_db(db_url)
    try:
        if not yes:
            t = HqEvent.__table__
            with db.read() as conn:
                n = conn.execute(select(func.count()).select_from(t)
                                 .where(t.c.station_id == station_id, t.c.seq > after)).scalar_one()
            click.echo(f"would drop {n} event(s) of {station_id} above seq {after} (kept for audit in "
                       "hq_conflict_resolved); run again with --yes to drop them")
            return
        dropped = drop_events(db, station_id, after=after, by=by or getpass.getuser(), note=note)
    except ResolveError as exc:
        fail(str(exc))
    finally:
        db.dispose()
    click.echo(f"{dropped} event(s) of {station_id} above seq {after} dropped (kept for audit in hq_conflict_resolved); "
               f"the bench sends its own from seq {after + 1} at its next sync.")


commands = [conflicts_cmd, resolve_cmd, drop_cmd]
