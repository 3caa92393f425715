"""`dockstation manifest import FILE.csv` and `dockstation manifest generate FILE.csv`.

Exit codes of `import`: 0 every row loaded; 2 some rows refused (the good rows are loaded; the
bad ones are listed with their line numbers); 1 the file was refused (nothing loaded).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from dockstation.cli import Context, config_errors, fail, pass_ctx
from dockstation.text import clean

SHOWN_ERRORS = 20
EXIT_ROWS_REFUSED = 2


@click.group()
def manifest() -> None:
    """Expected returns: load a manifest CSV, or generate one for demos and benchmarks."""


class _NoBar:
    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def add_task(self, *args: Any, **kwargs: Any) -> int:
        return 0

    def update(self, *args: Any, **kwargs: Any) -> None:
        pass


def _progress_bar(total: int):  # type: ignore[no-untyped-def]
    """A rich progress bar on stderr when it is a terminal and the file is big enough to wait for."""
    if total < 2_000_000 or not sys.stderr.isatty():
        return _NoBar()  # and Rich is not even imported
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    return Progress(TextColumn("importing"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                    console=console, transient=True,
                    disable=not console.is_terminal or total < 2_000_000)


@manifest.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--operator", "operator", default=None, metavar="BADGE",
              help="Badge recorded on the manifest_imported event.")
@pass_ctx
@config_errors
def import_cmd(ctx: Context, file: Path, operator: str | None) -> None:
    """Load FILE.csv (Manifest CSV: one row per RMA line, header required, UTF-8).

    Exit 0: all rows loaded; 2: some rows refused (listed), the rest loaded; 1: file refused.
    """
    from dockstation.config import load_bench_config
    from dockstation.manifest_csv import ManifestError, db_time, open_manifest

    config = load_bench_config(ctx.home)
    try:
        mf = open_manifest(file)
    except ManifestError as exc:
        fail(f"{clean(file)}: file refused: {exc}")
    # Parsing starts now (in a child process for a big file), while the store is opened: the
    # database layer's import alone is a third of a second.
    mf.carriers = config.codes.carriers.site()  # the site's label rules for tracking numbers
    feed = mf.start(db_time(datetime.now(UTC)), config.codes.reason_codes)
    try:
        report = _load(ctx, config.station.station_id, feed, operator, mf.size)
    finally:
        feed.close()
    for warning in report.warnings:
        click.echo(f"dockstation: {clean(file)}: warning: {clean(warning)}", err=True)
    click.echo(f"{clean(file)}: {report.rows} rows: {report.inserted} inserted, {report.updated} updated, "
               f"{report.unchanged} unchanged, {report.errors} refused")
    for lpn, rma_id, line_no in report.holds_matched:  # blind receipts this manifest names
        where = f"{rma_id} line {line_no}: received" if line_no else f"{rma_id}: a lead picks the line"
        click.echo(f"held unit {lpn} matched to {clean(where)} (the lead's Holds tab shows it)")
    if report.errors:
        for err in report.error_rows[:SHOWN_ERRORS]:
            click.echo(f"  line {err.line}: {clean(err.reason, limit=300)}")
        if report.errors > SHOWN_ERRORS:
            click.echo(f"  … and {report.errors - SHOWN_ERRORS} more refused rows")
        sys.exit(EXIT_ROWS_REFUSED)


def _load(ctx: Context, station_id: str, feed: Any, operator: str | None, size: int) -> Any:
    from dockstation.manifest import import_manifest
    from dockstation.store import Store, StoreError

    try:
        store = Store.in_home(ctx.home)
    except (StoreError, OSError) as exc:
        fail(f"cannot open the bench database in {ctx.home}: {exc}")
    bar = _progress_bar(size)
    try:
        with bar:
            task = bar.add_task("import", total=size)
            return import_manifest(store, station_id, feed, operator=operator,
                                   progress=lambda done, total: bar.update(task, completed=done, total=total))
    finally:
        store.close()


@manifest.command("search")
@click.argument("text")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
@click.option("--all", "include_all", is_flag=True, help="Also RMAs closed, cancelled or fully received.")
@pass_ctx
def search_cmd(ctx: Context, text: str, fmt: str, limit: int, include_all: bool) -> None:
    """Find returns by RMA id, tracking number, order id, customer name or e-mail, SKU or GTIN.

    Best first; the open RMAs with an item still to receive unless --all. Exit 0 with matches,
    3 with none (the JSON is then `[]`)."""
    import json

    from dockstation.search import search
    from dockstation.store import Store, StoreError

    try:
        store = Store.in_home(ctx.home)
    except (StoreError, OSError) as exc:
        fail(f"cannot open the bench database in {ctx.home}: {exc}")
    try:
        found = search(store, text, limit=limit, open_only=not include_all)
    finally:
        store.close()
    if fmt == "json":
        click.echo(json.dumps([m.as_json() for m in found], indent=2, ensure_ascii=False))
    else:
        for m in found:
            who = " · ".join(clean(x, limit=40) for x in (m.customer_name, m.customer_email) if x)
            click.echo(f"{clean(m.rma_id)}  order {clean(m.order_id, limit=30)}  {m.items - m.open_items} of "
                       f"{m.items} received  [{', '.join(m.matched_on)}]  {who}")
            for l in m.lines:
                click.echo(f"    line {l.line_no}  {clean(l.sku, limit=20)}  {clean(l.description, limit=40)}  "
                           f"{l.received_qty}/{l.qty}")
        if not found:
            click.echo(f"no return matches {clean(text, limit=60)!r}", err=True)
    if not found:
        sys.exit(3)


@manifest.command("generate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--rmas", type=click.IntRange(1, 10_000_000), required=True, help="How many RMAs.")
@click.option("--seed", type=int, default=7, show_default=True, help="Same seed, same manifest.")
@click.option("--now", "now_text", default=None, metavar="ISO-TIME",
              help="The 'now' the return windows are relative to (default: the current time).")
def generate_cmd(file: Path, rmas: int, seed: int, now_text: str | None) -> None:
    """Write a realistic generated Manifest CSV (for demos and benchmarks)."""
    from dockstation.demo import generate_manifest

    try:
        now = datetime.fromisoformat(now_text) if now_text else datetime.now(UTC)
    except ValueError:
        fail(f"--now: not an ISO 8601 time: {now_text!r}")
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    try:
        rows = generate_manifest(file, rmas=rmas, seed=seed, now=now)
    except OSError as exc:
        fail(f"{file}: cannot write: {exc.strerror or exc}")
    click.echo(f"{clean(file)}: {rmas} RMAs, {rows} rows")


commands: list[click.Command] = [manifest]
