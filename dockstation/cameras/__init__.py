"""Cameras, chosen by URL (`[[cameras]]` in station.toml): a thin shell around three transports.

    http://HOST/snapshot.jpg   a network camera's snapshot URL (https too; user:password@ in the
                               URL for Basic or Digest authentication)
    dir:///PATH                a folder a tethered camera or a phone app drops JPEGs into: the
                               newest file that arrived since the last photo is the photo
    v4l2:///dev/video0         a USB (UVC) camera, through linuxpy (V4L2 in pure Python), MJPEG

`Camera.capture(stop)` returns the picture's bytes as the camera gave them (the bench then makes
them a stored photo: dockstation.photos.image.process) or raises `CameraError` with a reason
short enough for the header slot; it blocks (a network call, a folder being watched), so the
TUI calls it in a thread worker, never on the scan path. `probe()` says whether the camera is
there without taking a picture where it can. One Camera is used from one thread at a time.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod

from dockstation.photos.config import CameraConfig


class CameraError(Exception):
    def __init__(self, name: str, reason: str) -> None:
        self.name, self.reason = name, reason
        super().__init__(f"camera {name}: {reason}")


class Camera(ABC):
    def __init__(self, config: CameraConfig) -> None:
        self.config = config
        self.name = config.name

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    @abstractmethod
    def capture(self, stop: threading.Event | None = None) -> bytes:
        """One picture, as the camera sends it. CameraError when there is none."""

    @abstractmethod
    def probe(self) -> str | None:
        """None when the camera looks ready, else what is wrong (for the header and doctor)."""

    def close(self) -> None:  # noqa: B027 - most transports hold nothing open
        pass


def open_camera(config: CameraConfig) -> Camera:
    scheme = config.scheme
    if scheme in ("http", "https"):
        from dockstation.cameras.http import HttpCamera

        return HttpCamera(config)
    if scheme == "dir":
        from dockstation.cameras.folder import FolderCamera

        return FolderCamera(config)
    from dockstation.cameras.v4l2 import V4l2Camera

    return V4l2Camera(config)


__all__ = ["Camera", "CameraError", "open_camera"]
