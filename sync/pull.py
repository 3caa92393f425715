"""Manifest pages in a pipeline: a feeder thread downloads, decodes and checks the next pages
while the bench writes the current one.

Writing is mostly SQLite's work with the GIL released (executemany steps), so downloading
overlaps with it; decoding and checking are C-level calls over whole pages and columns. The first page is small, so writing starts at once instead of waiting
for HQ to build a full page; two pages are kept ready at most (bounded memory).
"""

from __future__ import annotations

import gc
import json
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from dockstation.text import clean
from sync import station_store as st
from sync.protocol import LINE_FIELDS, RMA_FIELDS, check_protocol

FIRST_PAGE = 2000
AHEAD = 2


@dataclass
class Page:
    cursor: str
    more: bool
    remaining: int | None
    data: dict[str, Any]  # the decoded page
    rows: tuple[list[Any], list[Any]] | None  # its rows, if station_store.fast_rows took them

    @property
    def size(self) -> int:
        rmas = self.data.get("rmas")
        return len(rmas) if isinstance(rmas, list) else 0


@contextmanager
def gc_paused() -> Iterator[None]:
    """A page decodes into millions of small objects with no cycles among them; the cyclic GC
    would walk them all again and again while they are made (measured: most of the decoding
    time for a 20,000-RMA page). It is paused for that moment only."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


_DONE = object()


class PageFeed:
    """Iterate over checked pages after `after`. `get(params)` does the HTTP GET and raises for
    anything but 2xx and 410 (410: HQ's manifest was replaced; the feed starts over once)."""

    def __init__(self, get: Callable[[dict[str, Any]], httpx.Response], after: str, limit: int) -> None:
        self._get, self._after, self._limit = get, after, limit
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=AHEAD)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sync-manifest-feed", daemon=True)
        self._thread.start()

    def _put(self, item: Any) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def _run(self) -> None:
        after, first, restarted, size = self._after, True, False, FIRST_PAGE
        try:
            while not self._stop.is_set():
                params: dict[str, Any] = {"after": after, "limit": min(size, self._limit)}
                if first:
                    params["count"] = "true"
                resp = self._get(params)
                if resp.status_code == 410:
                    if restarted:
                        raise st.PageError("HQ refuses the manifest cursor even from the start (410)")
                    after, first, restarted, size = "", True, True, FIRST_PAGE
                    continue
                page = self._decode(resp.content)
                self._put(page)
                if not page.more:
                    break
                after, first, size = page.cursor, False, size * 2
            self._put(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(exc)

    @staticmethod
    def _decode(body: bytes) -> Page:
        try:
            with gc_paused():
                page = json.loads(body)
            check_protocol(page.get("protocol"))
            if page.get("rma_fields") != list(RMA_FIELDS) or page.get("line_fields") != list(LINE_FIELDS):
                raise st.PageError("manifest page columns differ from this bench's protocol")
            remaining = page.get("remaining")
            if type(page.get("cursor")) is not str or type(page.get("more")) is not bool:
                raise st.PageError("manifest page without a cursor")
            with gc_paused():
                rows = st.fast_rows(page)
            return Page(page["cursor"], page["more"], None if remaining is None else int(remaining), page, rows)
        except st.PageError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise st.PageError(f"unreadable manifest page from HQ: {clean(exc, limit=120)}") from None

    def __iter__(self) -> Iterator[Page]:
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(60)
