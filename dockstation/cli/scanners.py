"""`dockstation scanners list|test`: set a bench's serial scanners up without guessing."""

from __future__ import annotations

import threading

import click

from dockstation.cli import Context, config_errors, fail, pass_ctx


@click.group("scanners")
def scanners_group() -> None:
    """Serial barcode scanners."""


@scanners_group.command("list")
def list_cmd() -> None:
    """Serial ports with VID:PID, serial number and description (and their stable by-id links)."""
    from dockstation.scanners.ports import format_ports, list_ports

    for line in format_ports(list_ports()):
        click.echo(line)


@scanners_group.command("test")
@click.argument("name", required=False)
@pass_ctx
@config_errors
def test_cmd(ctx: Context, name: str | None) -> None:
    """Show each code as received from the configured scanners (Ctrl+C ends)."""
    from dockstation.config import load_bench_config
    from dockstation.scanners.ports import run_test

    configs = load_bench_config(ctx.home).station.scanners
    if name is not None:
        configs = [c for c in configs if c.name == name]
        if not configs:
            fail(f"no scanner named {name!r} in station.toml")
    if not configs:
        fail("no [[scanners]] in station.toml (see `dockstation scanners list` for ports)")
    try:
        run_test(configs, click.echo, threading.Event())
    except KeyboardInterrupt:
        pass


commands: list[click.Command] = [scanners_group]
