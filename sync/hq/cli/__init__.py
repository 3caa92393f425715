"""`dockstation hq …`: the head-office server and its data, all its command-line code here
(docs/hq.md, docs/sync.md). `dockstation/cli/hq.py` only registers the group.

| module | commands |
| --- | --- |
| `serve.py` | `hq serve`, `hq migrate` |
| `tokens.py` | `hq add-station`, `hq add-reader`, `hq revoke-station`, `hq revoke-reader`, `hq list` |
| `manifest.py` | `hq import-manifest` |
| `report.py` | `hq report`, `hq kpis-refresh` |
| `conflicts.py` | `hq conflicts`, `hq resolve-conflict`, `hq drop-events` |
| `webhooks.py` | `hq add-webhook`, `hq webhooks`, `hq remove-webhook` (the refund feed, sync/hq/refunds) |

Every command takes the same `--db URL` (`$DOCKSTATION_HQ_DB`): `sqlite:///path` (default
`./hq.sqlite3`) or `postgresql+psycopg://user@host/db`.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

DB_HELP = "HQ database: sqlite:///FILE (default ./hq.sqlite3) or postgresql+psycopg://USER@HOST/DB."
db_option = click.option("--db", "db_url", envvar="DOCKSTATION_HQ_DB", default="sqlite:///hq.sqlite3",
                         show_default=True, help=DB_HELP)


def fail(message: str, code: int = 1) -> None:
    """`dockstation.cli.fail`, imported when needed: `dockstation.cli` registers this group while
    it is itself being imported, so this package must not import it first."""
    from dockstation.cli import fail as _fail

    _fail(message, code)


def open_db(db_url: str, *, migrate: bool = False) -> Any:
    """The HQ database, its schema checked (sync/hq/schema.py); any failure is one line and exit 1."""
    from sync.hq.db import HQDatabase
    from sync.hq.schema import SchemaError

    try:
        return HQDatabase(db_url, migrate=migrate)
    except SchemaError as exc:
        fail(str(exc))
    except Exception as exc:  # unreachable server, bad URL, no permission
        fail(f"cannot open the HQ database {db_url!r}: {(str(exc).splitlines() or [type(exc).__name__])[0]}")


@click.group("hq")
def hq() -> None:
    """Head-office server (HQ): serve benches and the console, register stations and readers, load the manifest."""


for _name in ("serve", "tokens", "manifest", "report", "conflicts", "webhooks"):
    for _cmd in importlib.import_module(f"{__name__}.{_name}").commands:
        hq.add_command(_cmd)

commands: list[click.Command] = [hq]
