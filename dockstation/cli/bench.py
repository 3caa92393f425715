"""`dockstation run` and `dockstation demo` (stub until the TUI lands)."""

import click

from dockstation.cli import Context, pass_ctx  # noqa: F401


@click.command()
@pass_ctx
def run(ctx: Context) -> None:
    """Open the bench TUI."""
    raise SystemExit("not yet")


commands: list[click.Command] = [run]
