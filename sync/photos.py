"""The bench's photo uploads to HQ: after their events, photo by photo, within a bandwidth cap.

`PhotoUploader(store, home, station_cfg).upload_once()` sends every photo whose `photo_taken`
event HQ has acknowledged (seq <= `sync.acked_seq`) and that HQ has not taken yet, oldest first,
one `PUT /api/v1/photos/{sha256}?lpn=…` each (sync/hq/photos.py). A photo is the unit of resume:
it is marked uploaded (`Photo.uploaded_at`) only when HQ answered 200/201, i.e. verified its hash
and stored it; a connection cut half-way sends that photo again next time, whole, and HQ stores
it once (content-addressed). HQ down, 5xx, a cut: the round stops, nothing is lost, the loop
retries with backoff. 409 (HQ does not have the event yet): the round stops until the next one.
A photo HQ refuses for what it is (422: its file changed on the bench; 413) is set aside with the
reason (`Photo.upload_error`, shown by `dockstation doctor` and the export) and retried only by
`dockstation sync --full`.

Never in the way of scans or events: its own thread (`run`, the TUI's "photos" service, at a
lower OS priority), its own HTTP client, short write transactions only to mark a photo uploaded,
and the bytes go out at most at `[photos] upload_kbps` (a token bucket over the body's chunks).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import select

from dockstation.config import ConfigError, StationConfig, load_layered
from dockstation.models import Photo
from dockstation.store import Store
from dockstation.text import clean
from dockstation.types import utcnow
from sync import station_store as st
from sync.client import Backoff, Offline, Refused, _check, _detail, hq_client
from sync.protocol import API

log = logging.getLogger("dockstation.sync")
CHUNK = 16 * 1024
IDLE_S = 10.0  # nothing to send: look again this often
Status = Callable[[str, str], None]
Progress = Callable[[str, int, int | None], None]


class RateLimit:
    """A token bucket in bytes: `kbps` kilobits per second (0: no limit), a burst of one chunk."""

    def __init__(self, kbps: int, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Any] = time.sleep) -> None:
        self.rate = kbps * 1000 / 8  # bytes per second
        self.clock, self.sleep = clock, sleep
        self.allowance = float(CHUNK)
        self.last = clock()

    def take(self, n: int, stop: threading.Event | None = None) -> None:
        if not self.rate:
            return
        now = self.clock()
        self.allowance = min(float(CHUNK), self.allowance + (now - self.last) * self.rate)
        self.last = now
        self.allowance -= n
        if self.allowance < 0:
            wait = -self.allowance / self.rate
            if stop is not None:
                if stop.wait(wait):
                    raise Offline("stopped")
            else:
                self.sleep(wait)


def _body(data: bytes, limit: RateLimit, stop: threading.Event | None) -> Iterator[bytes]:
    for i in range(0, len(data), CHUNK):
        chunk = data[i:i + CHUNK]
        limit.take(len(chunk), stop)
        yield chunk


@dataclass
class PhotoReport:
    outcome: str = "ok"  # ok | partial (HQ offline / cut / waiting for events) | refused | error
    message: str = ""
    uploaded: int = 0
    already: int = 0  # HQ had them (an answer lost on the way back, or sent by --full again)
    set_aside: int = 0  # refused for what they are (upload_error)
    pending: int = 0
    bytes: int = 0


class PhotoUploader:
    def __init__(self, store: Store, home: Path, station_cfg: StationConfig, *,
                 transport: httpx.BaseTransport | None = None, timeout: float = 60.0) -> None:
        self.store, self.home, self.station = store, Path(home), station_cfg
        self.transport, self.timeout = transport, timeout
        self._http: httpx.Client | None = None
        self._http_key: tuple[str, str] | None = None
        self._lock = threading.Lock()

    def _client(self) -> httpx.Client:
        self._http, self._http_key = hq_client(self.station, self.transport, self.timeout, self._http, self._http_key)
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def waiting(self, *, retry_failed: bool = False) -> list[Photo]:
        """Photos HQ may take now: not uploaded, their event acknowledged by HQ, oldest first."""
        acked = int(st.kv_get(self.store, st.ACKED, "0") or 0)
        with self.store.read() as s:
            q = select(Photo).where(Photo.uploaded_at.is_(None), Photo.event_seq <= acked)  # type: ignore[union-attr]
            if not retry_failed:
                q = q.where(Photo.upload_error.is_(None))  # type: ignore[union-attr]
            return list(s.exec(q.order_by(Photo.id)).all())

    def pending(self) -> int:
        with self.store.read() as s:
            return len(s.exec(select(Photo.id).where(Photo.uploaded_at.is_(None),  # type: ignore[union-attr]
                                                     Photo.upload_error.is_(None))).all())  # type: ignore[union-attr]

    def _mark(self, photo_id: int, *, error: str | None = None) -> None:
        with self.store.write() as s:
            photo = s.get(Photo, photo_id)
            if photo is None:
                return
            if error is None:
                photo.uploaded_at, photo.upload_error = utcnow(), None
            else:
                photo.upload_error = clean(error, limit=200)
            s.add(photo)

    def upload_once(self, stop: threading.Event | None = None, progress: Progress | None = None, *,
                    retry_failed: bool = False) -> PhotoReport:
        report = PhotoReport()
        if not self.station.hq.url or not self.station.hq.token:
            report.outcome, report.message = "error", "HQ is not set: [hq] url and token in station.toml"
            return report
        with self._lock:
            todo = self.waiting(retry_failed=retry_failed)
            limit = RateLimit(self.station.photos.upload_kbps)
            try:
                for n, photo in enumerate(todo, 1):
                    if stop is not None and stop.is_set():
                        break
                    self._one(photo, limit, stop, report)
                    if progress:
                        progress("photos", n, len(todo))
            except Offline as exc:
                report.outcome, report.message = "partial", str(exc)
            except Refused as exc:
                report.outcome, report.message = "refused", exc.explain()
        report.pending = self.pending()
        if report.outcome == "ok":
            report.message = f"{report.uploaded} photo(s) sent" + (f", {report.pending} waiting" if report.pending else "")
        return report

    def _one(self, photo: Photo, limit: RateLimit, stop: threading.Event | None, report: PhotoReport) -> None:
        assert photo.id is not None
        try:
            data = (self.home / photo.file).read_bytes()
        except OSError as exc:
            self._mark(photo.id, error=f"file {photo.file} unreadable here: {exc.strerror or exc} (dockstation doctor)")
            report.set_aside += 1
            return
        try:
            resp = self._client().put(f"{API}/photos/{photo.sha256}", params={"lpn": photo.lpn},
                                      content=_body(data, limit, stop),
                                      headers={"Content-Type": "image/jpeg", "Content-Length": str(len(data))})
        except httpx.TransportError as exc:  # refused, reset, cut mid-body, timeout: this photo again later
            raise Offline(f"HQ unreachable: {type(exc).__name__}: {clean(exc, limit=120)}") from None
        if resp.status_code == 409:
            raise Offline(f"HQ waits for this bench's events first: {_detail(resp)}")
        if resp.status_code in (413, 422):
            self._mark(photo.id, error=f"HQ refused it ({resp.status_code}): {_detail(resp)}")
            log.error("photo %s of %s refused by HQ: %s", photo.sha256[:12], photo.lpn, _detail(resp))
            report.set_aside += 1
            return
        _check(resp)  # 401/403 Refused, 5xx/408 Offline, other 4xx Rejected
        self._mark(photo.id)
        report.bytes += len(data)
        if resp.status_code == 201:
            report.uploaded += 1
        else:
            report.already += 1

    # -- the TUI's loop --------------------------------------------------------------------------
    def run(self, stop: threading.Event, status: Status) -> None:
        """Upload whenever there is something HQ may take; back off while HQ is away."""
        _lower_priority()
        backoff = Backoff()
        while not stop.is_set():
            try:
                self.station = load_layered("station.toml", StationConfig, self.home, required=True)
            except ConfigError as exc:
                log.warning("station.toml not reloaded: %s", exc)
            if not self.station.hq.url or not self.station.hq.token:
                status("no HQ", "off")
                stop.wait(IDLE_S * 3)
                continue
            try:
                report = self.upload_once(stop)
            except Exception as exc:  # noqa: BLE001 - a bug or a broken store must not end the loop
                log.exception("photo upload failed")
                report = PhotoReport(outcome="error", message=f"photo upload failed: {exc}")
            if report.outcome == "ok":
                backoff.reset()
                status(f"{report.pending} to send" if report.pending else "all sent", "ok")
                stop.wait(IDLE_S)
            elif report.outcome == "partial":
                delay = backoff.next()
                status(f"{report.pending} waiting (retry in {delay:.0f}s)", "warn")
                stop.wait(delay)
            else:
                log.error("photo upload: %s", report.message)
                status(clean(report.message, limit=40), "error")
                stop.wait(max(60.0, backoff.next()))
        self.close()


def _lower_priority() -> None:
    """This thread only (Linux schedules threads one by one): uploads yield the CPU to scans."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):
        pass
