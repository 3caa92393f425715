"""`dockstation labels …`: render a unit's label, the command sheet, a test print, the queue."""

from __future__ import annotations

from pathlib import Path

import click

from dockstation.cli import Context, LazyChoice, config_errors, fail, pass_ctx

# The label stack (Pillow, python-barcode), the store and the config are imported inside the
# commands: `dockstation --help` and completion stay fast (dockstation/cli/__init__.py).


def _formats() -> tuple[str, ...]:
    from labels import FORMATS

    return FORMATS


def _templates() -> list[str]:
    from labels import TEMPLATES

    return sorted(TEMPLATES)


def _printer_url(ctx: Context, override: str | None) -> str:
    from dockstation.config import load_bench_config
    from labels.queue import spool_url

    cfg = load_bench_config(ctx.home)
    return override or cfg.station.printer.url or spool_url(ctx.home)


@click.group("labels")
def labels_group() -> None:
    """Disposition labels and printers."""


@labels_group.command("render")
@click.argument("lpn")
@click.option("--format", "fmt", type=LazyChoice(_formats), default="zpl", show_default=True)
@click.option("--template", type=LazyChoice(_templates), default=None,
              help="Label size (default: [printer] template in station.toml).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--receipt", is_flag=True, help="The receipt (LPN) label instead of the disposition label.")
@pass_ctx
@config_errors
def render_cmd(ctx: Context, lpn: str, fmt: str, template: str | None, output: Path, receipt: bool) -> None:
    """Render the label of unit LPN from this bench's store (--receipt: its receipt label)."""
    from dockstation.config import load_bench_config
    from dockstation.models import Unit
    from dockstation.store import Store
    from labels import LabelError, render
    from labels.queue import label_for, receipt_label_for

    cfg = load_bench_config(ctx.home)
    store = Store.in_home(ctx.home)
    with store.read() as s:
        unit = s.get(Unit, lpn)
    if unit is None:
        fail(f"no unit {lpn!r} in {store.path}")
    try:
        if receipt:
            from labels.receipt import receipt_template

            printer = cfg.station.printer
            data = render(receipt_label_for(unit, unit.reprints), fmt,
                          template or receipt_template(printer.template, printer.receipt_template))
        else:
            data = render(label_for(unit, unit.reprints), fmt, template or cfg.station.printer.template)
    except LabelError as exc:
        fail(str(exc))
    output.write_bytes(data)
    click.echo(f"{output} ({len(data)} bytes, {fmt})")


@labels_group.command("command-sheet")
@click.option("--format", "fmt", type=click.Choice(["pdf", "png"]), default="pdf", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Default: command-sheet.<format> in the current folder.")
@pass_ctx
@config_errors
def command_sheet(ctx: Context, fmt: str, output: Path | None) -> None:
    """Every command barcode (CMD:…, grades) with its meaning, to pin up at the bench."""
    from dockstation.config import CodesConfig, load_layered
    from labels import default_commands, render_command_sheet

    codes = load_layered("codes.toml", CodesConfig, ctx.home)
    data = render_command_sheet(default_commands([(g.code, g.name) for g in codes.grades]), fmt)
    output = output or Path(f"command-sheet.{fmt}")
    output.write_bytes(data)
    click.echo(f"{output} ({len(data)} bytes)")


@labels_group.command("test-print")
@click.option("--printer", "printer_url", default=None, help="Printer URL (default: station.toml).")
@pass_ctx
@config_errors
def test_print(ctx: Context, printer_url: str | None) -> None:
    """Send a sample label to the bench's printer, now (not through the queue)."""
    from dockstation.config import load_bench_config
    from labels import LabelError, PrinterError, open_printer, render, sample_label

    cfg = load_bench_config(ctx.home)
    url = _printer_url(ctx, printer_url)
    try:
        printer = open_printer(url)
        label = sample_label(cfg.station.station_id)
        printer.send(render(label, printer.wants, cfg.station.printer.template),
                     content_type=printer.wants, job_name="test-print")
    except (PrinterError, LabelError) as exc:
        fail(str(exc))
    click.echo(f"test label sent to {url} ({printer.wants})")


@labels_group.command("queue")
@pass_ctx
def queue_cmd(ctx: Context) -> None:
    """Label jobs waiting or failed, with their errors."""
    from sqlmodel import select

    from dockstation.models import PrintJob
    from dockstation.store import Store

    store = Store.in_home(ctx.home)
    with store.read() as s:
        jobs = s.exec(select(PrintJob).where(PrintJob.state != "sent").order_by(PrintJob.id)).all()
    if not jobs:
        click.echo("no label waiting")
    for job in jobs:
        click.echo(f"{job.id}\t{job.lpn}\t{job.state}\tattempts={job.attempts}\t{job.last_error or ''}")


commands: list[click.Command] = [labels_group]
