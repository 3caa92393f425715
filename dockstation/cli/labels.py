"""`dockstation labels` commands (stub: filled in by its feature)."""

import click

commands: list[click.Command] = []
