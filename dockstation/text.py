"""Untrusted text (scanners, manifests, HQ) made safe to show and to store.

Neither Rich nor Textual strips terminal escape sequences (FIELD-NOTES), so every string from
outside goes through `clean` before display; the TUI then wraps it in `rich.text.Text` so it is
never parsed as markup.
"""

from __future__ import annotations

import re

# ESC-introduced sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), and 2-byte escapes.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"          # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC ... BEL / ST
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"   # DCS / SOS / PM / APC ... ST
    r"|\x1b[@-Z\\-_]"                   # other 2-byte escapes
    r"|\x9b[0-?]*[ -/]*[@-~]"           # 8-bit CSI
)
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NAMES = {"\x1d": "<GS>", "\x1e": "<RS>", "\x04": "<EOT>", "\t": " "}

MAX_DISPLAY = 200


def clean(value: object, *, limit: int | None = MAX_DISPLAY, show_gs: bool = True) -> str:
    """One line of plain text: escape sequences removed, GS shown as <GS>, other controls dropped."""
    text = "" if value is None else str(value)
    text = _ESCAPES.sub("", text)
    if show_gs:
        text = _CONTROLS.sub(lambda m: _NAMES.get(m.group(), ""), text)
    else:
        text = _CONTROLS.sub("", text)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def has_controls(value: str, *, allow: str = "\x1d") -> bool:
    return any(ch not in allow for ch in _CONTROLS.findall(value))


def bounded(value: str, limit: int = 512) -> str:
    """For storage: keep untrusted text as data, but bounded (a 10 kB scan is evidence, not data)."""
    return value if len(value) <= limit else value[:limit] + f"…[+{len(value) - limit} chars]"
