"""Lead screen (stub; the KPI feature replaces this file)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Static


class LeadScreen(Screen[None]):
    def compose(self) -> ComposeResult:
        yield Static("Lead view: not built yet")

    async def handle_scan(self, scan, classified) -> bool:  # type: ignore[no-untyped-def]
        return False
