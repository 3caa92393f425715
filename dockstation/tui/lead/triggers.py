"""The lead's view of the age triggers (tab 7): the units triggers moved today, and why.

One row per firing since the start of the lead's day, newest first: the unit, the trigger, what
it did (→ lane, → path, ▲ raised to the lead), how long the unit had waited, the trigger's reason.
The selected row's full reason is on the tab's first line. Rows come from
`dockstation.policy.triggers.moved_since`; the pass itself runs in the app (tui/age_triggers.py),
also at every refresh of this screen.
"""

from __future__ import annotations

from rich.text import Text
from textual.screen import Screen
from textual.widgets import DataTable, Static

from dockstation.models import AgeFiring
from dockstation.text import clean
from dockstation.tui.lead.render import hours_text
from dockstation.tui.widgets import cell

TAB = "tab-triggers"
ACTION_SYMBOL = {"lane": "→", "reroute": "↪", "escalate": "▲"}


def did(f: AgeFiring) -> str:
    """`→ express` (lane), `↪ liquidate` (path), `▲ lead` (raised to the lead)."""
    target = "lead" if f.action == "escalate" else (f.target or "?")
    return f"{ACTION_SYMBOL.get(f.action, '?')} {target}"


def trigger_view(f: AgeFiring) -> tuple[str, ...]:
    at = f.fired_at.astimezone().strftime("%H:%M") if f.fired_at else "–"
    return (f.lpn, at, f.trigger_id, did(f), hours_text(f.waited_hours), f.reason)


def trigger_cells(view: tuple[str, ...]) -> tuple[Text, ...]:
    lpn, at, trigger, what, waited, reason = view
    style = "bold yellow" if what.startswith("▲") else "bold"
    return (cell(lpn, "bold"), Text(at), cell(trigger), cell(what, style), Text(waited), cell(reason, limit=120))


def triggers_note(count: int, shown: int, deferred: int, selected: AgeFiring | None = None) -> Text:
    """The tab's first line: how many moved today, how many wait for their unit to be free, and
    what the selected one had and why it moved (the table's column is short at 80 columns)."""
    out = Text(no_wrap=True, overflow="ellipsis")
    if not count:
        out.append("✔ No unit moved by an age trigger today", style="green")
    else:
        more = f" (newest {shown})" if count > shown else ""
        out.append(f"{count} moved today{more}", style="bold")
    if deferred:
        out.append(f" · {deferred} wait: unit busy", style="yellow")
    if selected is not None:
        was = f" (was {selected.previous})" if selected.previous else ""
        out.append(clean(f" · {selected.lpn[-4:]}{was}: {selected.reason}"))
    return out


class TriggersTab(Screen[None]):
    """Keeps the note on the selected row (mixed into LeadScreen, which fills the table)."""

    moved: list[AgeFiring]
    moved_count: int
    deferred_count: int

    def selected_firing(self) -> AgeFiring | None:
        table = self.query_one("#triggers", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((f for f in self.moved if str(f.id) == key), None)

    def triggers_note_now(self) -> Text:
        return triggers_note(self.moved_count, len(self.moved), self.deferred_count, self.selected_firing())

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "triggers":
            self.query_one("#triggers-note", Static).update(self.triggers_note_now())
