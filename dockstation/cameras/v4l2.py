"""A USB (UVC) camera through V4L2, with linuxpy (pure Python over ctypes: no build, no OpenCV).

The camera is asked for MJPEG at the configured size (UVC cameras all offer it; the driver picks
the nearest size it has), a few frames are let go by while exposure settles, and the next
frame's bytes are the JPEG. A camera that only offers raw YUV is refused with that reason.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from urllib.parse import urlsplit

from dockstation.cameras import Camera, CameraError
from dockstation.photos.config import CameraConfig

WARMUP_FRAMES = 5  # auto-exposure needs a few frames after the stream starts


class V4l2Camera(Camera):
    def __init__(self, config: CameraConfig) -> None:
        super().__init__(config)
        self.device = urlsplit(config.url).path

    def probe(self) -> str | None:
        if not os.path.exists(self.device):
            return f"{self.device} not plugged in"
        if not os.access(self.device, os.R_OK | os.W_OK):
            return f"{self.device}: no permission (add the bench's user to the video group)"
        return None

    def capture(self, stop: threading.Event | None = None) -> bytes:
        if problem := self.probe():
            raise CameraError(self.name, problem)
        try:
            from linuxpy.video.device import Device, VideoCapture
        except ImportError:  # not Linux, or installed without it
            raise CameraError(self.name, "V4L2 needs linuxpy (Linux): pip install linuxpy") from None
        try:
            with Device(self.device, blocking=True) as cam:
                capture = VideoCapture(cam)
                capture.set_format(self.config.width, self.config.height, "MJPG")
                fmt = capture.get_format()
                if getattr(fmt.pixel_format, "name", "") not in ("MJPEG", "JPEG"):
                    raise CameraError(self.name, f"{self.device} gives {fmt.pixel_format!s}, not MJPEG")
                with capture:
                    for n, frame in enumerate(capture):
                        if stop is not None and stop.is_set():
                            raise CameraError(self.name, "stopped")
                        if n >= WARMUP_FRAMES:
                            return bytes(frame)
        except CameraError:
            raise
        except OSError as exc:
            raise CameraError(self.name, f"{self.device}: {exc.strerror or exc}") from None
        except Exception as exc:  # noqa: BLE001 - the library's own errors (V4L2Error, …)
            raise CameraError(self.name, f"{self.device}: {type(exc).__name__}: {str(exc)[:60]}") from None
        raise CameraError(self.name, f"{self.device} sent no frame")


def discover() -> list[tuple[str, str, list[str]]]:
    """Video devices: (path, name from sysfs, stable /dev/v4l/by-id links to it)."""
    links: dict[str, list[str]] = {}
    by_id = Path("/dev/v4l/by-id")
    if by_id.is_dir():
        for link in sorted(by_id.iterdir()):
            links.setdefault(os.path.realpath(link), []).append(str(link))
    out = []
    for node in sorted(Path("/dev").glob("video*"), key=lambda p: (len(p.name), p.name)):
        name_file = Path("/sys/class/video4linux") / node.name / "name"
        try:
            name = name_file.read_text().strip()
        except OSError:
            name = ""
        out.append((str(node), name, links.get(str(node), [])))
    return out
