"""What a station token may write and read at HQ: its own units, nothing else (docs/sync.md, "Security model").

A unit belongs to the station that created it, and its LPN says which: `<STATION>-<digits>`
(ARCHITECTURE.md), made by that bench's receipt and nowhere else. A bench only ever records events
about units in its own store, and every unit there was received there, so an event naming another
station's LPN never comes from a genuine bench: it is a forged or corrupted batch, refused whole
(403), so the gap-free ack never skips an event.

Where an event names a unit: its `lpn` field (every unit event: received, inspection_*, graded,
disposed, quarantined, refund, approval, label_*), and the payload keys in PAYLOAD_UNIT_KEYS
(`exception_resolved` names the unit a lead's match received as `payload.lpn`). A new event kind
that names units elsewhere in its payload adds the key here (a list of LPNs is checked item by item).

Reads follow the same line: a station token reads only units whose LPN is its own, and a unit
is folded only from the events of the station that created it (`GET /units/{lpn}`), so events
another station pushed about it before this rule existed change nothing anyone reads there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

# The bench makes `<STATION>-` + 8 digits (config/codes.toml); a few more digits are allowed so the
# hundred-millionth unit of a bench is not refused by HQ.
LPN_PATTERN = r"^[A-Z0-9]{1,8}-[0-9]{8,12}$"
_LPN = re.compile(LPN_PATTERN, re.ASCII)
PAYLOAD_UNIT_KEYS = ("lpn", "lpns")


def lpn_owner(lpn: str) -> str | None:
    """The station that created the unit `lpn`, or None if `lpn` is not an LPN."""
    if not isinstance(lpn, str) or not _LPN.fullmatch(lpn):
        return None
    return lpn.split("-", 1)[0]


def _own(prefix: str, value: Any) -> bool:
    if not isinstance(value, str) or not value.startswith(prefix):
        return False
    tail = value[len(prefix):]
    return 8 <= len(tail) <= 12 and tail.isascii() and tail.isdigit()  # _LPN's digits, without a regex


def foreign_unit(station_id: str, events: Iterable[Any],
                 payload_of: Callable[[Any], Any] | None = None) -> tuple[Any, Any] | None:
    """The first (event, value) of `events` naming a unit that is not `station_id`'s own, or None.
    (On the push path: one pass, no regex, a fraction of a microsecond per event.) `payload_of`:
    an event's payload as a dict, when `event.payload` is not one (sync/hq/ingest.py)."""
    prefix = f"{station_id}-"
    for event in events:
        if event.lpn is not None and not _own(prefix, event.lpn):
            return event, event.lpn
        payload = event.payload if payload_of is None else payload_of(event)
        if payload and isinstance(payload, dict):
            for key in PAYLOAD_UNIT_KEYS:
                value = payload.get(key)
                if value is None:
                    continue
                for item in value if isinstance(value, list) else [value]:
                    if not _own(prefix, item):
                        return event, item
    return None


@lru_cache(maxsize=256)
def _own_lines(prefix: str) -> re.Pattern[str]:
    return re.compile(rf"(?:{re.escape(prefix)}[0-9]{{8,12}}\n)*", re.ASCII)  # _own's test, a line at a time


def all_own(station_id: str, lpns: list[str]) -> bool:
    """Every one of `lpns` is `station_id`'s own, as `_own` says: one regex over them all (the
    push path's usual batch, thousands of LPNs, in C). An LPN holding a line break is not counted
    as a line of its own: the count of line breaks must match."""
    text = "\n".join(lpns) + "\n" if lpns else ""
    return text.count("\n") == len(lpns) and _own_lines(f"{station_id}-").fullmatch(text) is not None


def refusal(station_id: str, event: Any, value: Any) -> str:
    shown = repr(value)[:40]
    return (f"this token belongs to station {station_id}: it may only write events about {station_id}'s own units "
            f"(LPN {station_id}-NNNNNNNN); event seq {event.seq} ({event.kind}) names {shown}. "
            "The whole batch is refused, nothing of it was stored")
