"""Manifest pages in a pipeline: while the bench writes one page, the next is being decoded and
checked, and the one after that built by HQ and downloaded.

Writing is mostly SQLite's work with the GIL released (executemany steps), so downloading
overlaps with it. Decoding holds the GIL, and stalls the writer meanwhile, so it is kept short:
msgspec decodes a canonical page straight into checked row tuples (station_store.fast_page:
about 67 ms per 20k-RMA page, against 119 ms for json.loads plus the checks it replaced). The first page is small, so
writing starts at once instead of waiting for HQ to build a full page; two pages are kept ready
at most (bounded memory).
"""

from __future__ import annotations

import gc
import json
import queue
import re
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
    data: dict[str, Any] | bytes  # the page: decoded by json, or as it came when fast_page took it
    rows: tuple[list[Any], list[Any]] | None  # its rows, if station_store.fast_page took them
    size: int  # RMAs on the page


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


# HQ writes cursor and more first: read them from the first bytes and ask for the next page at
# once, before this one is decoded. Another layout is fine too, only slower (decoded first).
_HEAD = re.compile(rb'\{"protocol":\d{1,4},"cursor":"([A-Za-z0-9_-]{0,100})","more":(true|false),')


class PageFeed:
    """Iterate over checked pages after `after`. `get(params)` does the HTTP GET and raises for
    anything but 2xx and 410 (410: HQ's manifest was replaced; the feed starts over once).

    Two threads: the fetcher asks HQ for page after page, the decoder decodes and checks them;
    the consumer writes. Each hand-over queue holds AHEAD pages at most."""

    def __init__(self, get: Callable[[dict[str, Any]], httpx.Response], after: str, limit: int) -> None:
        self._get, self._after, self._limit = get, after, limit
        self._raw: queue.Queue[Any] = queue.Queue(maxsize=AHEAD)
        self._pages: queue.Queue[Any] = queue.Queue(maxsize=AHEAD)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._fetch, name="sync-manifest-fetch", daemon=True),
                         threading.Thread(target=self._decode_all, name="sync-manifest-decode", daemon=True)]
        for t in self._threads:
            t.start()

    def _put(self, q: queue.Queue[Any], item: Any) -> None:
        while not self._stop.is_set():
            try:
                q.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def _fetch(self) -> None:
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
                body = resp.content
                head = _HEAD.match(body)
                if head is not None:
                    cursor, more = head.group(1).decode(), head.group(2) == b"true"
                    self._put(self._raw, (body, cursor))
                else:
                    page = self._decode(body)
                    cursor, more = page.cursor, page.more
                    self._put(self._raw, page)
                if not more:
                    break
                after, first, size = cursor, False, size * 2
            self._put(self._raw, _DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(self._raw, exc)

    def _decode_all(self) -> None:
        while not self._stop.is_set():
            try:
                item = self._raw.get(timeout=0.2)
            except queue.Empty:
                continue
            if isinstance(item, tuple):
                body, cursor = item
                try:
                    item = self._decode(body)
                    if item.cursor != cursor:
                        raise st.PageError("manifest page: its cursor is not the one it starts with")
                except BaseException as exc:
                    item = exc
            self._put(self._pages, item)
            if item is _DONE or isinstance(item, BaseException):
                return

    @staticmethod
    def _decode(body: bytes) -> Page:
        with gc_paused():
            fast = st.fast_page(body)
        if fast is not None:
            check_protocol(fast.protocol)
            return Page(fast.cursor, fast.more, fast.remaining, body, (fast.rmas, fast.lines), len(fast.rmas))
        try:  # not HQ's canonical form: decoded as plain JSON, checked and converted on writing
            with gc_paused():
                page = json.loads(body)
            check_protocol(page.get("protocol"))
            if page.get("rma_fields") != list(RMA_FIELDS) or page.get("line_fields") != list(LINE_FIELDS):
                raise st.PageError("manifest page columns differ from this bench's protocol")
            remaining = page.get("remaining")
            if type(page.get("cursor")) is not str or type(page.get("more")) is not bool:
                raise st.PageError("manifest page without a cursor")
            rmas = page.get("rmas")
            size = len(rmas) if isinstance(rmas, list) else 0
            return Page(page["cursor"], page["more"], None if remaining is None else int(remaining), page, None, size)
        except st.PageError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise st.PageError(f"unreadable manifest page from HQ: {clean(exc, limit=120)}") from None

    def __iter__(self) -> Iterator[Page]:
        while True:
            item = self._pages.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        """Stop the threads. A fetch stuck in a read ends with its timeout; nobody waits for it
        (daemon thread, its page is dropped)."""
        self._stop.set()
        for t in self._threads:
            t.join(5)
