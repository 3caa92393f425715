"""`hq serve` (the API and the console) and `hq migrate` (HQ's schema, sync/hq/schema.py)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from sync.hq.cli import db_option, fail, open_db


@click.command("serve")
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8040, show_default=True, type=int)
@click.option("--config-dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Configuration served to benches (default: the package's config/); policy published from the "
                   "console is laid over it.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes (HQ is stateless: any number may share one PostgreSQL).")
@click.option("--migrate", is_flag=True,
              help="Upgrade the database's schema first if it is out of date (else HQ refuses to serve it).")
@click.option("--trust-proxy", "trust_proxy", envvar="DOCKSTATION_HQ_TRUST_PROXY", default="", metavar="IPS",
              help="Addresses of the TLS-terminating proxy whose X-Forwarded-Proto/-For HQ believes (comma-"
                   "separated IPs or CIDRs). Without it those headers are ignored.")
@click.option("--ssl-certfile", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Serve HTTPS with this certificate (PEM) instead of behind a proxy.")
@click.option("--ssl-keyfile", type=click.Path(dir_okay=False, exists=True), default=None)
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
def serve(db_url: str, host: str, port: int, config_dir: Path | None, workers: int, migrate: bool, trust_proxy: str,
          ssl_certfile: str | None, ssl_keyfile: str | None, log_level: str) -> None:
    """Run HQ: the API for benches and readers (OpenAPI at /docs) and the console at /; JSON log lines on stdout."""
    import logging
    import logging.config

    import uvicorn

    from dockstation.config import package_config_dir
    from sync.bundle import BundleRefused, check_bundle
    from sync.hq.app import ENV_CONFIG_DIR, create_app
    from sync.hq.logs import log_config
    from sync.hq.published import label, served_bundle

    if bool(ssl_certfile) != bool(ssl_keyfile):
        fail("--ssl-certfile and --ssl-keyfile go together")
    directory = config_dir or package_config_dir()
    # Once, here: HQ's and uvicorn's loggers as JSON lines on stdout; uvicorn's access log (which
    # prints query strings, tokens and all) off, HQ's own request line instead (sync/hq/logs.py).
    logging_config = log_config(log_level)
    logging.config.dictConfig(logging_config)
    db = open_db(db_url, migrate=migrate)
    if db.schema_before != db.schema_after and not db.schema_before.empty:
        logging.getLogger("dockstation.hq").info("HQ schema upgraded: %s -> revision %s",
                                                 db.schema_before.describe(), db.schema_after.current)
    try:
        bundle, publication = served_bundle(db, directory)
        check_bundle(bundle, label(directory, publication))
    except BundleRefused as exc:
        db.dispose()
        fail(f"configuration refused, not serving it to benches: {exc}")
    proxies = [p.strip() for p in trust_proxy.split(",") if p.strip()]
    scheme = "https" if ssl_certfile else "http"
    logging.getLogger("dockstation.hq").info(
        "HQ on %s://%s:%d · database %s · config %s (version %s%s) · %d worker(s)%s", scheme, host, port,
        db.describe(), directory, bundle.version[:12],
        f", policy {publication.policy_version} published by {publication.published_by}" if publication else "",
        workers, f" · trusting X-Forwarded-* from {', '.join(proxies)}" if proxies else "")
    # uvicorn believes X-Forwarded-Proto/-For from 127.0.0.1 by default: here only from the
    # proxies named, so nobody else can make HQ think a request came over TLS (Secure cookies).
    options = {"host": host, "port": port, "log_level": log_level, "log_config": logging_config, "access_log": False,
               "proxy_headers": bool(proxies), "forwarded_allow_ips": proxies or None,
               "ssl_certfile": ssl_certfile, "ssl_keyfile": ssl_keyfile}
    if workers == 1:
        uvicorn.run(create_app(db, config_dir=directory), **options)
        return
    db.dispose()
    os.environ["DOCKSTATION_HQ_DB"] = db_url
    os.environ[ENV_CONFIG_DIR] = str(directory)
    uvicorn.run("sync.hq.app:app_from_env", factory=True, workers=workers, **options)


@click.command("migrate")
@db_option
@click.option("--check", is_flag=True, help="Change nothing: exit 0 if the schema is up to date, 1 (with why) if not.")
def migrate_cmd(db_url: str, check: bool) -> None:
    """Bring the HQ database's schema to this release's revision (back it up first).

    Safe to run again, and while HQ serves (workers wait on the schema lock); a database from
    before versioned migrations gains the version row without losing a row."""
    from sync.hq.db import HQDatabase
    from sync.hq.schema import MIGRATE, revisions, state

    if check:
        try:
            db = HQDatabase(db_url, check_schema=False)
            with db.read() as conn:
                now = state(conn)
            db.dispose()
        except Exception as exc:  # unreachable server, bad URL
            fail(f"cannot open the HQ database {db_url!r}: {(str(exc).splitlines() or [type(exc).__name__])[0]}")
        if not now.up_to_date:
            fail(f"the HQ database is {now.describe()}, this release needs revision {now.head}: run `{MIGRATE}`")
        click.echo(f"HQ database {db.describe()}: revision {now.current}, up to date")
        return
    db = open_db(db_url, migrate=True)
    before, after = db.schema_before, db.schema_after
    db.dispose()
    if before.up_to_date:
        click.echo(f"HQ database {db.describe()}: already at revision {after.current}, nothing to do")
        return
    if before.empty:
        click.echo(f"HQ database {db.describe()}: created at revision {after.current}")
        return
    names = [r for r, _ in revisions()]
    start = names.index(before.current) + 1 if before.current in names else 0
    click.echo(f"HQ database {db.describe()}: {before.describe()} -> revision {after.current} "
               f"(applied {', '.join(names[start:names.index(str(after.current)) + 1])})")


commands: list[click.Command] = [serve, migrate_cmd]
