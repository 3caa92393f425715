"""HQ's history as the age triggers see it: each unit's waits, folded from its events, for the
console's simulation of a candidate's `[[age_triggers]]` (the replay itself is the bench's own,
dockstation.policy.trigger_sim).

A unit's timeline is what `dockstation policy simulate` rebuilds from a bench's store, taken from
what the benches pushed: received (or held, a blind receipt) → a hold matched or defaulted →
graded → the first approval request → the first disposition → sorted into a container (a unit
disposed once its station had containers waits to be sorted). The lane is the receipt's (or the
hold match's) before any trigger moved it; category, SKU, price and flags as the policy history
reads them. Units voided are left out; only the creating station's events count
(sync/hq/scope.py).

Two streams in LPN order are merged: the timelines (one query over the events of units received
since `since`) and the graded units' facts (sync/hq/policy_history.py), so nothing holds all of
history in memory but the firings kept for the page.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import text

from dockstation.policy.config import PolicyConfig
from dockstation.policy.decide import Facts
from dockstation.policy.trigger_sim import Replayer, Timeline
from sync.hq.db import HQDatabase, HqRmaLine
from sync.hq.policy_history import event_time, hq_history, unit_events

KINDS = ("unit_received", "unit_held", "hold_matched", "hold_defaulted", "unit_graded", "approval_requested",
         "unit_disposed", "unit_sorted", "unit_moved", "unit_voided", "age_trigger_fired")
KEEP_FIRINGS = 5000  # the candidate's firings kept with a simulation (re-routes with the largest deltas first)


class _Unit:
    __slots__ = ("lpn", "station", "rma_id", "line_no", "category", "lane", "price", "sku", "grade", "flags",
                 "received_at", "held", "held_until", "inspected_at", "asked_at", "asked_path", "disposed_at",
                 "sorted_at", "voided", "lane_before")

    def __init__(self, lpn: str, station: str) -> None:
        self.lpn, self.station = lpn, station
        self.rma_id: str | None = None
        self.line_no: int | None = None
        self.category = self.lane = self.sku = ""
        self.price = Decimal(0)
        self.grade: str | None = None
        self.flags: set[str] = set()
        self.received_at: datetime | None = None
        self.held = False
        self.held_until = self.inspected_at = self.asked_at = self.disposed_at = self.sorted_at = None
        self.asked_path: str | None = None
        self.voided = False
        self.lane_before: str | None = None  # the lane before the first trigger's lane move


def _price(value: Any, default: Decimal) -> Decimal:
    try:
        return default if value in (None, "") else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return default


def _apply(u: _Unit, kind: str, at: datetime, rma_id: str | None, p: dict[str, Any]) -> None:
    flags = p.get("risk_flags") if kind in ("unit_received", "hold_matched") else p.get("flags")
    if isinstance(flags, list):
        u.flags.update(str(f) for f in flags)
    if kind in ("unit_received", "unit_held"):
        u.received_at = u.received_at or at
        u.held = u.held or kind == "unit_held"
    if kind in ("unit_received", "hold_matched"):
        u.rma_id = rma_id or u.rma_id
        u.line_no = p["line_no"] if isinstance(p.get("line_no"), int) else u.line_no
        u.lane = str(p.get("lane") or u.lane)
        u.sku = str(p.get("sku") or u.sku)
    if kind in ("unit_received", "hold_matched", "unit_graded", "unit_disposed"):
        u.category = str(p.get("category") or u.category)
        u.price = _price(p.get("unit_price"), u.price)
    if kind in ("hold_matched", "hold_defaulted"):
        u.held_until = u.held_until or at
    elif kind == "unit_graded":
        u.inspected_at = at  # the latest grading, as the bench's unit.inspected_at
        u.grade = str(p["grade"]) if p.get("grade") else u.grade
    elif kind == "approval_requested":
        u.asked_at = u.asked_at or at
        u.asked_path = str(p["path"]) if p.get("path") else u.asked_path
    elif kind == "unit_disposed":
        u.disposed_at = u.disposed_at or at  # the first disposition ends the waits
        u.grade = str(p["grade"]) if p.get("grade") else u.grade
    elif kind in ("unit_sorted", "unit_moved"):
        u.sorted_at = u.sorted_at or at
    elif kind == "unit_voided":
        u.voided = True
    elif kind == "age_trigger_fired" and p.get("action") == "lane" and u.lane_before is None:
        u.lane_before = str(p.get("previous") or "")


def _units(db: HQDatabase, since: datetime | None) -> Iterator[_Unit]:
    for lpn, station, rows in unit_events(db, KINDS, since, ("unit_received", "unit_held")):
        u = _Unit(lpn, station)
        for kind, at, rma_id, payload in rows:
            _apply(u, kind, at, rma_id, payload)
        yield u


def hq_timelines(db: HQDatabase, since: datetime | None = None) -> Iterator[Timeline]:
    """Every unit received (or held) at any station since `since`, as the triggers see it; in LPN order."""
    with db.read() as conn:  # a unit disposed once its station had containers waits to be sorted
        containers = {s: event_time(at) for s, at in conn.execute(text(
            "SELECT station_id, min(at) FROM hq_event WHERE kind = 'container_opened' GROUP BY station_id"))}
    block: list[_Unit] = []
    for u in _units(db, since):
        if u.voided or u.received_at is None:
            continue
        block.append(u)
        if len(block) >= 2000:
            yield from _timelines(db, block, containers)
            block = []
    if block:
        yield from _timelines(db, block, containers)


def _timelines(db: HQDatabase, units: list[_Unit], containers: dict[str, datetime]) -> Iterator[Timeline]:
    ids = sorted({u.rma_id for u in units if u.rma_id})
    line = HqRmaLine.__table__  # type: ignore[attr-defined]
    reasons: dict[tuple[str, int], str] = {}
    if ids:
        with db.read() as conn:
            reasons = {(r.rma_id, r.line_no): r.reason_code or "" for r in conn.execute(
                line.select().with_only_columns(line.c.rma_id, line.c.line_no, line.c.reason_code)
                .where(line.c.rma_id.in_(ids)))}
    for u in units:
        first_box = containers.get(u.station)
        assert u.received_at is not None
        yield Timeline(
            lpn=u.lpn, category=u.category, lane=u.lane_before if u.lane_before is not None else u.lane,
            unit_price=u.price, sku=u.sku, grade=u.grade, flags=frozenset(u.flags), received_at=u.received_at,
            held=u.held, held_until=u.held_until, inspected_at=u.inspected_at, asked_at=u.asked_at,
            disposed_at=u.disposed_at, asked_path=u.asked_path,
            reason_code=reasons.get((u.rma_id or "", u.line_no or 0), "") if u.line_no is not None else "",
            sortable=first_box is not None and u.disposed_at is not None and u.disposed_at >= first_box,
            sorted_at=u.sorted_at)


def _with_facts(timelines: Iterator[Timeline], facts: Iterator[tuple[str, Facts]]) -> Iterator[tuple[Timeline, Facts | None]]:
    """Merge two streams in LPN order: each timeline with its unit's facts, if it was graded."""
    pending = next(facts, None)
    for tl in timelines:
        while pending is not None and pending[0] < tl.lpn:
            pending = next(facts, None)
        if pending is not None and pending[0] == tl.lpn:
            yield tl, pending[1]  # with the wait value decay counts (policy_history: the rule replay's too)
        else:
            yield tl, None


def replay_hq_triggers(db: HQDatabase, in_force: PolicyConfig, candidate: PolicyConfig, since: datetime | None,
                       as_of: datetime) -> dict[str, Any]:
    """Both policies' triggers over HQ's history, in the JSON of the bench's `policy simulate`
    (`"triggers"`), the candidate's firings cut to `KEEP_FIRINGS` (`fired_units` counts them all)."""
    old, new = Replayer(in_force, as_of), Replayer(candidate, as_of)
    for tl, f in _with_facts(hq_timelines(db, since), hq_history(db, in_force, since)):
        old.add(tl, f)
        new.add(tl, f)
    a, b = old.result(), new.result()
    fired = sorted(b.fired, key=lambda x: (-abs(x.delta or 0), x.at, x.lpn, x.trigger_id))
    return {"in_force": a.as_json(), "candidate": b.as_json(), "fired_units": len(fired),
            "fired": [x.as_json() for x in fired[:KEEP_FIRINGS]]}
