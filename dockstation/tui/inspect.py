"""Inspect screen (stub; the inspection feature replaces this file)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Static


class InspectScreen(Screen[None]):
    def __init__(self, lpn: str) -> None:
        super().__init__()
        self.lpn = lpn

    def compose(self) -> ComposeResult:
        yield Static(f"Inspection of {self.lpn}: not built yet", markup=False)

    async def handle_scan(self, scan, classified) -> bool:  # type: ignore[no-untyped-def]
        return False
