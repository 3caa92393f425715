"""F1: the help screen of the current screen — its keys and the command barcodes it takes.

Generated from the screen itself, so it cannot drift from what the screen does: the keys are its
bindings (and the app's) as they are on this bench (the station's keymap applied), grouped as the
footer groups them, each with its binding id (what `[keys]` in station.toml remaps); keys that do
nothing at this moment (another step's) are dimmed. The command barcodes are the screen's own
table (`help_commands()`, e.g. inspect_keys.COMMANDS, the one the dispatcher runs) and the app's.

Any scan closes the help and goes on to the screen below, as if the help had not been open.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from dockstation.scan import Classified, ScanEvent
from dockstation.tui.keymap import key_label

# The app's own commands, on every screen (tui/app.py dispatch).
APP_COMMANDS = [
    ("OP-<badge>", "Sign in (signs the previous operator out)"),
    ("CMD:LOGOUT", "Sign out"),
    ("CMD:REPRINT", "Reprint the current unit's label"),
    ("<LPN>", "Open that unit (a grader inspects it)"),
    ("CT-<container>", "Put the unit just disposed (or scanned) in it"),
    ("CMD:CLOSE", "Then a container: close it (label, manifest)"),
]


def _state(app: Any, namespace: Any, binding: Binding) -> bool | None:
    """Is the binding's action enabled now (True), shown but off (None), or not here (False)?"""
    try:
        return app._check_action_state(binding.action, namespace)  # Textual's own test of check_action
    except Exception:  # an action of a widget no longer mounted, etc.
        return False


def _keys_text(keys: list[str]) -> str:
    digits = sorted(k for k in keys if len(k) == 1 and k.isdigit())
    shown = [f"{digits[0]}–{digits[-1]}"] if len(digits) > 2 else digits
    letters = sorted(k for k in keys if len(k) == 1 and k.isalpha()) if len(keys) > 2 else []
    return " ".join([*shown, *letters, *(key_label(k) for k in keys if k not in digits and k not in letters)])


def key_rows(app: Any, target: Screen[Any]) -> list[tuple[str, str, str, bool]]:
    """(keys, what, binding ids, enabled now) per binding or binding group of the target screen:
    enabled ones first. Only the bench's bindings (they have ids), not Textual's focus keys."""
    rows: dict[str, list[Any]] = {}
    taken: set[str] = set()  # keys an earlier namespace answers now: the later binding never runs
    for namespace, bindings in target._binding_chain:  # focused widget → screen → app, keymap applied
        mine: set[str] = set()
        for key, binding in bindings:
            if binding.system or not binding.id or key in taken:
                continue
            state = _state(app, namespace, binding)
            if state is False and namespace is app:
                continue  # an app key that means nothing on this screen (F2 outside receiving …)
            if state:
                mine.add(key)
            what = binding.group.description if binding.group else binding.description or binding.action
            row = rows.setdefault(f"{what}\0{namespace.__class__.__name__}", [[], what, [], False])
            if key not in row[0]:
                row[0].append(key)
            if binding.id not in row[2]:
                row[2].append(binding.id)
            row[3] = row[3] or key in mine
        taken |= mine
    out = []
    for keys, what, ids, enabled in rows.values():
        id_text = ", ".join(ids) if len(ids) <= 2 else f"{ids[0]} …{ids[-1].rpartition('.')[2]}"
        out.append((_keys_text(keys), what, id_text, enabled))
    return sorted(out, key=lambda row: not row[3])


def commands_of(target: Screen[Any]) -> list[tuple[str, str]]:
    own = getattr(target, "help_commands", None)
    return [*(own() if callable(own) else []), *APP_COMMANDS]


def help_text(app: Any, target: Screen[Any]) -> Text:
    out = Text()
    out.append("KEYS", "bold").append("   (dimmed: not at this step · binding id: station.toml [keys])\n", "dim")
    for keys, what, ids, enabled in key_rows(app, target):
        style = "" if enabled else "dim"
        out.append(f" {keys:<12}", f"bold {style}".strip()).append(f"{what:<24}", style).append(f" {ids}\n", "dim")
    out.append("\nCOMMAND BARCODES", "bold").append("   (command sheet: dockstation labels command-sheet)\n", "dim")
    commands = commands_of(target)
    width = min(24, max(len(code) for code, _ in commands) + 2)
    for code, meaning in commands:
        out.append(f" {code:<{width}}", "bold").append(f"{'' if len(code) < width else ' '}{meaning}\n")
    return out


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen #help-box { width: 100%; max-width: 100; height: 100%; border: heavy $accent; background: $surface; }
    HelpScreen #help-title { height: 1; background: $accent; color: $text; text-style: bold; padding: 0 1; }
    HelpScreen #help-body { height: 1fr; padding: 0 1; }
    HelpScreen #help-foot { height: 1; color: $text-muted; padding: 0 1; }
    """
    BINDINGS = [
        Binding("escape", "close", "Close", id="help.close"),
        Binding("f1", "close", "Close", show=False, id="help.close_f1"),
        Binding("enter", "close", "Close", show=False, id="help.close_enter"),
    ]

    def __init__(self, target: Screen[Any]) -> None:
        super().__init__()
        self.target = target
        self.text = Text()  # tests read it

    def compose(self) -> ComposeResult:
        self.text = help_text(self.app, self.target)
        title = getattr(self.target, "HELP_TITLE", "") or type(self.target).__name__.removesuffix("Screen")
        with Vertical(id="help-box"):
            yield Static(Text(f"Help · {title}"), id="help-title")
            with VerticalScroll(id="help-body"):
                yield Static(self.text)
            yield Static(Text("Esc / F1 / Enter close · ↑ ↓ PgUp PgDn scroll · a scan closes and goes on"),
                         id="help-foot")

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def action_close(self) -> None:
        self.dismiss()

    async def handle_scan(self, scan: ScanEvent, classified: Classified) -> bool:
        """Close, then hand the scan on (the app routes it as if the help had not been open)."""
        await self.app.pop_screen()
        await self.app.dispatch(scan, classified)
        return True
