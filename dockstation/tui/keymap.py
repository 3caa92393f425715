"""Keys per station: `[keys]` in station.toml remaps bindings by id (Textual's keymap).

```toml
[keys]
"inspect.all_pass" = "space"      # binding id = key (or "key1,key2")
"bench.help" = "f1,question_mark"
```

Validated when the TUI starts, like every config file: an unknown binding id, a key Textual
cannot name, or a key another binding of the same screen already uses is refused with the file,
the key (`keys.<id>`) and the reason. Every binding id of every screen is listed by `catalogue`
(and on the F1 help screen).

Textual quirk worked around here: `BindingsMap.apply_keymap` drops *every* binding of a remapped
binding's old key, also those with other ids (the inspect screen's `1` passes a check, picks
option 1 and types a digit, by step). `expand` re-states those siblings at their own keys, so
remapping one leaves the others where they were.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from textual.binding import Binding

from dockstation.config import BenchConfig, ConfigError, layer_dirs, read_toml

NAMED = {"space", "enter", "escape", "backspace", "delete", "insert", "home", "end", "pageup", "pagedown",
         "up", "down", "left", "right", "tab", *(f"f{n}" for n in range(1, 25))}
_MODS = re.compile(r"^(?:(?:ctrl|shift|alt|meta|super)\+)*")
LABELS = {"enter": "Enter", "escape": "Esc", "backspace": "Backspace", "space": "Space", "full_stop": "."}


def _scale(config: BenchConfig) -> list[str]:
    return [g.code for g in config.codes.grades]


def catalogue(scale: list[str]) -> dict[str, list[Binding]]:
    """Every screen's bindings (one Binding per key), by the namespace they live in."""
    from dockstation.tui.app import BenchApp
    from dockstation.tui.disposition import DispositionScreen
    from dockstation.tui.help import HelpScreen
    from dockstation.tui.inspect import InspectScreen
    from dockstation.tui.inspect_keys import grade_bindings
    from dockstation.tui.lead import LeadScreen
    from dockstation.tui.receive import ReceiveScreen
    from dockstation.tui.widgets import LinePicker
    from dockstation.tui.widgets.choice_picker import ChoicePicker

    def flat(node: Any) -> list[Binding]:
        return list(Binding.make_bindings(node.BINDINGS))

    return {
        "app": flat(BenchApp), "receive": flat(ReceiveScreen), "picker": flat(LinePicker),
        "inspect": [*grade_bindings(scale), *flat(InspectScreen)], "disposition": flat(DispositionScreen),
        "lead": flat(LeadScreen), "choice": flat(ChoicePicker), "help": flat(HelpScreen),
    }


def valid_key(key: str) -> bool:
    base = _MODS.sub("", key)
    return base in NAMED or (len(base) == 1 and base.isprintable() and not base.isspace()) \
        or bool(re.fullmatch(r"[a-z_]+", base) and base in _TEXTUAL_NAMES)


# Textual's own names for punctuation keys ("question_mark", "full_stop", …), which a keymap may use.
_TEXTUAL_NAMES = {"question_mark", "full_stop", "comma", "minus", "plus", "slash", "backslash", "asterisk",
                  "exclamation_mark", "number_sign", "dollar_sign", "percent_sign", "ampersand", "apostrophe",
                  "left_parenthesis", "right_parenthesis", "colon", "semicolon", "less_than_sign",
                  "equals_sign", "greater_than_sign", "at", "left_square_bracket", "right_square_bracket",
                  "circumflex_accent", "underscore", "grave_accent", "left_curly_bracket", "vertical_line",
                  "right_curly_bracket", "tilde", "quotation_mark"}


def _where(home: Path, binding_id: str) -> str:
    """The station.toml layer that set `keys.<binding_id>` (the file to fix)."""
    found = str(home / "config" / "station.toml")
    for d in layer_dirs(home):
        path = d / "station.toml"
        if path.is_file() and binding_id in (read_toml(path).get("keys") or {}):
            found = str(path)
    return found


def _normal(key: str) -> str:
    from textual.keys import _character_to_key

    return _character_to_key(key) if len(key) == 1 else key


