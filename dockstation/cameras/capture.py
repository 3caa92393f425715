"""One photo, start to end: the camera's bytes, then the stored form (upright, no metadata,
resized, JPEG). Used by the TUI's capture worker, `dockstation cameras test` and the benchmark."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from dockstation.cameras import Camera, CameraError
from dockstation.photos.config import PhotosConfig
from dockstation.photos.image import PhotoError, Processed, process


@dataclass(frozen=True)
class Shot:
    camera: str
    processed: Processed
    raw_bytes: int
    capture_s: float  # the camera's part
    process_s: float  # ours


def shoot(camera: Camera, photos: PhotosConfig, stop: threading.Event | None = None) -> Shot:
    """CameraError when the camera gave nothing usable (a picture Pillow cannot read included)."""
    t0 = time.perf_counter()
    raw = camera.capture(stop)
    t1 = time.perf_counter()
    try:
        processed = process(raw, max_px=photos.max_px, quality=photos.quality)
    except PhotoError as exc:
        raise CameraError(camera.name, str(exc)) from None
    return Shot(camera.name, processed, len(raw), t1 - t0, time.perf_counter() - t1)
