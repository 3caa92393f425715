"""`dockstation hq add-webhook URL --events refund.decided`, `hq webhooks`, `hq remove-webhook ID`."""

from __future__ import annotations

import json

import click

from sync.hq.cli import db_option, fail, open_db


@click.command("add-webhook")
@click.argument("url")
@click.option("--events", required=True, help="Event types, comma-separated: refund.decided")
@db_option
def add_webhook_cmd(url: str, events: str, db_url: str) -> None:
    """Subscribe URL to events; prints its signing secret once (Standard Webhooks)."""
    from sync.hq.refunds.webhooks import add_webhook

    db = open_db(db_url)
    try:
        webhook_id, secret = add_webhook(db, url, [e.strip() for e in events.split(",") if e.strip()])
    except ValueError as exc:
        fail(str(exc))
    finally:
        db.dispose()
    click.echo(secret)
    click.echo(f"Webhook {webhook_id}: {url} gets {events}, signed with the secret above (webhook-id, "
               "webhook-timestamp, webhook-signature; docs/sync.md). It is not shown again.", err=True)


@click.command("remove-webhook")
@click.argument("webhook_id", type=int)
@db_option
def remove_webhook_cmd(webhook_id: int, db_url: str) -> None:
    """Stop delivering to a webhook (its delivery log stays)."""
    from sync.hq.refunds.webhooks import remove_webhook

    db = open_db(db_url)
    try:
        found = remove_webhook(db, webhook_id)
    finally:
        db.dispose()
    if not found:
        fail(f"no webhook {webhook_id} (dockstation hq webhooks lists them)")
    click.echo(f"Webhook {webhook_id} stopped.")


@click.command("webhooks")
@db_option
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True, help="Deliveries shown.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def webhooks_cmd(db_url: str, limit: int, fmt: str) -> None:
    """Webhooks and their delivery log (newest first): delivered, or pending with the last error."""
    from dockstation.types import iso
    from sync.hq.refunds.webhooks import deliveries, webhooks

    db = open_db(db_url)
    try:
        hooks, log = webhooks(db), deliveries(db, limit)
    finally:
        db.dispose()
    if fmt == "json":
        def plain(rows: list[dict]) -> list[dict]:  # type: ignore[type-arg]
            return [{k: iso(v) if k.endswith("_at") else v for k, v in r.items()} for r in rows]

        click.echo(json.dumps({"webhooks": plain(hooks), "deliveries": plain(log)}, indent=2))
        return
    click.echo(f"{'ID':>4}  {'STATE':<8} {'EVENTS':<16} URL")
    for h in hooks:
        click.echo(f"{h['id']:>4}  {'active' if h['active'] else 'stopped':<8} {h['events']:<16} {h['url']}")
    if not hooks:
        click.echo("(no webhooks: dockstation hq add-webhook URL --events refund.decided)")
    click.echo("")
    click.echo(f"{'#':>6} {'HOOK':>4}  {'MESSAGE':<22} {'STATE':<9} {'TRIES':>5}  LAST")
    for d in log:
        last = d["last_error"] or (f"HTTP {d['last_status']}" if d["last_status"] else "-")
        click.echo(f"{d['id']:>6} {d['webhook_id']:>4}  {d['msg_id']:<22} {d['state']:<9} {d['attempts']:>5}  {last}")


commands = [add_webhook_cmd, remove_webhook_cmd, webhooks_cmd]
