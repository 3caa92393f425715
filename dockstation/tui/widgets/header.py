"""The status header every bench screen shows: station, operator, scanners, printer, sync.

One line, so that 24 rows leave room for the unit. Each slot shows a symbol *and* a colour
(never colour alone): ✔ ok, ! warning, ✖ error, – off. Screens of other features put it at the
top with `yield StatusHeader()`; it follows the app's `operator` and `status_rev` reactives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

from dockstation.text import clean

if TYPE_CHECKING:
    from dockstation.tui.messages import Slot

SYMBOLS = {"ok": "✔", "warn": "!", "error": "✖", "off": "–"}
STYLES = {"ok": "bold green", "warn": "bold yellow", "error": "bold red", "off": "dim"}


def render_header(station_id: str, operator: object | None, slots: list[Slot]) -> Text:
    out = Text(no_wrap=True, overflow="ellipsis")
    out.append(f" {clean(station_id, limit=8)} ", style="bold reverse")
    out.append(" ")
    if operator is None:
        out.append("✖ nobody signed in", style="bold red")
    else:
        name = clean(getattr(operator, "name", ""), limit=24)
        role = clean(getattr(operator, "role", ""), limit=8)
        out.append("● ", style="bold green")
        out.append(f"{name} · {role}", style="bold")
    last_label = None
    for slot in slots:
        if slot.label != last_label:
            out.append("  │ ", style="dim")
            out.append(f"{clean(slot.label, limit=12)} ")
            last_label = slot.label
        else:
            out.append(" ")
        out.append(SYMBOLS.get(slot.level, "?") + " ", style=STYLES.get(slot.level, ""))
        out.append(clean(slot.text, limit=24), style="red" if slot.level == "error" else "")
    return out


class StatusHeader(Static):
    DEFAULT_CSS = """
    StatusHeader { height: 1; width: 1fr; background: $panel; }
    """

    def __init__(self, *, id: str | None = "status-header") -> None:
        super().__init__("", id=id, markup=False)

    def on_mount(self) -> None:
        self.watch(self.app, "operator", self._refresh_header, init=False)
        self.watch(self.app, "status_rev", self._refresh_header, init=False)
        self._refresh_header()

    def _refresh_header(self, *_: object) -> None:
        app = self.app
        station = getattr(getattr(app, "config", None), "station", None)
        slots = app.header_slots() if hasattr(app, "header_slots") else []
        # One line, always: a repaint of this line, not a new layout of the screen.
        self.update(render_header(getattr(station, "station_id", "?"), getattr(app, "operator", None), slots),
                    layout=False)
