"""HQ's history as the policy sees it: each graded unit's facts, folded from its events, for the
console's simulation (the comparison itself is the bench's own, dockstation.policy.simulate.replay).

The facts are those the bench's `policy simulate` reads from its store, taken from what the benches
pushed instead: category, SKU and price from the receipt (a grade or a disposition may restate the
category), the grade (a disposition's, else the grading's), flags (receipt risk flags, grading and
disposition flags), the checklist answers of the inspection that graded it (each step's last
answer), the RMA's reason code, and the days from the RMA's creation to the decision (disposition,
else grading), and the wait value decay counts (receipt to the decision: simulate.waited_days, as the
bench's history, so the rule replay and the trigger replay decay a unit alike). Units voided are left out, as the bench leaves them out. Only the events of the
station that created a unit count (sync/hq/scope.py).

One query streams the events of the units, ordered by unit; RMAs and their lines are read for a
block of units at a time. Nothing holds all of history in memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select, text

from dockstation.policy.config import PolicyConfig
from dockstation.policy.decide import Facts, answer_text, vendor_return_eligible
from dockstation.policy.simulate import waited_days
from dockstation.types import as_utc
from sync.hq.db import HQDatabase, HqRma, HqRmaLine
from sync.hq.scope import lpn_owner

KINDS = ("unit_received", "unit_held", "unit_graded", "inspection_answered", "unit_disposed", "unit_voided")
BLOCK = 2000


class _Unit:
    __slots__ = ("lpn", "rma_id", "line_no", "category", "sku", "price", "flags", "grade", "graded_at",
                 "inspection", "answers", "disposed_at", "voided", "received_at")

    def __init__(self, lpn: str) -> None:
        self.lpn, self.rma_id, self.line_no = lpn, None, None
        self.category, self.sku, self.price = "", "", None
        self.flags: set[str] = set()
        self.grade: str | None = None
        self.graded_at: datetime | None = None
        self.inspection: Any = None
        self.answers: dict[Any, dict[str, tuple[str, str | None]]] = {}  # inspection id -> step -> (value, result)
        self.disposed_at: datetime | None = None
        self.voided = False
        self.received_at: datetime | None = None  # received (or held: a blind receipt), for value decay


def _payload(value: Any) -> dict[str, Any]:
    got = value if isinstance(value, dict) else json.loads(value or "{}")
    return got if isinstance(got, dict) else {}


def _price(value: Any) -> Decimal | None:
    try:
        return None if value in (None, "") else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _flags(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _apply(u: _Unit, kind: str, at: datetime, rma_id: str | None, p: dict[str, Any]) -> None:
    if kind in ("unit_received", "unit_held"):
        u.received_at = u.received_at or at
    if kind == "unit_received":
        u.rma_id = rma_id or u.rma_id
        u.line_no = p.get("line_no") if isinstance(p.get("line_no"), int) else u.line_no
        u.category = str(p.get("category") or u.category or "")
        u.sku = str(p.get("sku") or u.sku or "")
        u.price = _price(p.get("unit_price")) if _price(p.get("unit_price")) is not None else u.price
        u.flags.update(_flags(p.get("risk_flags")))
    elif kind == "inspection_answered":
        step = p.get("step")
        if step is not None:
            answers = u.answers.setdefault(p.get("inspection_id"), {})
            result = p.get("result")
            answers[str(step)] = (answer_text(p.get("value")), None if result is None else answer_text(result))
    elif kind == "unit_graded":
        u.grade = str(p["grade"]) if p.get("grade") else u.grade
        u.graded_at, u.inspection = at, p.get("inspection_id")
        u.flags.update(_flags(p.get("flags")))
        u.category = str(p.get("category") or u.category)
        if u.price is None:
            u.price = _price(p.get("unit_price"))
    elif kind == "unit_disposed":
        u.disposed_at = at
        u.grade = str(p["grade"]) if p.get("grade") else u.grade
        u.flags.update(_flags(p.get("flags")))
        u.category = str(p.get("category") or u.category)
        if u.price is None:
            u.price = _price(p.get("unit_price"))
    elif kind == "unit_voided":
        u.voided = True


def unit_events(db: HQDatabase, kinds: tuple[str, ...], since: datetime | None,
                since_kinds: tuple[str, ...]) -> Iterator[tuple[str, str, list[tuple[str, datetime, Any, dict[str, Any]]]]]:
    """Each unit's events of `kinds` in seq order, one unit at a time in LPN order: (lpn, station,
    [(kind, at, rma_id, payload)]). With `since`, only units with an event of `since_kinds` at or
    after it. Streamed (nothing holds all of history); only the creating station's events count
    (sync/hq/scope.py). Shared by the policy replay here and the age-trigger replay
    (sync/hq/trigger_history.py)."""
    listed = ", ".join(f"'{k}'" for k in kinds)
    recent = "" if since is None else (
        f"AND e.lpn IN (SELECT g.lpn FROM hq_event g WHERE g.kind IN ({', '.join(repr(k) for k in since_kinds)}) "
        "AND g.at >= :since)")
    sql = text(f"SELECT e.station_id, e.kind, e.at, e.lpn, e.rma_id, e.payload FROM hq_event e "
               f"WHERE e.kind IN ({listed}) AND e.lpn IS NOT NULL {recent} ORDER BY e.lpn, e.seq")
    params = {} if since is None else {"since": as_utc(since).replace(tzinfo=None) if db.dialect == "postgresql"
                                       else as_utc(since).strftime("%Y-%m-%d %H:%M:%S.%f")}
    lpn: str | None = None
    station, rows = "", []
    with db.read() as conn:
        result = conn.execution_options(stream_results=True, yield_per=5000).execute(sql, params)
        for at_station, kind, at, at_lpn, rma_id, payload in result:
            if at_station != lpn_owner(at_lpn):
                continue  # only the creating station writes about a unit
            if at_lpn != lpn:
                if lpn is not None:
                    yield lpn, station, rows
                lpn, station, rows = at_lpn, at_station, []
            rows.append((kind, event_time(at), rma_id, _payload(payload)))
    if lpn is not None:
        yield lpn, station, rows


def event_time(value: Any) -> datetime:
    """An event's `at` as UTC: a datetime from PostgreSQL, ISO text from SQLite."""
    return as_utc(value) if isinstance(value, datetime) else as_utc(datetime.fromisoformat(str(value)))


