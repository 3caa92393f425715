"""Photos in the bench app: cameras in the header, a capture worker per photo, the store job.

- Each `[[cameras]]` gets a header slot (`cam ✔ desk`); a watcher thread probes the cameras every
  PROBE_S seconds, so a camera that is unplugged or unreachable shows before anyone needs it.
  A failing camera never blocks anything: scans go on, a step that needs a photo waits for it
  (or for a lead's waiver).
- `request_photo(lpn, inspection_id, step)`: a Textual thread worker takes the picture and makes
  it the stored form (dockstation.cameras.capture.shoot: network, folder, device; resize and strip
  metadata) off the event loop and off the scan dispatcher; it posts `PhotoCaptured` (or
  `PhotoFailed`) back. Storing it is then one dispatcher job, in turn with the scans (a file
  write + fsync, one short transaction), and its result is shown after the commit.
- One picture at a time per camera; asking again while one is on its way says so.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.message import Message

from dockstation.config import Operator
from dockstation.photos.rules import UNIT
from dockstation.text import clean
from dockstation.tui.messages import ServiceStatus

if TYPE_CHECKING:
    from dockstation.cameras import Camera
    from dockstation.cameras.capture import Shot
    from dockstation.tui.app import BenchApp

log = logging.getLogger("dockstation.tui")
PROBE_S = 60.0


@dataclass
class PhotoRequest:
    lpn: str
    inspection_id: int | None
    step: str
    camera: str
    operator: Operator | None


@dataclass
class PhotoCaptured(Message):
    request: PhotoRequest
    shot: Shot


@dataclass
class PhotoFailed(Message):
    request: PhotoRequest
    reason: str


def slot_of(name: str) -> str:
    return f"camera:{name}"


class PhotosMixin:
    """Mixed into BenchApp."""

    cameras: dict[str, Camera]
    photos_busy: dict[str, PhotoRequest]

    def _start_cameras(self: BenchApp) -> None:
        from dockstation.cameras import open_camera

        self.cameras, self.photos_busy = {}, {}
        configs = self.config.station.cameras
        for cfg in configs:
            self.cameras[cfg.name] = open_camera(cfg)
            self.set_slot(slot_of(cfg.name), cfg.name, "warn")
        if configs:
            stop = threading.Event()
            self._stops["cameras"] = stop
            threading.Thread(target=self._watch_cameras, args=(stop,), name="cameras", daemon=True).start()

    def _watch_cameras(self: BenchApp, stop: threading.Event) -> None:
        """Probe every camera not taking a picture now, then every PROBE_S seconds."""
        while not stop.is_set():
            for name, camera in list(self.cameras.items()):
                if name in self.photos_busy or stop.is_set():
                    continue
                try:
                    problem = camera.probe()
                except Exception as exc:  # noqa: BLE001 - a probe must not end the watcher
                    problem = f"{type(exc).__name__}"
                self._camera_status(name, problem)
            stop.wait(PROBE_S)

    def _camera_status(self: BenchApp, name: str, problem: str | None) -> None:
        if problem is not None:
            log.warning("camera %s: %s", name, problem)
        text = name if problem is None else f"{name}: {problem}"
        try:
            self.post_message(ServiceStatus(slot_of(name), clean(text, limit=40), "ok" if problem is None else "error"))
        except RuntimeError:  # the app is closing
            pass

    def camera_names(self: BenchApp) -> list[str]:
        return list(getattr(self, "cameras", {}) or {})

    def request_photo(self: BenchApp, lpn: str, inspection_id: int | None, step: str = UNIT,
                      camera: str = "") -> str | None:
        """Start taking a photo; None when it is on its way, else why not (for the screen)."""
        cameras = getattr(self, "cameras", {}) or {}
        if not cameras:
            return "No camera at this bench: [[cameras]] in station.toml (docs/photos.md)"
        name = camera or next(iter(cameras))
        if name not in cameras:
            return f"No camera {clean(name, limit=16)}: this bench has {', '.join(cameras)}"
        if name in self.photos_busy:
            return f"Camera {name} is still taking the last photo"
        request = PhotoRequest(lpn, inspection_id, step, name, self.operator)
        self.photos_busy[name] = request
        self.set_slot(slot_of(name), f"{name}: taking…", "warn")
        self.run_worker(lambda: self._shoot(request), thread=True, group="photos", exit_on_error=False)
        return None

    def _shoot(self: BenchApp, request: PhotoRequest) -> None:
        from dockstation.cameras import CameraError
        from dockstation.cameras.capture import shoot

        stop = self._stops.get("cameras")
        try:
            shot = shoot(self.cameras[request.camera], self.config.station.photos, stop)
        except CameraError as exc:
            self.post_message(PhotoFailed(request, exc.reason))
        except Exception as exc:  # noqa: BLE001 - a bug in a transport: say so, keep the bench
            log.exception("camera %s failed", request.camera)
            self.post_message(PhotoFailed(request, f"{type(exc).__name__}: {exc}"))
        else:
            self.post_message(PhotoCaptured(request, shot))

    def on_photo_failed(self: BenchApp, message: PhotoFailed) -> None:
        request = message.request
        self.photos_busy.pop(request.camera, None)
        self._camera_status(request.camera, message.reason)
        self._photo_said(request, "error", f"No photo: camera {request.camera}: {message.reason}")

    def on_photo_captured(self: BenchApp, message: PhotoCaptured) -> None:
        request, shot = message.request, message.shot
        self.photos_busy.pop(request.camera, None)
        self._camera_status(request.camera, None)

        async def store_it() -> None:
            from dockstation.inspection import InspectionError
            from dockstation.inspection.photos import add_photo
            from dockstation.tui.inspect import checklists_for

            checklists, _ = checklists_for(self)
            try:  # in a thread: the file's fsyncs must not hold up the event loop (keys, drawing)
                result = await self.in_thread(add_photo, self.store, self.bench, request.operator, request.lpn,
                                          shot.processed, step=request.step, inspection_id=request.inspection_id,
                                          camera=request.camera, checklists=checklists, home=self.home)
            except InspectionError as exc:
                self._photo_said(request, "error", str(exc))
                return
            await self._photo_stored(request, result)

        self.enqueue_job(store_it)  # in turn with the scans: a write, then its result on screen

    async def _photo_stored(self: BenchApp, request: PhotoRequest, result: Any) -> None:
        receive = self.receive_screen
        if receive.is_mounted:
            receive.add_log(request.lpn, "ok" if result.new else "info", "photo " + ("stored" if result.new else "kept once")
                            + (f" · {request.step}" if request.step else ""))
        screen = getattr(self, "inspect_screen", None)
        if screen is not None and screen.is_current and screen.lpn == request.lpn:
            await screen.photo_stored(result)
            return
        self.show_result("ok" if result.new else "info", "PHOTO", f"{request.lpn}: {result.message}")

    def _photo_said(self: BenchApp, request: PhotoRequest, state: str, text: str) -> None:
        screen = getattr(self, "inspect_screen", None)
        if screen is not None and screen.is_current and screen.lpn == request.lpn:
            screen.photo_failed(text)
            return
        self.show_result(state, "NO PHOTO", text)

    async def photo_of_unit(self: BenchApp) -> None:
        """CMD:PHOTO on the receiving screen: a photo of the unit in hand (or the current one),
        e.g. of the damage it arrived with, before it is inspected."""
        lpn = self.in_hand or self.current_lpn
        if lpn is None:
            self.show_result("warn", "PHOTO", "Receive or scan a unit first, then CMD:PHOTO")
            return
        why = self.request_photo(lpn, None, UNIT)
        if why is not None:
            self.show_result("error", "NO PHOTO", why)
        else:
            self.show_result("info", "PHOTO", f"Taking a photo of {lpn}…")
