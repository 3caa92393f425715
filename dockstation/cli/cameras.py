"""`dockstation cameras list|test`: set a bench's cameras up without guessing (docs/photos.md)."""

from __future__ import annotations

from pathlib import Path

import click

from dockstation.cli import Context, config_errors, fail, pass_ctx


@click.group("cameras")
def cameras_group() -> None:
    """Cameras for photo evidence at inspection."""


@cameras_group.command("list")
@pass_ctx
@config_errors
def list_cmd(ctx: Context) -> None:
    """The cameras in station.toml (and whether each answers), then the video devices plugged in."""
    from dockstation.cameras import open_camera
    from dockstation.cameras.v4l2 import discover
    from dockstation.config import load_bench_config
    from dockstation.text import clean

    cameras = load_bench_config(ctx.home).station.cameras if (ctx.home / "config").is_dir() else []
    if not cameras:
        click.echo("no [[cameras]] in station.toml")
    for cfg in cameras:
        camera = open_camera(cfg)
        try:
            problem = camera.probe()
        finally:
            camera.close()
        state = "✔ ready" if problem is None else f"✖ {clean(problem, limit=80)}"
        click.echo(f"{cfg.name:<16} {clean(_shown_url(cfg.url), limit=60):<40} {state}")
    devices = discover()
    click.echo("video devices:" if devices else "video devices: none (v4l2:///dev/videoN needs a USB camera)")
    for path, name, links in devices:
        click.echo(f"  {path:<14} {clean(name, limit=40)}")
        for link in links:
            click.echo(f"  {'':<14} v4l2://{clean(link, limit=100)}")


def _shown_url(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is not None:  # never a camera's password on a screen
        parts = parts._replace(netloc=f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else ""))
    return urlunsplit(parts)


@cameras_group.command("test")
@click.argument("name", required=False)
@click.option("--output", "-o", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder for the test photos (camera-test-<name>.jpg).")
@pass_ctx
@config_errors
def test_cmd(ctx: Context, name: str | None, output: Path) -> None:
    """Take one photo with each camera (or NAME) as the bench would store it, and save it."""
    from dockstation.cameras import CameraError, open_camera
    from dockstation.cameras.capture import shoot
    from dockstation.config import load_bench_config

    station = load_bench_config(ctx.home).station
    configs = station.cameras
    if name is not None:
        configs = [c for c in configs if c.name == name]
        if not configs:
            fail(f"no camera named {name!r} in station.toml")
    if not configs:
        fail("no [[cameras]] in station.toml (see `dockstation cameras list` for devices)")
    output.mkdir(parents=True, exist_ok=True)
    failed = []
    for cfg in configs:
        if cfg.scheme == "dir":
            click.echo(f"{cfg.name}: waiting up to {cfg.timeout:g} s for a new JPEG in the folder…")
        camera = open_camera(cfg)
        try:
            shot = shoot(camera, station.photos)
        except CameraError as exc:
            click.echo(f"✖ {cfg.name}: {exc.reason}")
            failed.append(cfg.name)
            continue
        finally:
            camera.close()
        p = shot.processed
        path = output / f"camera-test-{cfg.name}.jpg"
        path.write_bytes(p.data)
        click.echo(f"✔ {cfg.name}: {p.width}x{p.height}, {p.size / 1024:.0f} KB stored (camera sent "
                   f"{shot.raw_bytes / 1024:.0f} KB in {shot.capture_s * 1000:.0f} ms; "
                   f"{shot.process_s * 1000:.0f} ms to strip and resize) → {path}")
    if failed:
        fail(f"{len(failed)} camera(s) failed: {', '.join(failed)}")


commands: list[click.Command] = [cameras_group]
