"""A network camera's snapshot URL: one GET per photo (httpx)."""

from __future__ import annotations

import threading
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from dockstation.cameras import Camera, CameraError
from dockstation.photos.config import CameraConfig
from dockstation.photos.image import MAX_INPUT_BYTES
from dockstation.text import clean


class HttpCamera(Camera):
    def __init__(self, config: CameraConfig) -> None:
        super().__init__(config)
        parts = urlsplit(config.url)
        self.auth: tuple[str, str] | None = None
        if parts.username is not None:  # user:password@ goes to the auth header, never into logs
            self.auth = (unquote(parts.username), unquote(parts.password or ""))
            netloc = parts.hostname or ""
            netloc = f"[{netloc}]" if ":" in netloc else netloc
            parts = parts._replace(netloc=netloc + (f":{parts.port}" if parts.port else ""))
        self.url = urlunsplit(parts)
        self.shown = clean(urlunsplit(parts._replace(query="")), limit=60)
        self._client = httpx.Client(timeout=httpx.Timeout(config.timeout, connect=min(5.0, config.timeout)),
                                    follow_redirects=True, headers={"User-Agent": "dockstation-bench"})
        self._digest = False  # the camera asked for Digest once: ask that way from then on

    def _auth(self) -> httpx.Auth | None:
        if self.auth is None:
            return None
        return httpx.DigestAuth(*self.auth) if self._digest else httpx.BasicAuth(*self.auth)

    def capture(self, stop: threading.Event | None = None) -> bytes:
        try:
            with self._client.stream("GET", self.url, auth=self._auth()) as resp:
                if resp.status_code == 401 and self.auth and not self._digest \
                        and "digest" in resp.headers.get("www-authenticate", "").lower():
                    self._digest = True
                    return self.capture(stop)
                if resp.status_code != 200:
                    raise CameraError(self.name, f"{self.shown} answered {resp.status_code}")
                data = bytearray()
                for chunk in resp.iter_bytes():
                    data += chunk
                    if len(data) > MAX_INPUT_BYTES:
                        raise CameraError(self.name, "the snapshot is larger than any photo")
                return bytes(data)
        except httpx.TimeoutException:
            raise CameraError(self.name, f"{self.shown} did not answer in {self.config.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise CameraError(self.name, f"{self.shown} unreachable ({type(exc).__name__})") from None

    def probe(self) -> str | None:
        try:
            self.capture()
        except CameraError as exc:
            return exc.reason
        return None

    def close(self) -> None:
        self._client.close()
