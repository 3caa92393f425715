"""Untrusted text (scanner, manifest, network) made safe to put on screen.

A `str` handed to `Static`, `Label`, a `DataTable` cell or `notify` is parsed as markup: a
scanned `[@click=app.quit]` would become a live action and `ABC[/x]` a crash; and neither Rich
nor Textual strips terminal escapes (FIELD-NOTES "Untrusted text on screen"). So every outside
string goes through `clean` (escapes and control characters removed, GS shown as <GS>) and is
wrapped in `rich.text.Text`, which is never parsed as markup.
"""

from __future__ import annotations

from rich.text import Text

from dockstation.text import MAX_DISPLAY, clean


def safe(value: object, style: str = "", *, limit: int | None = MAX_DISPLAY) -> Text:
    """One line of untrusted text as a markup-free `Text`."""
    return Text(clean(value, limit=limit), style=style, no_wrap=False)


def cell(value: object, style: str = "", *, limit: int = 60) -> Text:
    """A DataTable cell: plain text, cut to `limit` characters."""
    return Text(clean(value, limit=limit), style=style, no_wrap=True, overflow="ellipsis")


def join(*parts: Text | str, sep: str = "") -> Text:
    """Join pieces; plain `str` pieces are *our* literal text (never markup either)."""
    out = Text()
    for n, part in enumerate(parts):
        if n and sep:
            out.append(sep)
        out.append(part if isinstance(part, Text) else Text(part))
    return out
