"""The station's sync client: push the event outbox, pull manifest and config changes.

`SyncClient(store, home, station_cfg).sync_once(full=False, progress=None) -> SyncReport` does one
sync (`dockstation sync`); `run(stop, status)` is the TUI's background loop (never on the scan
path: it only takes short write transactions, one manifest page at a time).

Nothing is lost or doubled whatever the network does, because every step is idempotent and
only advanced by what HQ *answered*: the bench keeps HQ's `acked_seq` (so a batch whose answer
was lost is simply sent again, and HQ stores it once), and the manifest cursor moves in the same
transaction as the page it covers. Ordering is by (station, seq) and by HQ's change_id, never by
a clock, so a bench clock that is hours off changes nothing but the `at` it claims.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError

from dockstation.config import ConfigError, StationConfig, load_layered
from dockstation.store import Store
from dockstation.text import clean
from dockstation.types import utcnow
from sync import station_store as st
from sync.bundle import BundleRefused, install_bundle
from sync.busy import retry_after, retrying
from sync.pull import PageFeed
from sync.protocol import API, CLOCK_SKEW_HEADER, MAX_SKEW_S, PROTOCOL, PROTOCOL_HEADER, ConfigBundle, EventAck, ProtocolError

log = logging.getLogger("dockstation.sync")

Progress = Callable[[str, int, int | None], None]  # (phase, done, total or None)
Status = Callable[[str, str], None]  # (text, level: ok | warn | error | off)
EXIT = {"ok": 0, "error": 1, "partial": 2, "refused": 3, "config_refused": 4, "conflict": 5}
REFUSED_RETRY_S = 600.0  # after a 401/403: retry when the token changes, or every 10 minutes
SKEW_WARN_S = 120.0


class Offline(Exception):
    """HQ unreachable, connection cut, or a 5xx: try again later, nothing is lost."""


class Busy(Offline):
    """HQ answered 503 or 429 with `Retry-After`: it is up but busy (docs/sync.md, "Back-pressure")."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Refused(Exception):
    """401/403: the token is wrong for this station, or HQ refuses what it sends; retrying will not help."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status

    def explain(self) -> str:
        if self.status == 401:
            return f"refused by HQ: token rejected ({self})"
        return f"refused by HQ ({self})"


class Rejected(Exception):
    """Any other 4xx: HQ will not take what we send (version or data problem)."""


@dataclass
class SyncReport:
    outcome: str = "ok"  # ok | partial | refused | config_refused | conflict | error
    message: str = ""
    pushed: int = 0  # events HQ newly acknowledged in this run
    acked_seq: int = 0
    pending: int = 0
    conflicts: list[int] = field(default_factory=list)  # this station's open conflicts at HQ (HQ's last word)
    rmas_changed: int = 0
    lines_changed: int = 0
    holds_matched: int = 0  # blind receipts the pulled manifest matched (receiving/holds.py)
    pages: int = 0
    config_version: str = ""
    config_updated: bool = False
    config_error: str = ""
    clock_skew_s: float | None = None  # bench clock minus HQ clock
    busy_waits: list[float] = field(default_factory=list)  # Retry-After of each busy answer HQ gave (s)

    @property
    def exit_code(self) -> int:
        return EXIT[self.outcome]


class Backoff:
    """Exponential with jitter (half fixed, half random): benches that lost HQ together do not
    all come back in the same second."""

    def __init__(self, base: float = 2.0, cap: float = 300.0) -> None:
        self.base, self.cap, self.failures = base, cap, 0

    def next(self) -> float:
        step = min(self.cap, self.base * 2 ** self.failures)
        self.failures += 1
        return step / 2 + random.uniform(0, step / 2)

    def reset(self) -> None:
        self.failures = 0


def _detail(resp: httpx.Response) -> str:
    try:
        detail = resp.json().get("detail", "")
    except (ValueError, AttributeError):
        detail = resp.text[:200]
    if isinstance(detail, list) and detail:  # 422: pydantic errors
        first = detail[0]
        detail = f"{'.'.join(str(p) for p in first.get('loc', []))}: {first.get('msg', '')}"
    return clean(detail, limit=200)


def _check(resp: httpx.Response) -> httpx.Response:
    if resp.status_code in (429, 503) and (wait := retry_after(resp)) is not None:
        raise Busy(f"HQ answered {resp.status_code} (busy, retry after {wait:g} s): {_detail(resp)}", wait)
    if resp.status_code in (401, 403):
        raise Refused(resp.status_code, _detail(resp))
    if resp.status_code >= 500 or resp.status_code == 408:  # 408: the link too slow this time
        raise Offline(f"HQ answered {resp.status_code}: {_detail(resp)}")
    if resp.status_code >= 400:
        raise Rejected(f"HQ answered {resp.status_code}: {_detail(resp)}")
    return resp


def _runs(seqs: list[int]) -> str:
    """[1, 2, 3, 7] -> '1-3, 7' (the first ten runs)."""
    runs: list[list[int]] = []
    for q in sorted(seqs):
        if runs and q == runs[-1][1] + 1:
            runs[-1][1] = q
        else:
            runs.append([q, q])
    text = ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in runs[:10])
    return text + (", …" if len(runs) > 10 else "")


def conflict_message(station_id: str, seqs: list[int]) -> str:
    """What the bench says while HQ holds other content than this bench for some of its events."""
    many = f"{len(seqs)}+" if len(seqs) >= 1000 else str(len(seqs))
    return (f"CONFLICT at HQ: {many} event(s) of {station_id} (seqs {_runs(seqs)}) differ from what HQ holds; "
            "HQ keeps its own copy until head office resolves it (dockstation hq conflicts). Nothing is lost "
            "on this bench. Call head office: someone else may have pushed with this station's token")


class SyncClient:
    def __init__(self, store: Store, home: Path, station_cfg: StationConfig, *,
                 transport: httpx.BaseTransport | None = None, batch_size: int = 2000,
                 page_limit: int = 5000, timeout: float = 60.0,
                 on_config: Callable[[str], None] | None = None) -> None:
        self.store, self.home, self.station = store, Path(home), station_cfg
        self.batch_size, self.page_limit, self.timeout = batch_size, page_limit, timeout
        self.transport, self.on_config = transport, on_config
        self._http: httpx.Client | None = None
        self._http_key: tuple[str, str] | None = None
        self._clock_skew_s: float | None = None  # measured on the last exchange, told to HQ on the next push
        self._wake = threading.Event()
        self._stop = threading.Event()  # the TUI loop's stop (run); never set for `dockstation sync`
        self.busy_waits: list[float] = []  # Retry-After values HQ answered in the current sync (s)
        self._lock = threading.Lock()  # one sync at a time per client (CLI and loop never overlap)

    # -- plumbing -----------------------------------------------------------------------------
    @property
    def station_id(self) -> str:
        return self.station.station_id

    def _client(self) -> httpx.Client:
        self._http, self._http_key = hq_client(self.station, self.transport, self.timeout, self._http, self._http_key)
        return self._http

    def _call(self, method: str, path: str, *, accept: tuple[int, ...] = (), **kw: Any) -> httpx.Response:
        """One request; when HQ answers busy (503/429 with Retry-After), wait and send it again
        (sync/busy.py); when it stays busy, Offline (tried again later)."""
        for attempt in retrying(Busy, self._pause):
            with attempt:
                return self._request(method, path, accept, kw)
        raise AssertionError("unreachable: tenacity re-raises the last Busy")

    def _request(self, method: str, path: str, accept: tuple[int, ...], kw: dict[str, Any]) -> httpx.Response:
        try:
            resp = self._client().request(method, f"{API}{path}", **kw)
        except httpx.TransportError as exc:  # refused, reset, cut mid-body, timeout
            raise Offline(f"HQ unreachable: {type(exc).__name__}: {clean(exc, limit=120)}") from None
        if resp.status_code in accept:
            return resp
        try:
            return _check(resp)
        except Busy as busy:
            self.busy_waits.append(busy.retry_after)
            log.info("%s %s: %s", method, path, busy)
            raise

    def _pause(self, seconds: float) -> None:
        """tenacity's sleep: the TUI's loop stops at once, even while HQ asked it to wait."""
        if self._stop.wait(seconds):
            raise Offline("sync stopped while waiting for a busy HQ")

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def pending(self) -> int:
        return st.pending_count(self.store, self.station_id, int(st.kv_get(self.store, st.ACKED, "0") or 0))

    def poke(self) -> None:
        """Ask the loop to sync now (e.g. after a burst of scans, or a config change)."""
        self._wake.set()

    # -- one sync -----------------------------------------------------------------------------
    def sync_once(self, full: bool = False, progress: Progress | None = None) -> SyncReport:
        """Push pending events, pull manifest then config changes. `full`: re-push every event
        (HQ keeps each once, and fills any gap) and re-pull the whole manifest."""
        report = SyncReport()
        if not self.station.hq.url or not self.station.hq.token:
            report.outcome, report.message = "error", "HQ is not set: [hq] url and token in station.toml"
            return report
        with self._lock:
            self.busy_waits = []
            try:
                self._forget_other_hq()
                self._push(report, full, progress)
                self._pull_manifest(report, full, progress)
                self._pull_config(report, progress)
                # What the pull itself recorded (manifest_synced, config_updated) and scans made
                # meanwhile go out now, so a good sync leaves nothing pending.
                self._push(report, False, progress)
            except Offline as exc:
                report.outcome, report.message = "partial", str(exc)
            except Refused as exc:
                report.outcome, report.message = "refused", exc.explain()
            except (Rejected, st.PageError, ProtocolError) as exc:
                report.outcome, report.message = "error", str(exc)
            if report.outcome == "ok" and report.config_error:
                report.outcome, report.message = "config_refused", f"HQ config refused: {report.config_error}"
            if report.outcome in ("ok", "config_refused") and report.conflicts:
                report.outcome, report.message = "conflict", conflict_message(self.station_id, report.conflicts) + (
                    f"; also: {report.message}" if report.outcome == "config_refused" else "")
        report.busy_waits = list(self.busy_waits)
        report.acked_seq = int(st.kv_get(self.store, st.ACKED, "0") or 0)
        report.pending = st.pending_count(self.store, self.station_id, report.acked_seq)
        if report.outcome == "ok":
            report.message = f"all pushed and pulled ({report.pushed} events, {report.rmas_changed} RMAs changed)"
        return report

    def _forget_other_hq(self) -> None:
        """Cursors belong to one HQ: a new URL starts the manifest and config from scratch."""
        url = (self.station.hq.url or "").rstrip("/")
        if st.kv_get(self.store, st.HQ_URL) != url:
            st.kv_put(self.store, sync__hq=url, sync__manifest_cursor="", sync__config_version="",
                      sync__config_refused="")

    def _post(self, report: SyncReport, batch: list[dict[str, Any]]) -> EventAck:
        body = json.dumps({"protocol": PROTOCOL, "station_id": self.station_id, "events": batch},
                          separators=(",", ":"), ensure_ascii=False)
        headers = {"Content-Type": "application/json"}
        if self._clock_skew_s is not None and abs(self._clock_skew_s) <= MAX_SKEW_S:
            headers[CLOCK_SKEW_HEADER] = f"{self._clock_skew_s:.3f}"
        sent_at = utcnow()
        resp = self._call("POST", "/events", content=body.encode(), headers=headers)
        ack = EventAck.model_validate_json(resp.content)
        self._note_clock(report, sent_at, ack.server_time)
        report.conflicts = list(ack.conflicts)  # all of them, open at HQ now
        top = st.max_seq(self.store, self.station_id)
        if ack.acked_seq > top:
            raise Rejected(f"HQ holds events of {self.station_id} up to seq {ack.acked_seq} but this bench only "
                           f"up to {top}: was its database replaced? Register it as a new station at HQ. Or someone "
                           f"pushed with this station's token: head office drops what it never sent "
                           f"(dockstation hq drop-events {self.station_id} --after {top})")
        st.kv_put(self.store, sync__acked_seq=str(ack.acked_seq))  # HQ's word, even if lower
        return ack

    def _push(self, report: SyncReport, full: bool, progress: Progress | None) -> None:
        acked = int(st.kv_get(self.store, st.ACKED, "0") or 0)
        pos = 0 if full else acked
        total = st.pending_count(self.store, self.station_id, pos)
        if total == 0:
            # Nothing to send: ask HQ for its mark anyway. If HQ went back (restored from a
            # backup), the events it lost are pending again and go out now.
            pos = min(acked, self._post(report, []).acked_seq)
            acked = pos
            total = st.pending_count(self.store, self.station_id, pos)
        start_acked, done, regressions = acked, 0, 0
        while True:
            batch = st.events_after(self.store, self.station_id, pos, self.batch_size)
            if not batch:
                break
            ack = self._post(report, batch)
            first, last = batch[0]["seq"], batch[-1]["seq"]
            if ack.acked_seq >= last or full:
                pos = max(last, ack.acked_seq) if full else ack.acked_seq
            elif ack.acked_seq < first - 1 and regressions < 3:
                regressions += 1  # HQ lost events (restored from backup?): send them again
                log.warning("HQ acknowledges only up to %d: re-sending from there", ack.acked_seq)
                pos = ack.acked_seq
            else:
                raise Rejected(f"HQ acknowledges events only up to seq {ack.acked_seq} although seqs "
                               f"{first}-{last} were sent: is an earlier event missing on this bench?")
            done += len(batch)
            if progress:
                progress("push", min(done, total), total)
        final = int(st.kv_get(self.store, st.ACKED, "0") or 0)
        report.pushed += max(0, final - start_acked)
        if report.conflicts:
            log.error("%s", conflict_message(self.station_id, report.conflicts))

    def _note_clock(self, report: SyncReport, sent_at: datetime, server_time: datetime) -> None:
        midpoint = sent_at + (utcnow() - sent_at) / 2
        report.clock_skew_s = self._clock_skew_s = (midpoint - server_time).total_seconds()

    def _pull_manifest(self, report: SyncReport, full: bool, progress: Progress | None) -> None:
        cursor = "" if full else st.kv_get(self.store, st.CURSOR)
        total: int | None = None
        done = 0
        feed = PageFeed(lambda params: self._call("GET", "/manifest", params=params, accept=(410,)),
                        cursor, self.page_limit)
        try:
            for page in feed:  # decoded by the feeder thread while we write the one before
                if page.size or page.cursor != cursor:  # (nothing new: no write transaction at all)
                    r, ln = st.write_page_checked(self.store, self.station_id, page.data, page.cursor, page.rows)
                    report.rmas_changed += r
                    report.lines_changed += ln
                if total is None and page.remaining is not None:
                    total = page.remaining
                cursor = page.cursor
                report.pages += 1
                done += page.size
                if progress:
                    progress("manifest", done, max(total or 0, done))
        finally:
            feed.close()
        if report.rmas_changed:  # blind receipts the new manifest names (receiving/holds.py)
            from dockstation.receiving.holds import match_for_home

            try:
                report.holds_matched = len(match_for_home(self.store, self.station_id, self.home))
            except Exception:  # noqa: BLE001 - the pull stands; the next one tries again
                log.exception("matching held units after the pull failed")

    def _pull_config(self, report: SyncReport, progress: Progress | None) -> None:
        current = st.kv_get(self.store, st.CONFIG_VERSION)
        refused = st.kv_get(self.store, st.CONFIG_REFUSED)
        tags = [f'"{v}"' for v in (current, refused) if v]
        have_layer = (self.home / "config" / "hq").exists()
        headers = {"If-None-Match": ", ".join(tags)} if tags and have_layer else {}
        resp = self._call("GET", "/config", headers=headers)
        report.config_version = current
        if resp.status_code == 304:
            report.config_error = st.kv_get(self.store, st.CONFIG_ERROR) if refused else ""
            if progress:
                progress("config", 1, 1)
            return
        try:
            bundle = ConfigBundle.model_validate_json(resp.content)
        except ValidationError as exc:
            self._refuse(report, "?", f"unreadable bundle: {exc.errors()[0]['msg']}")
            return
        if bundle.version == current and have_layer:
            return
        try:
            install_bundle(self.home, bundle)
        except BundleRefused as exc:
            self._refuse(report, bundle.version, str(exc))
            return
        from dockstation import events  # the install is recorded like any other change

        with self.store.write() as s:
            st.kv_set(s, st.CONFIG_VERSION, bundle.version)
            st.kv_set(s, st.CONFIG_ERROR, "")
            st.kv_set(s, st.CONFIG_REFUSED, "")
            events.record(s, self.station_id, "config_updated",
                          payload={"version": bundle.version, "files": sorted(bundle.files)})
        report.config_version, report.config_updated = bundle.version, True
        if self.on_config:
            self.on_config(bundle.version)
        if progress:
            progress("config", 1, 1)

    def _refuse(self, report: SyncReport, version: str, reason: str) -> None:
        text = clean(f"version {version[:12]}: {reason}", limit=300)
        log.error("HQ config refused, keeping the last good one: %s", text)
        st.kv_put(self.store, config_error=text, sync__config_refused=version if version != "?" else "")
        report.config_error = text

    # -- the TUI loop -------------------------------------------------------------------------
    def _reload_station(self) -> None:
        """Pick up a new [hq] url/token without a restart; a bad file keeps the current one."""
        try:
            self.station = load_layered("station.toml", StationConfig, self.home, required=True)
        except ConfigError as exc:
            log.warning("station.toml not reloaded: %s", exc)

    def run(self, stop: threading.Event, status: Status) -> None:
        """Sync every `[hq] interval_seconds` until `stop` is set; report through `status`."""
        from sync.loop import run_loop

        self._stop = stop
        run_loop(self, stop, status)


def hq_client(station: StationConfig, transport: httpx.BaseTransport | None, timeout: float,
              current: httpx.Client | None, key: tuple[str, str] | None,
              ) -> tuple[httpx.Client, tuple[str, str]]:
    """The HTTP client for HQ, kept while the URL and token stay the same (a config reload that
    changes either opens a new one): the sync client and the photo uploader both use it."""
    url, token = station.hq.url or "", station.hq.token or ""
    if current is not None and key == (url, token):
        return current, key
    if current is not None:
        current.close()
    client = httpx.Client(
        base_url=url.rstrip("/"), transport=transport,
        headers={"Authorization": f"Bearer {token}", PROTOCOL_HEADER: str(PROTOCOL),
                 "User-Agent": f"dockstation-bench/{station.station_id}"},
        timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)))
    return client, (url, token)
