"""`python -m dockstation.cli …`: the same entry point as `dockstation`."""

from dockstation.cli import main

main(prog_name="dockstation")
