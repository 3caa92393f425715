"""`dockstation hq …`: the HQ command group lives with HQ (sync/hq/cli/); registered here."""

from sync.hq.cli import commands, db_option, open_db  # noqa: F401
