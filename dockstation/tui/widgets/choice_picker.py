"""Pick one of a few choices: number keys 1–9, arrows + Enter, or Esc (the lead's reasons, paths).

The picker only says what was chosen (`Picked(key)` / `Cancelled`); its screen does the work.
"""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from dockstation.text import clean

MAX_KEYED = 9


class ChoicePicker(OptionList):
    BINDINGS = [
        *(Binding(str(n), f"pick({n})", f"Choice {n}", show=False, id=f"choice.pick{n}")
          for n in range(1, MAX_KEYED + 1)),
        Binding("escape", "cancel", "Cancel", id="choice.cancel"),
    ]

    class Picked(Message):
        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    class Cancelled(Message):
        pass

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.keys: list[str] = []

    def set_choices(self, choices: list[tuple[str, str]], highlight: str | None = None) -> None:
        """`choices`: (key, label); labels are drawn as plain text, numbered 1–9."""
        self.keys = [key for key, _ in choices]
        options = []
        for n, (key, label) in enumerate(choices, start=1):
            prompt = Text(no_wrap=True, overflow="ellipsis")
            prompt.append(f"[{n}] " if n <= MAX_KEYED else "    ", style="bold")
            prompt.append(clean(label, limit=70))
            options.append(Option(prompt, id=f"choice-{n}"))
        self.set_options(options)
        self.highlighted = self.keys.index(highlight) if highlight in self.keys else 0

    def action_pick(self, position: int) -> None:
        if 1 <= position <= len(self.keys):
            self.post_message(self.Picked(self.keys[position - 1]))
        elif callable(beep := getattr(self.app, "beep", None)):
            beep(False)

    def action_cancel(self) -> None:
        self.post_message(self.Cancelled())

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_pick(event.option_index + 1)
