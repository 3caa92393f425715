"""`dockstation`: one entry point. Each feature's commands live in their own module here.

Every command exits 0 on success and non-zero with a one-line reason on failure (`fail`).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import click

from dockstation.config import ENV_HOME, ConfigError, default_home

# Feature modules; each exposes `commands: list[click.Command]`.
MODULES = ["bench", "manifest", "export", "sync", "hq", "labels", "policy", "scanners", "cameras", "doctor"]


class Context:
    def __init__(self, home: Path) -> None:
        self.home = home


pass_ctx = click.make_pass_decorator(Context)


def fail(message: str, code: int = 1) -> None:
    """One line on stderr, non-zero exit."""
    click.echo(f"dockstation: {message}", err=True)
    sys.exit(code)


@click.group(invoke_without_command=True)
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), envvar=ENV_HOME,
              help=f"Bench data folder (default: ${ENV_HOME} or the platform's user data dir).")
@click.version_option(package_name="dockstation")
@click.pass_context
def main(ctx: click.Context, home: Path | None) -> None:
    """Dockstation: the returns receiving bench."""
    ctx.obj = Context((home or default_home()).expanduser().resolve())
    if ctx.invoked_subcommand is None:
        from dockstation.cli.bench import run

        ctx.invoke(run)




def config_errors(func):  # type: ignore[no-untyped-def]
    """Decorator: a bad configuration file ends the command with its file, key and reason."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            fail(f"configuration refused: {exc}")

    return wrapper


# Registered last: the feature modules import `fail`, `pass_ctx` and `config_errors` from here.
for _name in MODULES:
    _mod = importlib.import_module(f"dockstation.cli.{_name}")
    for _cmd in getattr(_mod, "commands", []):
        main.add_command(_cmd)
