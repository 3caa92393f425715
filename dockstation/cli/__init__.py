"""`dockstation`: one entry point. Each feature's commands live in their own module here.

Start-up is part of every command (and of every TAB of shell completion), so this package and
the feature modules import nothing heavy at module level: commands are registered by name in
COMMANDS and a feature's module is imported only when one of its commands runs, its own --help
is asked, or the list of commands is shown. What a command needs (the store, SQLAlchemy, Rich,
Textual, pydantic config) is imported inside the command. tests/test_cli_start.py keeps it so.

Every command exits 0 on success and non-zero with a one-line reason on failure (`fail`).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click

from dockstation.home import ENV_HOME, default_home

# Command name -> "module:attribute" of its click command (or group).
COMMANDS: dict[str, str] = {
    "run": "dockstation.cli.bench:run",
    "demo": "dockstation.cli.bench:demo",
    "manifest": "dockstation.cli.manifest:manifest",
    "export": "dockstation.cli.export:export_cmd",
    "sync": "dockstation.cli.sync:sync_cmd",
    "hq": "sync.hq.cli:hq",
    "labels": "dockstation.cli.labels:labels_group",
    "policy": "dockstation.cli.policy:policy_group",
    "scanners": "dockstation.cli.scanners:scanners_group",
    "cameras": "dockstation.cli.cameras:cameras_group",
    "containers": "dockstation.cli.containers:containers_group",
    "doctor": "dockstation.cli.doctor:doctor",
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use, by name (see COMMANDS)."""

    def __init__(self, *args: Any, lazy: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            module, attr = self.lazy[cmd_name].split(":")
            command = getattr(importlib.import_module(module), attr)
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)


class LazyChoice(click.Choice):
    """A choice whose values come from a module that is imported only when they are needed (the
    value is checked, the command's own --help shown, or a value completed)."""

    def __init__(self, values: Callable[[], Iterable[str]], case_sensitive: bool = True) -> None:
        self._values = values
        self._choices: tuple[str, ...] | None = None
        self.case_sensitive = case_sensitive

    @property
    def choices(self) -> tuple[str, ...]:  # type: ignore[override]
        if self._choices is None:
            self._choices = tuple(self._values())
        return self._choices

    @choices.setter
    def choices(self, value: Iterable[str]) -> None:
        self._choices = tuple(value)


class Context:
    def __init__(self, home: Path) -> None:
        self.home = home


pass_ctx = click.make_pass_decorator(Context)


def fail(message: str, code: int = 1) -> None:
    """One line on stderr, non-zero exit."""
    click.echo(f"dockstation: {message}", err=True)
    sys.exit(code)


@click.group(cls=LazyGroup, lazy=COMMANDS, invoke_without_command=True)
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
        from dockstation.config import ConfigError  # pydantic: only once a command runs

        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            fail(f"configuration refused: {exc}")

    return wrapper
