"""The command line starts light: `--version`, `--help`, each command's group help and shell
completion import nothing heavy (each TAB of completion is a whole start of the program).

The import list is read from the real entry point in a fresh interpreter (`python -X importtime
-m dockstation.cli …`); times are measured by bench/bench_cli.py, never asserted here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dockstation.cli import COMMANDS, main

# Packages a command's start-up must not load: the store (SQLAlchemy), the TUI, Rich, HQ's web
# stack, the barcode/label stack, pydantic (configuration), the scanner and HTTP clients.
HEAVY = ("sqlmodel", "sqlalchemy", "textual", "rich", "fastapi", "starlette", "uvicorn", "httpx",
         "biip", "pydantic", "PIL", "barcode", "psycopg", "msgspec", "serial", "stdnum")


def _run(args: list[str], tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    full_env = {**os.environ, "DOCKSTATION_HOME": str(tmp_path / "home"), **env}
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "dockstation.cli", *args],
                          capture_output=True, text=True, env=full_env, timeout=120)
    modules = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines()
               if line.startswith("import time:") and "|" in line}
    return proc, modules


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


def test_version_imports_nothing_heavy(tmp_path: Path) -> None:
    proc, modules = _run(["--version"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "dockstation, version" in proc.stdout
    assert "dockstation.cli" in modules  # the list was read from the real entry point
    assert _heavy(modules) == []


def test_help_lists_every_command_and_imports_nothing_heavy(tmp_path: Path) -> None:
    proc, modules = _run(["--help"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for name in COMMANDS:
        assert f"  {name} " in proc.stdout, name
    assert _heavy(modules) == []


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_commands_own_help_is_light(name: str, tmp_path: Path) -> None:
    proc, modules = _run([name, "--help"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"Usage: dockstation {name}" in proc.stdout
    assert _heavy(modules) == []
    # only this command's module was loaded among the feature modules
    others = {spec.split(":")[0] for other, spec in COMMANDS.items() if spec.split(":")[0] != COMMANDS[name].split(":")[0]}
    assert modules & others == set()


@pytest.mark.parametrize(("words", "expected"), [
    ("dockstation ", {"manifest", "export", "labels", "run"}),
    ("dockstation man", {"manifest"}),
    ("dockstation manifest ", {"import", "generate"}),
    ("dockstation export units --format ", {"csv", "json"}),
    ("dockstation labels render B07-00000001 --format ", {"zpl", "png", "pdf"}),
])
def test_shell_completion_is_light(words: str, expected: set[str], tmp_path: Path) -> None:
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)  # the word being completed
    proc, modules = _run([], tmp_path, _DOCKSTATION_COMPLETE="bash_complete", COMP_WORDS=words,
                         COMP_CWORD=str(cword))
    assert proc.returncode == 0, proc.stderr[-2000:]
    offered = {line.split(",", 1)[1] for line in proc.stdout.splitlines() if "," in line}
    assert expected <= offered, proc.stdout
    heavy = _heavy(modules)
    if "labels render" in words:  # the formats come from the label package, asked for by name
        heavy = [m for m in heavy if m.split(".")[0] not in ("PIL", "barcode")]
    assert heavy == []


def test_every_registered_command_resolves_under_its_name() -> None:
    import click

    ctx = click.Context(main)
    for name in COMMANDS:
        command = main.get_command(ctx, name)
        assert isinstance(command, click.Command), name
        assert command.name == name


def test_a_lazy_choice_still_refuses_a_bad_value(tmp_path: Path) -> None:
    proc, _ = _run(["labels", "render", "B07-00000001", "--format", "gif", "-o", str(tmp_path / "x")], tmp_path)
    assert proc.returncode == 2
    assert "'gif' is not one of 'zpl', 'png', 'pdf'" in proc.stderr
