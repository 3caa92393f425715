"""`dockstation doctor [--format text|json]`: check this bench, one line per check.

Exit 0 when no check failed (warnings allowed); 1 with a one-line reason on stderr otherwise.
The checks themselves: dockstation/doctor.py.
"""

from __future__ import annotations

import json

import click

from dockstation.cli import Context, fail, pass_ctx

MARKS = {"ok": "✔ ok  ", "warn": "! warn", "fail": "✖ FAIL", "skip": "- skip"}


@click.command("doctor")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@pass_ctx
def doctor(ctx: Context, fmt: str) -> None:
    """Check this bench: config, home, store, printer, scanners, HQ and token, clock; the log's path."""
    from dockstation.doctor import report, run_checks

    checks = run_checks(ctx.home)
    if fmt == "json":
        click.echo(json.dumps(report(ctx.home, checks), indent=2, ensure_ascii=False))
    else:
        width = max(len(c.name) for c in checks)
        for c in checks:
            click.echo(f"{MARKS[c.status]}  {c.name:<{width}}  {c.detail}")
    failed = [c.name for c in checks if c.status == "fail"]
    if failed:
        fail(f"{len(failed)} check(s) failed: {', '.join(failed)}")


commands: list[click.Command] = [doctor]
