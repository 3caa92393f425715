"""The photo preview on the inspect screen: a real picture where the terminal can show one.

textual-image draws with the terminal's graphics (Sixel; Kitty's graphics protocol), or with
coloured half-blocks. It has to ask the terminal what it can do *before* Textual takes the
terminal over, so `probe()` runs in `dockstation run` before the app starts, and only on a bench
with cameras (it writes a query to the terminal and waits up to a tenth of a second for the
answer). Until then — headless tests, `[photos] preview = "text"`, no terminal, a 16-colour
console (TERM=linux), no textual-image — the screen shows the photo line alone (count, step),
a text placeholder.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

log = logging.getLogger("dockstation.tui")
MODE = "text"  # graphics | blocks | text: what probe() found


def probe(preference: str = "auto") -> str:
    """Find out what this terminal can show (call before the app runs). Returns the mode."""
    global MODE
    MODE = "text"
    if preference == "text" or not (sys.__stdout__ and sys.__stdout__.isatty() and sys.__stdin__
                                      and sys.__stdin__.isatty()):
        return MODE
    try:
        import textual_image.renderable as renderable
        import textual_image.widget  # noqa: F401 - its import asks the terminal its cell size
    except Exception as exc:  # noqa: BLE001 - no preview is no reason not to start
        log.warning("photo preview off: %s", exc)
        return MODE
    name = renderable.Image.__name__ if hasattr(renderable.Image, "__name__") else ""
    kind = renderable.Image.__module__.rsplit(".", 1)[-1]
    colour = os.environ.get("COLORTERM", "") in ("truecolor", "24bit") or "256" in os.environ.get("TERM", "")
    if kind in ("sixel", "tgp"):
        MODE = "graphics"
    elif kind == "halfcell" and colour:
        MODE = "blocks"
    log.info("photo preview: %s (%s %s)", MODE, kind, name)
    return MODE


def make_preview(widget_id: str) -> Any | None:
    """The preview widget for the mode found, or None (text only)."""
    if MODE == "text":
        return None
    from textual_image import widget

    cls = widget.Image if MODE == "graphics" else widget.HalfcellImage
    return cls(None, id=widget_id)
