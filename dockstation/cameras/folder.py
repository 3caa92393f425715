"""A folder camera: a tethered camera or a phone app drops JPEGs into a folder; the newest file
that arrived since the last photo (and since the bench started) is the photo.

After the grader asks for a photo, the folder is watched until such a file is there and whole
(its size stable over two looks, and it starts and ends like a JPEG: a copy paused
half-way is not taken) or `timeout_s` (30 s) passes: the
grader may press the key first and take the picture next. Files are left where they are (the
folder is the tethering tool's); each is used once.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

from dockstation.cameras import Camera, CameraError
from dockstation.photos.config import CameraConfig
from dockstation.text import clean

SUFFIXES = {".jpg", ".jpeg"}
POLL_S = 0.1


class FolderCamera(Camera):
    def __init__(self, config: CameraConfig, *, since: float | None = None) -> None:
        super().__init__(config)
        self.folder = Path(unquote(urlsplit(config.url).path))
        self.shown = clean(str(self.folder), limit=60)
        # Files already there when the bench started are not new: nobody pointed a camera at them.
        self.since = time.time() if since is None else since
        self.used: set[tuple[str, int]] = set()

    def _candidates(self) -> list[tuple[float, str, Path, int]]:
        out = []
        try:
            entries = list(self.folder.iterdir())
        except FileNotFoundError:
            raise CameraError(self.name, f"no folder {self.shown}") from None
        except OSError as exc:
            raise CameraError(self.name, f"{self.shown}: {exc.strerror or exc}") from None
        for path in entries:
            if path.suffix.lower() not in SUFFIXES or path.name.startswith("."):
                continue
            try:
                st = path.stat()
            except OSError:  # gone meanwhile
                continue
            if st.st_mtime >= self.since and (path.name, st.st_mtime_ns) not in self.used and st.st_size:
                out.append((st.st_mtime, path.name, path, st.st_mtime_ns))
        return sorted(out)

    def capture(self, stop: threading.Event | None = None) -> bytes:
        deadline = time.monotonic() + self.config.timeout
        last: tuple[Path, int] | None = None
        while True:
            found = self._candidates()
            if found:
                _, name, path, mtime_ns = found[-1]
                try:
                    size = path.stat().st_size
                    if last == (path, size):  # the same size twice: the writer is done
                        data = path.read_bytes()
                        if whole_jpeg(data) and len(data) == size:
                            self.used.add((name, mtime_ns))
                            return data
                    last = (path, size)
                except OSError:
                    last = None
            if time.monotonic() >= deadline:
                raise CameraError(self.name, f"no new photo in {self.shown} within {self.config.timeout:g} s")
            if stop is not None and stop.wait(POLL_S):
                raise CameraError(self.name, "stopped")
            elif stop is None:
                time.sleep(POLL_S)

    def probe(self) -> str | None:
        if not self.folder.is_dir():
            return f"no folder {self.shown}"
        try:
            next(iter(self.folder.iterdir()), None)
        except OSError as exc:
            return f"{self.shown}: {exc.strerror or exc}"
        return None


def whole_jpeg(data: bytes) -> bool:
    """Starts with a JPEG's SOI marker and has its EOI near the end (some cameras pad after it)."""
    return data[:3] == b"\xff\xd8\xff" and b"\xff\xd9" in data[-64:]
