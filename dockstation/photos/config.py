"""`[[cameras]]` and `[photos]` in station.toml (validated at load, like every config file).

```toml
[[cameras]]
name = "desk"
url = "http://10.0.4.31/snapshot.jpg"   # or v4l2:///dev/video0, or dir:///srv/tether

[photos]
max_px = 1600            # longest side of a stored photo, in pixels
quality = 85             # JPEG quality of a stored photo
upload_kbps = 2000       # upload cap to HQ, kilobits per second (0: no cap)
preview = "auto"         # auto: an image where the terminal shows images; text: never
```

Pure data: no camera is opened here (dockstation/cameras does that, in the TUI's threads).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

SCHEMES = ("v4l2", "http", "https", "dir")
URL_HELP = "v4l2:///dev/video0, http://HOST/snapshot.jpg (https too) or dir:///PATH"


def camera_url_problem(url: str) -> str | None:
    """Why `url` cannot be a camera, or None."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        return f"unknown camera URL {url!r}: use {URL_HELP}"
    if scheme in ("http", "https"):
        if not parts.hostname:
            return f"{url!r}: no host: use http://HOST/snapshot.jpg"
        return None
    if parts.netloc or not parts.path.startswith("/"):
        return f"{url!r}: {scheme}:// takes an absolute path with three slashes, e.g. {scheme}:///" + (
            "dev/video0" if scheme == "v4l2" else "srv/tether")
    if scheme == "v4l2" and not re.fullmatch(r"/dev/(?:video[0-9]+|v4l/by-(?:id|path)/[!-~]+)", parts.path):
        return f"{url!r}: not a video device: use v4l2:///dev/video0 or a /dev/v4l/by-id/… link"
    return None


class CameraConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9_-]+$")  # CMD:PHOTO:<name>
    url: str = Field(min_length=1, max_length=500)
    # How long one photo may take: the HTTP request, the device, or (a folder) waiting for the
    # new file after the key was pressed, while the grader takes the picture with a phone.
    timeout_s: float | None = Field(default=None, gt=0, le=300)
    # v4l2: the frame size asked of the camera (it picks the nearest it has).
    width: int = Field(default=1920, ge=160, le=8192)
    height: int = Field(default=1080, ge=120, le=8192)

    @field_validator("url")
    @classmethod
    def _known(cls, value: str) -> str:
        if any(unicodedata.category(c)[0] == "C" for c in value):
            raise ValueError("control characters in the URL")
        if problem := camera_url_problem(value):
            raise ValueError(problem)
        return value

    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme.lower()

    @property
    def timeout(self) -> float:
        """The default wait: a folder camera waits for the grader's phone, the others answer at once."""
        return self.timeout_s if self.timeout_s is not None else (30.0 if self.scheme == "dir" else 10.0)


class PhotosConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_px: int = Field(default=1600, ge=320, le=8000)
    quality: int = Field(default=85, ge=40, le=95)
    upload_kbps: int = Field(default=2000, ge=0)  # 0: no cap
    preview: Literal["auto", "text"] = "auto"


def unique_cameras(cameras: list[CameraConfig]) -> list[CameraConfig]:
    names = [c.name for c in cameras]
    if len(set(names)) != len(names):
        raise ValueError(f"camera names repeat: {names}")
    return cameras
