"""A scan's result painted as its dispatch ends, not at the end of Textual's idle chain.

Textual paints a changed widget after a chain of messages: `refresh()` posts the widget a
Prompt; on its Idle it posts the screen an Update; on the screen's Idle the screen resumes its
update timer, and that timer's task composes the frame. For a scan's five changed widgets that is
~15 messages and task switches, ~0.6 ms between the dispatcher's end and the frame on a real
terminal (bench_scan.py --pty --split).

`paint_now` does what that chain ends in, at once, when all that is pending is repaints: the
widgets marked for a repaint become the screen's dirty widgets and the screen's update runs now
(`Screen._on_timer_update`, what the timer would call). Anything else pending — a layout, a
scroll, styles, a recompose, a screen not yet laid out, an update batch — and it does nothing:
Textual's own chain paints it all, as before. The messages the chain already posted then find
nothing left to do. Written for Textual 8.2's internals; if they are not there, nothing happens
(tests/tui/test_paint.py notices).
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("dockstation.tui")


def paint_now(app: Any) -> bool:
    """Compose and write the current screen's pending repaints now; False if left to Textual."""
    try:
        screen = app.screen
        if (app._batch_count or not screen.is_current or not app._driver
                or screen._layout_required or screen._scroll_required or screen._recompose_required
                or screen not in screen._compositor):
            return False
        dirty = []
        nodes = list(screen._nodes)  # every widget of the screen, in any order (a scan: ~15)
        for widget in nodes:
            # Needs more than a repaint (Textual's Widget._check_refresh does these)
            if (widget._layout_required or widget._scroll_required or widget._refresh_styles_required
                    or widget._recompose_required):
                return False
            if widget._repaint_required:
                dirty.append(widget)
            if widget._nodes:
                nodes.extend(widget._nodes)
        if not dirty and not screen._repaint_required:
            return False
        for widget in dirty:
            widget._repaint_required = False  # what Widget._check_refresh does on its Idle
            if widget.display:
                screen._dirty_widgets.add(widget)  # what Screen._on_update does on the Update
        screen._on_timer_update()
    except AttributeError:  # not Textual 8.2's shape: its own chain paints
        log.debug("paint_now: Textual internals changed; frames are left to Textual", exc_info=True)
        return False
    return True
