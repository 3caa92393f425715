"""`dockstation containers open|close|reopen|label|manifest|list`: containers after the label
(docs/containers.md). The store, the policy and the label stack load inside the commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from dockstation.cli import Context, config_errors, fail, pass_ctx

KINDS = ["tote", "gaylord", "pallet", "rtv_box"]


def _bench(ctx: Context) -> tuple[Any, Any, Any]:
    from dockstation.config import load_bench_config
    from dockstation.policy import load_policy
    from dockstation.store import DB_NAME, Store, StoreError

    cfg = load_bench_config(ctx.home)
    if not (ctx.home / DB_NAME).is_file():
        fail(f"no bench database in {ctx.home} (set --home or DOCKSTATION_HOME)")
    try:
        store = Store.in_home(ctx.home)
    except (StoreError, OSError) as exc:
        fail(f"cannot open the bench database in {ctx.home}: {exc}")
    return cfg, store, load_policy(ctx.home, cfg.codes)


def _operator(cfg: Any, badge: str | None, role: str = "grader") -> Any:
    """The operator the command acts as: --badge, else the bench's first lead (a CLI user at the
    bench is its lead; the audit trail names whom)."""
    from dockstation.config import Operator

    ops = cfg.operators
    op = ops.by_badge(badge) if badge else next((o for o in ops.operators if o.role == "lead"), None)
    if op is None:
        if badge:
            fail(f"unknown badge {badge!r} (operators.toml)")
        return Operator(badge="cli", name="command line", role="lead")
    if not op.can(role):
        fail(f"{op.name} is a {op.role}: this needs a {role}")
    return op


@click.group("containers")
def containers_group() -> None:
    """Containers: open, close (label and manifest), reopen, list."""


@containers_group.command("open")
@click.option("--path", "paths", multiple=True, required=True, help="A path it takes (repeat for several).")
@click.option("--kind", type=click.Choice(KINDS), default=None, help="Default: [containers] kinds in policy.toml.")
@click.option("--vendor", default=None, help="An RTV box's vendor ([vendors] in policy.toml).")
@click.option("--capacity", type=click.IntRange(1, 100_000), default=None, help="Units (default: by kind).")
@click.option("--destination", default=None)
@click.option("--id", "container_id", default=None, help="A site's preprinted container label.")
@click.option("--badge", default=None, help="Who opens it (default: the bench's first lead).")
@pass_ctx
@config_errors
def open_cmd(ctx: Context, paths: tuple[str, ...], kind: str | None, vendor: str | None, capacity: int | None,
             destination: str | None, container_id: str | None, badge: str | None) -> None:
    """Open a container; prints its id (its label is queued)."""
    from dockstation.containers import ContainerError, open_container

    cfg, store, policy = _bench(ctx)
    op = _operator(cfg, badge)
    try:
        c = open_container(store, cfg.station.station_id, op.badge, policy=policy, paths=list(paths), kind=kind,
                           vendor=vendor, capacity=capacity, destination=destination, container_id=container_id)
    except ContainerError as exc:
        fail(str(exc))
    click.echo(c.id)


@containers_group.command("close")
@click.argument("container_id")
@click.option("--authorisation", default=None, help="The vendor's return authorisation (RTV boxes).")
@click.option("--badge", default=None)
@pass_ctx
@config_errors
def close_cmd(ctx: Context, container_id: str, authorisation: str | None, badge: str | None) -> None:
    """Close a container: queues its label, writes its manifest (CSV, PDF) to the home."""
    from dockstation.containers import ContainerError, close
    from dockstation.containers import manifest as mf

    cfg, store, _ = _bench(ctx)
    op = _operator(cfg, badge)
    try:
        c = close(store, cfg.station.station_id, op, container_id, authorisation=authorisation,
                  grade_order=[g.code for g in cfg.codes.grades])
    except ContainerError as exc:
        fail(str(exc))
    m = mf.load(store, c.id)
    assert m is not None
    files = mf.write_files(m, ctx.home / "containers")
    click.echo(f"{c.id} closed: {c.units} units, value {c.value}, lot grade {c.lot_grade or '-'}; "
               f"label queued; manifest {', '.join(str(f) for f in files)}")


@containers_group.command("reopen")
@click.argument("container_id")
@click.option("--reason", required=True)
@click.option("--badge", default=None, help="The lead (default: the bench's first lead).")
@pass_ctx
@config_errors
def reopen_cmd(ctx: Context, container_id: str, reason: str, badge: str | None) -> None:
    """A lead reopens a closed container (audited)."""
    from dockstation.containers import ContainerError, reopen

    cfg, store, _ = _bench(ctx)
    try:
        c = reopen(store, cfg.station.station_id, _operator(cfg, badge, "lead"), container_id, reason)
    except ContainerError as exc:
        fail(str(exc))
    click.echo(f"{c.id} reopened")


@containers_group.command("label")
@click.argument("container_id")
@click.option("--format", "fmt", type=click.Choice(["zpl", "png", "pdf"]), default="zpl", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@pass_ctx
@config_errors
def label_cmd(ctx: Context, container_id: str, fmt: str, output: Path) -> None:
    """Render a container's label."""
    from dockstation.containers import get
    from dockstation.containers.printing import label_bytes

    cfg, store, _ = _bench(ctx)
    c = get(store, container_id)
    if c is None:
        fail(f"no container {container_id!r} in {store.path}")
    template = cfg.station.printer.template
    data = label_bytes(c, fmt, f"4x6-{template.rsplit('-', 1)[-1]}")
    output.write_bytes(data)
    click.echo(f"{output} ({len(data)} bytes, {fmt})")


@containers_group.command("manifest")
@click.argument("container_id")
@click.option("--format", "fmt", type=click.Choice(["csv", "pdf"]), default="csv", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@pass_ctx
@config_errors
def manifest_cmd(ctx: Context, container_id: str, fmt: str, output: Path) -> None:
    """Write a container's manifest: every LPN, SKU, description, grade and recovery value."""
    from dockstation.containers import manifest as mf

    _, store, _ = _bench(ctx)
    m = mf.load(store, container_id)
    if m is None:
        fail(f"no container {container_id!r} in {store.path}")
    data = mf.render(m, fmt)
    output.write_bytes(data)
    click.echo(f"{output} ({len(m.rows)} units, {fmt})")


@containers_group.command("list")
@click.option("--state", type=click.Choice(["open", "closed"]), default=None)
@pass_ctx
@config_errors
def list_cmd(ctx: Context, state: str | None) -> None:
    """Containers with their fill and value; then how many units wait to be sorted."""
    from dockstation.containers import containers, unsorted_count

    _, store, _ = _bench(ctx)
    for c in containers(store, state=state):
        click.echo(f"{c.id}\t{c.kind}\t{'+'.join(c.paths)}\t{c.vendor or '-'}\t{c.state}\t"
                   f"{c.units}/{c.capacity}\t{c.value}")
    with store.read() as s:
        click.echo(f"unsorted units: {unsorted_count(s)}")