def load_keymap(config: BenchConfig) -> dict[str, str]:
    """station.toml's `[keys]`, checked against the bindings; {} when the station remaps nothing."""
    wanted = config.station.keys
    if not wanted:
        return {}
    spaces = catalogue(_scale(config))
    by_id = {b.id: b for bindings in spaces.values() for b in bindings if b.id}
    for binding_id, keys in wanted.items():
        where, key = _where(config.home, binding_id), f"keys.{binding_id}"
        if binding_id not in by_id:
            near = sorted(i for i in by_id if i.split(".")[0] == binding_id.split(".")[0]) or sorted(by_id)
            raise ConfigError(where, key, f"no binding has this id; ids here: {', '.join(near[:12])}"
                              + (" …" if len(near) > 12 else "") + " (F1 lists them per screen)")
        parts = [k.strip() for k in keys.split(",")]
        bad = [k for k in parts if not valid_key(k)]
        if not parts or bad:
            raise ConfigError(where, key, f"not a key: {bad[0] if bad else keys!r} (e.g. 'a', 'space', 'f7', 'ctrl+p')")
    keymap = {i: ",".join(_normal(k.strip()) for k in keys.split(",")) for i, keys in wanted.items()}
    _refuse_clashes(config, spaces, keymap)
    return keymap


def _keys_after(bindings: Iterable[Binding], keymap: dict[str, str]) -> dict[str, set[str]]:
    """Binding id → the keys it has once `keymap` applies."""
    out: dict[str, set[str]] = {}
    for b in bindings:
        if b.id:
            out.setdefault(b.id, set()).update(keymap[b.id].split(",") if b.id in keymap else [b.key])
    return out


def _refuse_clashes(config: BenchConfig, spaces: dict[str, list[Binding]], keymap: dict[str, str]) -> None:
    """A remapped key may not land on a key another binding of the same screen (or the app) has,
    unless the two shared a key in the defaults already (the step decides between those). Grade
    letters are exempt: at the grade, letters pick grades (as `a` and `b` do by default)."""
    app = spaces["app"]
    for name, bindings in spaces.items():
        pool = bindings if name == "app" else [*bindings, *app]
        default = _keys_after(pool, {})
        after = _keys_after(pool, keymap)
        for moved in (i for i in keymap if i in after):
            clash = sorted(other for other, keys in after.items()
                           if other != moved and keys & after[moved] and not other.startswith("inspect.grade_")
                           and not (default[other] & default[moved] and (other not in keymap or keys == after[moved])))
            if clash:
                shared = sorted(after[clash[0]] & after[moved])[0]
                raise ConfigError(_where(config.home, moved), f"keys.{moved}",
                                  f"{shared!r} is already the key of {', '.join(clash)} on the same screen")


def expand(keymap: dict[str, str], scale: list[str]) -> dict[str, str]:
    """`keymap` plus, at their default keys, the bindings that share an old or a new key with a
    remapped one (see the quirk above), so Textual's keymap moves only what the station asked."""
    if not keymap:
        return {}
    out = dict(keymap)
    for bindings in catalogue(scale).values():
        touched = {b.key for b in bindings if b.id in keymap}
        touched |= {k for b in bindings if b.id in keymap for k in keymap[b.id].split(",")}
        for b in bindings:
            if b.id and b.id not in out and b.key in touched:
                out[b.id] = b.key
    return out


def key_label(key: str) -> str:
    """How a key is written on screen: `Enter`, `Esc`, `F1`, `a`, `^q`."""
    first = key.split(",")[0]
    base = _MODS.sub("", first)
    mods = first[: len(first) - len(base)].replace("ctrl+", "^").replace("shift+", "⇧").replace("alt+", "⌥")
    if base in LABELS:
        return mods + LABELS[base]
    if re.fullmatch(r"f\d+", base):
        return mods + base.upper()
    from textual.keys import format_key

    return mods + format_key(base)


def keys_of(app: Any, binding: Binding) -> str:
    """The key(s) a binding has now on this bench: the station's keymap, else its own."""
    keymap = getattr(app, "_keymap", {}) or {}
    return keymap.get(binding.id or "", binding.key)
