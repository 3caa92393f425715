"""`dockstation sync [--full]`: one sync with HQ now, with a progress bar on stderr.

Exit code says what happened: 0 everything pushed and pulled (and every photo HQ may take sent);
2 partly (HQ unreachable or the connection lost mid-way: events or photos still pending, run again); 3 refused by HQ (401/403: token);
4 the configuration HQ sent was refused (the last good one stays); 5 HQ holds other content for
some of this station's events (a conflict: every run says so until head office resolves it,
docs/sync.md); 1 anything else.
"""

from __future__ import annotations

import logging

import click

from dockstation.cli import Context, config_errors, fail, pass_ctx

PHASES = {"push": "Pushing events", "manifest": "Pulling manifest", "config": "Pulling config",
          "photos": "Uploading photos"}


@click.command("sync")
@click.option("--full", is_flag=True,
              help="Re-push every event (HQ stores each once and fills any gap) and re-pull the whole manifest.")
@click.option("--page-size", default=20_000, show_default=True, type=click.IntRange(100, 50_000),
              help="RMAs per manifest page.")
@pass_ctx
@config_errors
def sync_cmd(ctx: Context, full: bool, page_size: int) -> None:
    """Sync with HQ now: push pending events, pull manifest and config changes."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from dockstation.config import StationConfig, load_layered
    from dockstation.store import Store, StoreError
    from sync.client import SyncClient

    from dockstation import logs

    logs.setup(ctx.home)  # the nightly sync's outcome in the bench's log, like the TUI's
    station = load_layered("station.toml", StationConfig, ctx.home, required=True)
    logs.add_secret(station.hq.token)
    if not station.hq.url or not station.hq.token:
        fail("HQ is not set for this bench: add [hq] url and token to config/station.toml", code=1)
    try:
        store = Store.in_home(ctx.home)
    except (StoreError, OSError) as exc:  # a read-only home, a full disk: what and what to do
        fail(f"cannot open the bench database: {exc}")
    client = SyncClient(store, ctx.home, station, page_limit=page_size)
    from sync.photos import PhotoReport, PhotoUploader

    uploader = PhotoUploader(store, ctx.home, station)
    photos = PhotoReport()
    console = Console(stderr=True)
    columns = (TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console, disable=not console.is_terminal) as bar:
            tasks: dict[str, int] = {}

            def progress(phase: str, done: int, total: int | None) -> None:
                if phase not in tasks:
                    tasks[phase] = bar.add_task(PHASES.get(phase, phase), total=total)
                bar.update(tasks[phase], completed=done, total=total)

            report = client.sync_once(full=full, progress=progress)
            if report.outcome in ("ok", "config_refused", "conflict"):  # photos after their events
                photos = uploader.upload_once(progress=progress, retry_failed=full)
    except Exception as exc:  # a locked or broken store, a full disk: one line, exit 1
        from dockstation.store_failures import explain

        failure = explain(exc)
        fail(f"sync failed: {failure.summary if failure else f'{type(exc).__name__}: {exc}'}", code=1)
    finally:
        client.close()
        uploader.close()
        store.close()
    logging.getLogger("dockstation.sync").log(
        logging.INFO if report.outcome == "ok" else logging.WARNING, "sync%s: %s — pushed %d, %d pending, %d RMAs changed",
        " --full" if full else "", report.outcome, report.pushed, report.pending, report.rmas_changed)
    click.echo(f"pushed {report.pushed} events (acked up to seq {report.acked_seq}, {report.pending} pending) · "
               f"{report.rmas_changed} RMAs / {report.lines_changed} lines changed in {report.pages} page(s) · "
               f"config {report.config_version[:12] or '-'}{' (updated)' if report.config_updated else ''} · "
               f"{photos.uploaded} photo(s) sent ({photos.pending} waiting"
               + (f", {photos.set_aside} refused by HQ" if photos.set_aside else "") + ")")
    if report.exit_code:
        fail(report.message, code=report.exit_code)
    if photos.outcome == "refused":
        fail(photos.message, code=3)
    if photos.outcome != "ok":
        fail(f"photos: {photos.message}", code=2 if photos.outcome == "partial" else 1)


commands: list[click.Command] = [sync_cmd]
