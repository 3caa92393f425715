"""`dockstation run` (the bench TUI) and `dockstation demo` (a demo home, then the TUI)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from dockstation.cli import Context, config_errors, fail, pass_ctx

log = logging.getLogger("dockstation.cli")
DEMO_MARKER = "DEMO"
DEFAULT_DEMO_HOME = "demo-home"


def _open_tui(home: Path) -> None:
    """Checks, log, then the TUI. Exits with the app's code: non-zero after a crash, so a
    service manager (systemd `Restart=on-failure`, README) starts the bench again."""
    from dockstation import logs
    from dockstation.config import operators_problem
    from dockstation.store_failures import home_problem, refusal

    if problem := home_problem(home):  # nothing could be recorded: refuse now, not at the first scan
        fail(refusal(home, problem))
    logs.setup(home)
    # The store (SQLAlchemy) is opened by the app once its first screen is up (tui/app.py): a
    # store that cannot be used then ends it with `startup_error`, below.
    from dockstation.tui.app import BenchApp

    app = BenchApp(home)
    logs.add_secret(app.config.station.hq.token)
    if problem := operators_problem(app.config):
        click.echo(f"dockstation: warning: {problem}", err=True)
    log.info("bench %s starting in %s", app.config.station.station_id, home)
    if app.config.station.cameras:  # the photo preview asks the terminal now, before Textual owns it
        from dockstation.tui.preview import probe

        probe(app.config.station.photos.preview)
    try:
        app.run()
    except Exception:
        log.critical("the bench crashed", exc_info=True)
        raise
    if app.startup_error:
        log.error("bench not started: %s", app.startup_error)
        fail(app.startup_error)
    code = app.return_code or 0
    if code:
        log.error("the bench exited with code %d", code)
        sys.exit(code)
    log.info("bench %s stopped", app.config.station.station_id)


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
