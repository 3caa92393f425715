"""Blind receipts: a parcel that matches nothing, held with a deadline (docs/receiving.md, "Holds").

`receive_held` gives the parcel's item an LPN and the state `held`, with no RMA, in a hold whose
deadline and default action come from policy.toml `[hold]` (`days`, `default_path`); what the
clerk could read — the scanned code (its tracking number, normalised), an order id, the item's
GTIN, a note — is kept to match it later. The exception the parcel raised, if any, is resolved
with it (`held`).

`match_holds` runs after every manifest import and every pull from HQ: a later manifest that
holds the hold's tracking number or order makes the unit an ordinary received unit of that RMA
line (`hold_matched`, `by: auto`), and the lead sees it on the Holds tab. When the RMA has
several open lines and the item's GTIN does not say which, the hold stays open with the RMA as
its candidate, for the lead to pick the line (`match_hold`).

At the deadline the lead screen proposes the default action; a lead confirms it
(`apply_default`: the unit is disposed along that path, `hold_defaulted` and `unit_disposed`).
All of it audited, each change with its event in one transaction. Plain Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, select

from dockstation import carriers, events
from dockstation.config import Operator
from dockstation.models import Decision, Hold, Rma, RmaLine, ScanException, Unit
from dockstation.receiving.core import Bench, Lane, UnitView
from dockstation.store import Store
from dockstation.text import bounded
from dockstation.types import as_utc, utcnow

HELD = "held"
HOLD_LANE = "hold"


class HoldError(Exception):
    """Refused; nothing changed."""


@dataclass(frozen=True)
class HoldView:
    lpn: str
    code: str
    tracking: str | None
    order_id: str | None
    gtin: str | None
    note: str
    received_at: datetime
    received_by: str
    deadline_at: datetime
    default_path: str
    state: str
    candidate: str | None  # an RMA a manifest named for it, its line to pick
    matched_rma_id: str | None
    resolved_at: datetime | None
    resolved_by: str | None

    def due(self, now: datetime) -> bool:
        return self.state == "open" and as_utc(self.deadline_at) <= now


@dataclass(frozen=True)
class Matched:
    lpn: str
    rma_id: str
    line_no: int | None  # None: the RMA is a candidate, the line is the lead's to pick
    how: str  # tracking | order


def receive_held(store: Store, bench: Bench, operator: Operator, *, code: str, hold: Any, source: str = "keyboard",
                 order_id: str | None = None, gtin: str | None = None, note: str = "",
                 exception_id: int | None = None, now: datetime | None = None) -> UnitView:
    """A blind receipt: an LPN in state `held`, no RMA, a deadline `hold.days` from now with the
    default action `hold.default_path` (policy.toml `[hold]`)."""
    now = now or utcnow()
    tracking = carriers.normalise(code, bench.codes.carriers).number if code else None
    with store.write() as session:
        lpn = f"{bench.station_id}-{events.bump(session, f'lpn:{bench.station_id}'):08d}"
        deadline = now + timedelta(days=hold.days)
        unit = Unit(lpn=lpn, rma_id=None, line_no=0, station_id=bench.station_id, sku="", category="",
                    description="Held: matched no RMA", state=HELD, lane=HOLD_LANE, sla_due_at=deadline,
                    risk_flags=[], received_at=now, received_by=operator.badge, source=source, updated_at=now)
        session.add(unit)
        session.flush()
        row = Hold(lpn=lpn, code=bounded(code), tracking=tracking or None, order_id=(order_id or "").strip() or None,
                   gtin=gtin or None, note=bounded(note, 200), exception_id=exception_id, deadline_at=deadline,
                   default_path=hold.default_path)
        session.add(row)
        events.record(session, bench.station_id, "unit_held", operator=operator.badge, lpn=lpn, at=now,
                      payload={"code": row.code, "tracking": row.tracking, "order_id": row.order_id, "gtin": row.gtin,
                               "note": row.note, "deadline_at": deadline.isoformat(),
                               "default_path": hold.default_path, "exception_id": exception_id, "source": source})
        if exception_id is not None:
            exc = session.get(ScanException, exception_id)
            if exc is not None and exc.state == "open":
                exc.state, exc.resolved_by, exc.resolved_at = "held", operator.badge, now
                exc.resolution, exc.lpn = f"received blind, held as {lpn}", lpn
                session.add(exc)
                events.record(session, bench.station_id, "exception_resolved", operator=operator.badge, lpn=lpn,
                              at=now, payload={"id": exc.id, "action": "held", "reason": exc.resolution, "lpn": lpn,
                                               "kind": exc.kind})
        if bench.receipt_label:
            from labels.queue import enqueue_label

            enqueue_label(session, unit, operator=operator.badge, label="receipt")
        session.flush()
        return UnitView.of(unit)


def _view(h: Hold, unit: Unit | None) -> HoldView:
    return HoldView(h.lpn, h.code, h.tracking, h.order_id, h.gtin, h.note,
                    unit.received_at if unit else h.deadline_at, unit.received_by if unit else "",
                    h.deadline_at, h.default_path, h.state,
                    h.matched_rma_id if h.state == "open" else None,
                    h.matched_rma_id if h.state == "matched" else None, h.resolved_at, h.resolved_by)


def holds(store: Store, *, recent_days: int = 7, now: datetime | None = None) -> list[HoldView]:
    """Open holds (soonest deadline first), then those resolved in the last `recent_days`."""
    now = now or utcnow()
    since = now - timedelta(days=recent_days)
    with store.read() as session:
        rows = session.exec(select(Hold, Unit).join(Unit, Unit.lpn == Hold.lpn)  # type: ignore[arg-type]
                            .where((Hold.state == "open") | (Hold.resolved_at >= since))  # type: ignore[operator]
                            .order_by(Hold.state.desc(), Hold.deadline_at)).all()  # type: ignore[attr-defined]
    return [_view(h, u) for h, u in rows]


def _candidates(session: Session, h: Hold) -> tuple[Rma | None, str]:
    if h.tracking:
        rid = session.exec(select(RmaLine.rma_id).where(RmaLine.tracking_number == h.tracking).limit(1)).first()
        if rid:
            return session.get(Rma, rid), "tracking"
    if h.order_id:
        rma = session.exec(select(Rma).where(Rma.order_id == h.order_id, Rma.status == "open")
                           .order_by(Rma.created_at.desc()).limit(1)).first()  # type: ignore[attr-defined]
        if rma is not None:
            return rma, "order"
    return None, ""


def _line_for(lines: list[RmaLine], gtin: str | None) -> RmaLine | None:
    open_lines = [l for l in lines if l.received_qty < l.qty]
    if gtin:
        want = gtin.zfill(14)
        hit = next((l for l in open_lines if l.gtin and l.gtin.zfill(14) == want), None)
        if hit is not None:
            return hit
    return open_lines[0] if len(open_lines) == 1 else None


def _attach(session: Session, bench: Bench, unit: Unit, h: Hold, rma: Rma, line: RmaLine, by: str, how: str,
            at: datetime) -> None:
    """The held unit becomes an ordinary received unit of `line` (its lane chosen now)."""
    lane: Lane = bench.triage(session, rma, line)
    unit.rma_id, unit.line_no, unit.sku, unit.category = rma.rma_id, line.line_no, line.sku, line.category
    unit.description, unit.unit_price, unit.currency = line.description, line.unit_price, line.currency
    unit.state, unit.lane, unit.risk_flags = "received", lane.name, list(lane.flags)
    unit.sla_due_at, unit.updated_at = at + timedelta(hours=lane.sla_hours), at
    line.received_qty += 1
    h.state, h.matched_rma_id, h.resolved_at, h.resolved_by = "matched", rma.rma_id, at, by
    session.add_all([unit, line, h])
    events.record(session, bench.station_id, "hold_matched", operator=None if by == "auto" else by, lpn=unit.lpn,
                  rma_id=rma.rma_id, at=at,
                  payload={"line_no": line.line_no, "sku": line.sku, "category": line.category, "lane": lane.name,
                           "sla_hours": lane.sla_hours, "risk_flags": list(lane.flags),
                           "unit_price": line.unit_price, "currency": line.currency, "how": how, "by": by})


def match_holds(store: Store, bench: Bench, now: datetime | None = None) -> list[Matched]:
    """After a manifest import or a pull: every open hold that a manifest now names is matched
    (its line certain), or gets the RMA as its candidate for the lead (several lines open)."""
    at = now or utcnow()
    out: list[Matched] = []
    with store.write() as session:
        for h in session.exec(select(Hold).where(Hold.state == "open")).all():
            rma, how = _candidates(session, h)
            if rma is None:
                continue
            lines = list(session.exec(select(RmaLine).where(RmaLine.rma_id == rma.rma_id).order_by(RmaLine.line_no)))
            line = _line_for(lines, h.gtin)
            unit = session.get(Unit, h.lpn)
            if unit is None or unit.state != HELD:
                continue
            if line is None:
                if h.matched_rma_id != rma.rma_id and any(l.received_qty < l.qty for l in lines):
                    h.matched_rma_id = rma.rma_id  # the candidate, for the lead
                    session.add(h)
                    events.record(session, bench.station_id, "hold_candidate", lpn=h.lpn, rma_id=rma.rma_id, at=at,
                                  payload={"how": how, "open_lines": sum(1 for l in lines if l.received_qty < l.qty)})
                    out.append(Matched(h.lpn, rma.rma_id, None, how))
                continue
            _attach(session, bench, unit, h, rma, line, "auto", how, at)
            out.append(Matched(h.lpn, rma.rma_id, line.line_no, how))
    return out


def _open_hold(session: Session, lead: Operator | None, lpn: str) -> tuple[Hold, Unit]:
    if lead is None or lead.role != "lead":
        raise HoldError("Only a lead may resolve a hold: scan a lead's badge")
    h = session.get(Hold, lpn)
    unit = session.get(Unit, lpn)
    if h is None or unit is None:
        raise HoldError(f"No hold {lpn}")
    if h.state != "open" or unit.state != HELD:
        raise HoldError(f"{lpn} is no longer held ({h.state})")
    return h, unit


def match_hold(store: Store, bench: Bench, lead: Operator | None, lpn: str, rma_id: str, line_no: int,
               now: datetime | None = None) -> str:
    """A lead matches a held unit to an RMA line by hand."""
    at = now or utcnow()
    with store.write() as session:
        h, unit = _open_hold(session, lead, lpn)
        assert lead is not None
        rma = session.get(Rma, rma_id)
        line = session.get(RmaLine, (rma_id, line_no))
        if rma is None or line is None:
            raise HoldError(f"{rma_id} has no line {line_no}")
        if line.received_qty >= line.qty:
            raise HoldError(f"{rma_id} line {line_no} is already fully received")
        _attach(session, bench, unit, h, rma, line, lead.badge, "lead", at)
    return f"{lpn} matched to {rma_id} line {line_no}: received"


def apply_default(store: Store, bench: Bench, lead: Operator | None, lpn: str, *, policy: Any,
                  now: datetime | None = None) -> str:
    """At (or after) the deadline, a lead confirms the hold's default action: the unit is
    disposed along `default_path`, with its decision, events and label."""
    from dockstation.policy.decide import destination, recovery_value
    from dockstation.policy.dispose import queue_label

    at = now or utcnow()
    with store.write() as session:
        h, unit = _open_hold(session, lead, lpn)
        assert lead is not None
        if as_utc(h.deadline_at) > at:
            raise HoldError(f"{lpn}'s deadline is {as_utc(h.deadline_at):%Y-%m-%d}: it may still be matched")
        path = h.default_path
        if path not in policy.paths:
            raise HoldError(f"path {path!r} is not configured in this policy")
        dest = destination(policy, path, unit.category)
        value = recovery_value(policy, path, None, unit.category, unit.unit_price)
        unit.state = "quarantined" if path == "quarantine" else "disposed"
        unit.disposition, unit.rule_id, unit.policy_version = path, "hold-default", policy.version
        unit.destination, unit.recovery_value, unit.disposed_at, unit.updated_at = dest, value, at, at
        reason = f"Held {policy.hold.days} days, matched no RMA: the hold's default action"
        session.add(Decision(lpn=lpn, kind="hold_default", path=path, rule_id="hold-default", reason=reason,
                             policy_version=policy.version, destination=dest, recovery_value=value, decided_at=at,
                             decided_by=lead.badge, approved_by=lead.badge))
        h.state, h.resolved_at, h.resolved_by = "defaulted", at, lead.badge
        session.add_all([unit, h])
        events.record(session, bench.station_id, "hold_defaulted", operator=lead.badge, lpn=lpn, at=at,
                      payload={"path": path, "deadline_at": as_utc(h.deadline_at).isoformat()})
        events.record(session, bench.station_id, "unit_disposed", operator=lead.badge, lpn=lpn, at=at,
                      payload={"kind": "hold_default", "path": path, "rule_id": "hold-default", "reason": reason,
                               "policy_version": policy.version, "destination": dest, "recovery_value": value,
                               "category": unit.category, "grade": None, "unit_price": unit.unit_price, "flags": [],
                               "approved_by": lead.badge, "approval_reason": None, "policy_path": path,
                               "previous_path": None})
        session.flush()
        queue_label(session, unit, lead)
    return f"{lpn}: {path.replace('_', ' ')} → {dest}"



def match_for_home(store: Store, station_id: str, home: Any) -> list[Matched]:
    """`match_holds` for the bench at `home` (its codes and the triage of its policy): what a
    manifest import and a pull from HQ call. Nothing is read when no hold is open."""
    with store.read() as session:
        if session.exec(select(Hold.lpn).where(Hold.state == "open").limit(1)).first() is None:
            return []
    from dockstation.config import CodesConfig, OperatorsConfig, load_layered
    from dockstation.policy.triage import triage_for_home

    bench = Bench(station_id=station_id, codes=load_layered("codes.toml", CodesConfig, home, required=True),
                  operators=OperatorsConfig(), triage=triage_for_home(home))
    return match_holds(store, bench)


def link_exception(store: Store, bench: Bench, operator: Operator, exception_id: int, lpn: str, rma_id: str) -> bool:
    """The parcel that raised exception `exception_id` was found by a search and received as
    `lpn`: the exception is resolved (`matched`) and linked to the unit. False: no longer open."""
    at = utcnow()
    with store.write() as session:
        exc = session.get(ScanException, exception_id)
        if exc is None or exc.state != "open":
            return False
        exc.state, exc.resolved_by, exc.resolved_at, exc.lpn, exc.rma_id = "matched", operator.badge, at, lpn, rma_id
        exc.resolution = f"found by search: {rma_id}"
        session.add(exc)
        events.record(session, bench.station_id, "exception_resolved", operator=operator.badge, lpn=lpn,
                      rma_id=rma_id, at=at, payload={"id": exc.id, "action": "matched", "reason": exc.resolution,
                                                     "lpn": lpn, "kind": exc.kind})
    return True
