"""A unit's latest state at HQ, folded from its events when asked (docs/events.md).

HQ keeps no per-unit table: `hq_event` is the one truth, and `GET /api/v1/units/{lpn}` reads a
unit's events (index on lpn) and folds them here. Ingest then writes each event once, and a change
to this fold needs no re-projection of history.

Pure functions: `fold(unit, event)` takes the unit as a dict (or None) and one event as a dict
with `station_id, seq, kind, at, operator, lpn, payload`, and returns the new unit. Each station's
events are folded strictly in seq order, so the unit is what the bench itself had whatever the
bench clocks said; events of different stations are interleaved by the time they claim.

Only the station that created a unit writes about it (sync/hq/scope.py), and the route folds only
that station's events, so in practice one stream is folded. `unit_received` fills the receipt
fields but only sets the state of a unit HQ has not seen yet, so a receipt that arrives late does
not roll back a grade pushed before it.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

Row = dict[str, Any]

COLUMNS = ("lpn", "station_id", "rma_id", "line_no", "sku", "category", "lane", "sla_due_at",
           "risk_flags", "flags", "state", "grade", "disposition", "rule_id", "policy_version",
           "destination", "recovery_value", "refund", "refund_amount", "unit_price", "currency",
           "received_at", "inspected_at", "disposed_at", "received_by", "inspected_by",
           "last_station_id", "last_seq", "last_kind", "last_event_at", "updated_at",
           "container", "sorted_at")


def _dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def new_unit(lpn: str) -> Row:
    row: Row = dict.fromkeys(COLUMNS)
    station = lpn.rsplit("-", 1)[0] if "-" in lpn else ""
    row.update(lpn=lpn, station_id=station, sku="", category="", state="unknown", risk_flags=[], flags=[],
               last_station_id="", last_seq=0, last_kind="")
    return row


def _received(u: Row, ev: Row, p: Row) -> None:
    at: datetime = ev["at"]
    u.update(station_id=ev["station_id"], rma_id=ev.get("rma_id") or u["rma_id"],
             line_no=p.get("line_no") if isinstance(p.get("line_no"), int) else u["line_no"],
             sku=str(p.get("sku") or u["sku"] or ""), category=str(p.get("category") or u["category"] or ""),
             lane=_str(p.get("lane")) or u["lane"], risk_flags=_list(p.get("risk_flags")),
             unit_price=_dec(p.get("unit_price")), currency=_str(p.get("currency")),
             received_at=at, received_by=ev.get("operator"))
    hours = p.get("sla_hours")
    if isinstance(hours, int | float):
        u["sla_due_at"] = at + timedelta(hours=float(hours))
    if u["state"] in (None, "unknown"):
        u["state"] = "received"


def _started(u: Row, ev: Row, p: Row) -> None:
    u["state"] = "inspecting"


def _cancelled(u: Row, ev: Row, p: Row) -> None:
    if u["state"] == "inspecting":
        u["state"] = "received"


def _graded(u: Row, ev: Row, p: Row) -> None:
    u.update(state="graded", grade=_str(p.get("grade")), inspected_at=ev["at"], inspected_by=ev.get("operator"))
    if "flags" in p:
        u["flags"] = _list(p.get("flags"))
    if p.get("category"):
        u["category"] = str(p["category"])


def _disposed(u: Row, ev: Row, p: Row) -> None:
    u.update(state="disposed", disposition=_str(p.get("path")), rule_id=_str(p.get("rule_id")),
             policy_version=_str(p.get("policy_version")), destination=_str(p.get("destination")),
             recovery_value=_dec(p.get("recovery_value")), disposed_at=ev["at"])
    if p.get("grade"):
        u["grade"] = str(p["grade"])
    if "flags" in p:
        u["flags"] = _list(p.get("flags"))


def _refund(u: Row, ev: Row, p: Row) -> None:
    u.update(refund=_str(p.get("refund")), refund_amount=_dec(p.get("amount")))


def _state(name: str) -> Callable[[Row, Row, Row], None]:
    def apply(u: Row, ev: Row, p: Row) -> None:
        u["state"] = name

    return apply


def _held(u: Row, ev: Row, p: Row) -> None:
    """A blind receipt: no RMA yet (receiving/holds.py)."""
    u.update(station_id=ev["station_id"], received_at=ev["at"], received_by=ev.get("operator"), lane="hold")
    if u["state"] in (None, "unknown"):
        u["state"] = "held"


def _hold_matched(u: Row, ev: Row, p: Row) -> None:
    u.update(rma_id=ev.get("rma_id") or u["rma_id"],
             line_no=p.get("line_no") if isinstance(p.get("line_no"), int) else u["line_no"],
             sku=str(p.get("sku") or u["sku"] or ""), category=str(p.get("category") or u["category"] or ""),
             lane=_str(p.get("lane")) or u["lane"], risk_flags=_list(p.get("risk_flags")),
             unit_price=_dec(p.get("unit_price")), currency=_str(p.get("currency")))
    hours = p.get("sla_hours")
    if isinstance(hours, int | float):
        u["sla_due_at"] = ev["at"] + timedelta(hours=float(hours))
    if u["state"] in (None, "unknown", "held"):
        u["state"] = "received"


def _sorted(u: Row, ev: Row, p: Row) -> None:
    """Put into a container (or moved to another): docs/containers.md."""
    u.update(container=_str(p.get("container")), sorted_at=ev["at"])


def _unsorted(u: Row, ev: Row, p: Row) -> None:
    u.update(container=None, sorted_at=None)


HANDLERS: dict[str, Callable[[Row, Row, Row], None]] = {
    "unit_sorted": _sorted,
    "unit_moved": _sorted,
    "unit_unsorted": _unsorted,
    "unit_held": _held,
    "hold_matched": _hold_matched,
    "unit_received": _received,
    "inspection_started": _started,
    "inspection_cancelled": _cancelled,
    "unit_graded": _graded,
    "unit_disposed": _disposed,
    "refund_recommended": _refund,
    "unit_quarantined": _state("quarantined"),
    "unit_voided": _state("voided"),
    "approval_requested": _state("awaiting_approval"),
}


def fold(unit: Row | None, ev: Row, now: datetime) -> Row:
    """The unit after one event (a new dict; `unit` is not changed)."""
    u = dict(unit) if unit is not None else new_unit(ev["lpn"])
    payload = ev.get("payload") or {}
    handler = HANDLERS.get(ev["kind"])
    if handler is not None:
        handler(u, ev, payload if isinstance(payload, dict) else {})
    u.update(last_station_id=ev["station_id"], last_seq=ev["seq"], last_kind=ev["kind"],
             last_event_at=ev["at"], updated_at=now)
    return u


def unit_view(events: Iterable[Row], now: datetime) -> Row | None:
    """The unit after all its events: each station's in seq order, stations merged by `at`."""
    by_station: dict[str, list[Row]] = {}
    for ev in events:
        by_station.setdefault(ev["station_id"], []).append(ev)
    unit: Row | None = None
    streams = [sorted(evs, key=lambda e: e["seq"]) for evs in by_station.values()]
    for ev in heapq.merge(*streams, key=lambda e: e["at"]):  # keeps each stream's own order
        unit = fold(unit, ev, now)
    return unit
