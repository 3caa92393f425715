"""The inspect screen's photos (mixed into InspectScreen): take one, show it, waive them.

`p` / `CMD:PHOTO` asks the app's camera (tui/photos.py: a thread worker, never the scan path) for
a photo of the current step — at the grade, of the unit — and the screen says so at once; the
stored result comes back as a dispatcher job (`photo_stored`), drawn after its commit: the count,
the preview, and the inspection moving on if that step waited for it. `w` asks a lead to waive
the photos the current step still needs: a lead at the keys waives at once, anyone else's `w`
waits for a lead's badge scan (Esc: no); a waiver is recorded (`photo_waived`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.widgets import Static

from dockstation import inspection as ins
from dockstation.inspection import photos as ins_photos
from dockstation.tui import inspect_render as render
from dockstation.tui.widgets.update import show

if TYPE_CHECKING:
    from dockstation.tui.inspect import InspectScreen


class InspectPhotos:
    @property
    def wants_badge(self: InspectScreen) -> bool:
        return self.waiver_asked

    def take_photo(self: InspectScreen, camera: str) -> None:
        """Ask the app's camera for a photo of the current step (or the unit, at the grade)."""
        v = self.view
        if v is None or v.status != "open":
            self._say("No open inspection to take a photo for", "error")
            return
        request = getattr(self.app, "request_photo", None)
        step = v.step.id if v.step is not None else ""
        why = request(self.lpn, v.inspection_id, step, camera) if request else "No camera at this bench"
        if why is not None:
            self._say(why, "error")
            return
        self._draw()
        self._say(f"Taking a photo of {'“' + v.step.short + '”' if v.step else 'the unit'}…", "info", beep=False)

    async def photo_stored(self: InspectScreen, result: Any) -> None:
        """A photo committed (a dispatcher job): the inspection after it, or just the message."""
        view = result.view
        if view is not None and self.view is not None and view.inspection_id == self.view.inspection_id:
            await self._show(view)
            if view.status != "done":
                self._say(result.message, "ok" if result.new else "warn")
            return
        self._draw() if self.view is not None else None
        self._say(result.message, "ok" if result.new else "warn")

    def photo_failed(self: InspectScreen, text: str) -> None:
        if self.view is not None:
            self._draw()
        self._say(text, "error")

    def ask_waiver(self: InspectScreen, on: bool) -> None:
        if on == self.waiver_asked:
            return
        self.waiver_asked = on
        ask = self.query_one("#i-ask", Static)
        ask.display = on
        self.refresh_bindings()
        if on:
            ask.update(Text(" The photos of this step are waived by a lead: lead, scan your badge  ·  Esc: no"))
            self._beep("warn")

    async def waive(self: InspectScreen, lead: Any) -> None:
        self.ask_waiver(False)
        await self._call(ins_photos.waive_photos, lead)

    def _draw_photos(self: InspectScreen, v: ins.InspectionView) -> None:
        busy = [r.camera for r in (getattr(self.app, "photos_busy", None) or {}).values() if r.lpn == self.lpn]
        line = render.photos_line(v, busy, self._key, bool(getattr(self.app, "cameras", None)))
        box = self.query_one("#i-photos", Static)
        box.display = bool(line.plain)
        show(box, line)  # unchanged (most steps): no update, no layout
        previews = self.query("#i-preview") if v.photos.last_file else None  # a query walks the screen
        if previews and v.photos.last_file:
            preview = previews.first()
            path = self.app.home / v.photos.last_file
            if getattr(preview, "_shown", None) != path and path.is_file():
                preview.image = path
                preview._shown = path
            preview.display = True

