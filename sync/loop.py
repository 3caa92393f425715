"""The TUI's sync loop (`SyncClient.run`): sync, say how it went in the header, wait, repeat.

- online: sync every `[hq] interval_seconds`; the header shows "HQ online · N pending", N kept
  fresh every few seconds while waiting (scans add events between syncs);
- offline (HQ down, connection cut, 5xx): retry with jittered exponential backoff up to 5 min,
  "HQ offline · N pending (retry in 8s)". A busy HQ's 503 with Retry-After is waited out inside
  the sync first (sync/client.py, docs/sync.md "Back-pressure"); only when it stays busy is the
  sync partial, and offline;
- refused (401/403): no retry storm. The header says so; the loop tries again only when
  station.toml's [hq] token or url changes, or after 10 minutes;
- conflict (HQ holds other content for some of this station's events, docs/sync.md "Conflicts"):
  the header says so in red on every sync, "HQ CONFLICT: 10 events differ — call head office",
  until head office resolves it; syncing goes on as usual meanwhile.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from dockstation.text import clean

if TYPE_CHECKING:
    from sync.client import Status, SyncClient, SyncReport

log = logging.getLogger("dockstation.sync")
REFRESH_S = 5.0  # how often the pending count in the header is refreshed while waiting
NOT_SET_WAIT_S = 30.0
Render = Callable[[str, float], tuple[str, str]]  # (pending count, seconds left) -> (text, level)


def _skew(seconds: float) -> str:
    s = abs(int(seconds))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def _online(report: SyncReport) -> tuple[str, str]:
    from sync.client import SKEW_WARN_S

    notes = []
    if report.config_error:
        notes.append("HQ config refused")
    if report.clock_skew_s is not None and abs(report.clock_skew_s) > SKEW_WARN_S:
        ahead = "ahead" if report.clock_skew_s > 0 else "behind"
        notes.append(f"bench clock {_skew(report.clock_skew_s)} {ahead}")
    return "".join(f" · {n}" for n in notes), ("warn" if notes else "ok")


def _idle(client: SyncClient, stop: threading.Event, seconds: float, status: Status, render: Render,
          *, wake: bool = True, watch_token: tuple[str, str] | None = None) -> None:
    """Wait `seconds` (or until stopped / poked), refreshing the header every REFRESH_S."""
    end = time.monotonic() + seconds
    next_refresh = 0.0
    while not stop.is_set():
        now = time.monotonic()
        if now >= end:
            return
        if now >= next_refresh:
            try:
                pending = str(client.pending())
            except Exception:  # the store is busy: say so rather than stop
                pending = "?"
            status(*render(pending, end - now))
            next_refresh = now + REFRESH_S
            if watch_token is not None:
                client._reload_station()
                if (client.station.hq.url or "", client.station.hq.token or "") != watch_token:
                    return  # a new token: try it now
        if wake and client._wake.is_set():
            client._wake.clear()
            return
        stop.wait(min(0.5, REFRESH_S, max(0.0, end - now)))


def run_loop(client: SyncClient, stop: threading.Event, status: Status) -> None:
    from sync.client import REFUSED_RETRY_S, Backoff, SyncReport

    backoff = Backoff()
    refused: tuple[tuple[str, str], float, str] | None = None
    while not stop.is_set():
        client._reload_station()
        hq = client.station.hq
        if not hq.url or not hq.token:
            _idle(client, stop, NOT_SET_WAIT_S, status, lambda n, _: (f"HQ not set · {n} pending", "off"))
            continue
        key = (hq.url, hq.token)
        if refused is not None and refused[0] == key and time.monotonic() - refused[1] < REFUSED_RETRY_S:
            text = refused[2]
            _idle(client, stop, REFUSED_RETRY_S - (time.monotonic() - refused[1]), status,
                  lambda n, _: (f"{text} · {n} pending", "error"), wake=False, watch_token=key)
            continue
        refused = None
        try:
            report = client.sync_once()
        except Exception as exc:  # a bug or a broken store must not end the loop
            log.exception("sync failed")
            report = SyncReport(outcome="error", message=f"sync failed: {exc}")
        message = clean(report.message, limit=120)
        if report.outcome == "refused":
            log.error("%s", report.message)
            hint = "[hq] token" if message.startswith("refused by HQ: token") else "station_id and [hq] token"
            refused = (key, time.monotonic(), f"{message} — check {hint} in station.toml")
            continue
        if report.outcome == "partial":
            delay = backoff.next()
            log.info("HQ offline (%s); retry in %.0fs", report.message, delay)
            _idle(client, stop, delay, status,
                  lambda n, left: (f"HQ offline · {n} pending (retry in {left:.0f}s)", "warn"))
        elif report.outcome == "conflict":
            backoff.reset()
            log.error("%s", report.message)
            count = f"{len(report.conflicts)}+" if len(report.conflicts) >= 1000 else str(len(report.conflicts))
            _idle(client, stop, float(hq.interval_seconds), status,
                  lambda n, _: (f"HQ CONFLICT: {count} event(s) differ at HQ — call head office · {n} pending", "error"))
        elif report.outcome == "error":
            delay = max(60.0, backoff.next())
            log.error("sync error: %s", report.message)
            _idle(client, stop, delay, status, lambda n, _: (f"HQ sync error: {message} · {n} pending", "error"))
        else:
            backoff.reset()
            suffix, level = _online(report)
            _idle(client, stop, float(hq.interval_seconds), status,
                  lambda n, _: (f"HQ online · {n} pending{suffix}", level))
    client.close()
