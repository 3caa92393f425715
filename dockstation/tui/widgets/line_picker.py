"""Which line of a multi-line RMA is this item? Number keys 1–9, arrows + Enter, or Esc.

The picker only says what was chosen (`Picked` / `Cancelled`); the receiving screen runs the
use case. Scanning the product's GTIN picks too, but scans never reach this widget: the app's
dispatcher hands them to the screen (`ReceiveScreen.handle_scan`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from dockstation.text import clean

if TYPE_CHECKING:  # the receiving core loads after the first screen (tui/app.py)
    from dockstation.receiving.core import LineChoice

MAX_KEYED = 9


def line_prompt(position: int, line: LineChoice) -> Text:
    done = line.received_qty >= line.qty
    key = f"[{position}]" if position <= MAX_KEYED else "   "
    out = Text(no_wrap=True, overflow="ellipsis")
    out.append(f"{key} ", style="bold")
    out.append(f"line {line.line_no}  ")
    out.append(clean(line.sku, limit=16), style="bold")
    out.append("  ")
    out.append(clean(line.description, limit=34))
    out.append(f"  {line.received_qty}/{line.qty}")
    if done:
        out.append("  ✔ received", style="dim")
    return out


class LinePicker(OptionList):
    BINDINGS = [
        *(Binding(str(n), f"pick({n})", f"Line {n}", show=False, id=f"picker.pick{n}")
          for n in range(1, MAX_KEYED + 1)),
        Binding("escape", "cancel", "Cancel", id="picker.cancel"),
    ]

    class Picked(Message):
        def __init__(self, line_no: int) -> None:
            super().__init__()
            self.line_no = line_no

    class Cancelled(Message):
        pass

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.lines: tuple[LineChoice, ...] = ()

    def set_lines(self, lines: tuple[LineChoice, ...]) -> None:
        self.lines = lines
        options = [
            Option(line_prompt(n, line), id=f"line-{line.line_no}", disabled=line.received_qty >= line.qty)
            for n, line in enumerate(lines, start=1)
        ]
        self.set_options(options)
        first_open = next((n for n, l in enumerate(lines) if l.received_qty < l.qty), None)
        if first_open is not None:
            self.highlighted = first_open

    def action_pick(self, position: int) -> None:
        if 1 <= position <= len(self.lines):
            line = self.lines[position - 1]
            if line.received_qty < line.qty:
                self.post_message(self.Picked(line.line_no))
                return
        beep = getattr(self.app, "beep", None)
        if beep is not None:
            beep(False)

    def action_cancel(self) -> None:
        self.post_message(self.Cancelled())

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_pick(event.option_index + 1)