def _units(db: HQDatabase, since: datetime | None) -> Iterator[_Unit]:
    for lpn, _station, rows in unit_events(db, KINDS, since, ("unit_graded",)):
        u = _Unit(lpn)
        for kind, at, rma_id, payload in rows:
            _apply(u, kind, at, rma_id, payload)
        yield u


def _rma_facts(db: HQDatabase, units: list[_Unit]) -> tuple[dict[str, datetime], dict[tuple[str, int], str]]:
    ids = sorted({u.rma_id for u in units if u.rma_id})
    if not ids:
        return {}, {}
    r, line = HqRma.__table__, HqRmaLine.__table__
    with db.read() as conn:
        created = {row.rma_id: row.created_at for row in conn.execute(
            select(r.c.rma_id, r.c.created_at).where(r.c.rma_id.in_(ids)))}
        reasons = {(row.rma_id, row.line_no): row.reason_code for row in conn.execute(
            select(line.c.rma_id, line.c.line_no, line.c.reason_code).where(line.c.rma_id.in_(ids)))}
    return created, reasons


def hq_history(db: HQDatabase, policy: PolicyConfig, since: datetime | None = None) -> Iterator[tuple[str, Facts]]:
    """(lpn, facts) of every unit graded at any station (since `since`, by when it was graded),
    vendor-return eligibility as `policy` sees it; in LPN order."""
    block: list[_Unit] = []
    for unit in _units(db, since):
        if unit.voided or unit.graded_at is None:
            continue
        block.append(unit)
        if len(block) >= BLOCK:
            yield from _facts(db, policy, block)
            block = []
    if block:
        yield from _facts(db, policy, block)


def _facts(db: HQDatabase, policy: PolicyConfig, units: list[_Unit]) -> Iterator[tuple[str, Facts]]:
    created, reasons = _rma_facts(db, units)
    for u in units:
        decided = u.disposed_at or u.graded_at
        start = created.get(u.rma_id or "")
        days = max(0, int((decided - as_utc(start)).total_seconds() // 86400)) if start and decided else 0
        answers = u.answers.get(u.inspection, {})
        yield u.lpn, Facts(
            category=u.category, grade=u.grade, unit_price=u.price or Decimal(0), flags=frozenset(u.flags),
            answers={step: value for step, (value, _) in answers.items()},
            results={step: result for step, (_, result) in answers.items() if result is not None},
            days_since_purchase=days, days_waiting=waited_days(u.received_at, decided),
            vendor_return_eligible=vendor_return_eligible(policy, u.category, u.sku, days),
            reason_code=reasons.get((u.rma_id or "", u.line_no), "") if u.line_no is not None else "",
            sku=u.sku)
