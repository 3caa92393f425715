"""`dockstation run` (the bench TUI) and `dockstation demo` (a demo home, then the TUI)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from dockstation.cli import Context, config_errors, fail, pass_ctx

DEMO_MARKER = "DEMO"
DEFAULT_DEMO_HOME = "demo-home"


def _open_tui(home: Path) -> None:
    # The store (SQLAlchemy) is opened by the app once its first screen is up: not imported here.
    from dockstation.tui.app import BenchApp

    app = BenchApp(home)
    app.run()
    if app.startup_error:  # the store or a configuration file, found unusable once the screen was up
        fail(app.startup_error)
    if app.return_code:
        sys.exit(app.return_code)


@click.command()
@pass_ctx
@config_errors
def run(ctx: Context) -> None:
    """Open the bench TUI for the bench home (--home / DOCKSTATION_HOME)."""
    station = ctx.home / "config" / "station.toml"
    if not station.is_file():
        fail(f"no bench in {ctx.home}: {station} is missing — create it with a line "
             f"'station_id = \"B07\"' (see docs/tui.md), or try `dockstation demo`")
    _open_tui(ctx.home)


def _home_given() -> bool:
    """Was --home (or DOCKSTATION_HOME) given? Otherwise the demo lives in ./demo-home."""
    root = click.get_current_context().find_root()
    return root.params.get("home") is not None


@click.command()
@click.option("--rmas", type=click.IntRange(1, 1_000_000), default=2000, show_default=True,
              help="How many RMAs the generated manifest has.")
@click.option("--fresh", is_flag=True, help="Delete the demo home and build it again.")
@pass_ctx
@config_errors
def demo(ctx: Context, rmas: int, fresh: bool) -> None:
    """Build a demo bench home (generated manifest, demo badges), then open the TUI."""
    home = ctx.home if _home_given() else Path.cwd() / DEFAULT_DEMO_HOME
    try:
        from dockstation.demo import DemoError, build_demo_home
    except ImportError as exc:
        fail(f"the demo builder is not available: {exc}")
    if fresh or not (home / DEMO_MARKER).is_file():
        click.echo(f"Building a demo bench in {home} ({rmas} RMAs)…", err=True)
    try:
        # Idempotent: a finished demo home is kept; --fresh rebuilds it; a real bench's home
        # (no DEMO marker) is refused, never wiped.
        build_demo_home(home, rmas=rmas, fresh=fresh)
    except DemoError as exc:
        fail(str(exc))
    _open_tui(home)


commands: list[click.Command] = [run, demo]
