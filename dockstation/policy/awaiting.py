"""The "awaiting approval" queue: a decision that needs a lead is parked, never dropped.

A grader who moves on from the disposition screen (Enter, `CMD:DONE`, the next parcel or LPN
scan, signing out) `settle`s the decision shown: carried out when it needs no lead, else parked
— the unit goes to state `awaiting_approval` with an `ApprovalRequest` (the path asked for, why a
lead is needed, who asked, when) and an `approval_requested` event, in one transaction. It waits
in the lead's queue (`pending`, the lead screen's Approvals tab) until a lead `approve`s it (the
path asked for) or changes it (another path), with a reason code: the same rules as every
approval (policy/approvals.py), audited (`approval_refused`), and carried out like any
disposition (policy/dispose.py `carry_out`: unit, decision, events, label). A unit still waiting
can also be opened again at a bench and disposed there (a lead's badge on the spot, or the
policy's own path): its request is then `withdrawn`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session, select

from dockstation import events, rows
from dockstation.config import Operator
from dockstation.models import ApprovalRequest, Unit
from dockstation.policy.approvals import ApprovalRefused, approval_needs, lead_for
from dockstation.policy.config import PATHS, PolicyConfig
from dockstation.policy.dispose import (
    DisposeOutcome,
    DispositionError,
    Proposal,
    carry_out,
    open_request,
    proposal_of,
    refuse,
    unit_to_dispose,
)
from dockstation.receiving.core import Bench
from dockstation.rows import Row
from dockstation.store import Store
from dockstation.types import utcnow

WAITING = "awaiting_approval"


def title(path: str) -> str:
    return path.replace("_", " ").upper()


def _check_path(policy: PolicyConfig, path: str | None) -> None:
    if path is not None and (path not in PATHS or path not in policy.paths):
        raise DispositionError(f"unknown path {path!r}")


# -- the grader moves on ----------------------------------------------------------------------
def settle(store: Store, bench: Bench, operator: Operator, lpn: str, *, policy: PolicyConfig,
           path: str | None = None, now: datetime | None = None) -> DisposeOutcome:
    """The grader moves on from the decision on screen (`path`: an override picked, else the
    policy's): carried out if it needs no lead, else parked for one. One transaction either way.

    Returns `disposed` / `quarantined`, `awaiting_approval` (parked now, or already waiting for
    that same path: nothing written again), or `unchanged` for a unit that already has a
    disposition (a redisposition nobody approved leaves it as it was)."""
    _check_path(policy, path)
    if not operator.can("grader"):
        raise DispositionError(f"{operator.name} is a {operator.role}: a grader or a lead disposes")
    with store.write() as session:
        unit, known = unit_to_dispose(session, lpn)
        at = now or utcnow()
        prop = proposal_of(session, policy, unit, at, known)
        if prop.kind == "redisposition":
            return DisposeOutcome("unchanged", f"{lpn} keeps its path {title(prop.current_path or '?')}",
                                  lpn, kind=prop.kind, path=prop.current_path)
        chosen = path or prop.decision.path
        needs = approval_needs(policy, prop.facts, prop.decision.path, chosen)
        if not needs:
            out = carry_out(session, bench, policy, operator, unit, prop, chosen, None, None, at)
            if out.ok:  # the container the screen names next, read here so the UI thread reads nothing
                out.extra["container"] = container_hint(session, policy, unit)
            return out
        return _park(session, bench, operator, unit, prop, chosen, needs, at)


@dataclass(frozen=True)
class ContainerHint:
    """The open container that takes a just-disposed unit (None in `extra["container"]` when none
    is open), as plain values: the session that read it is closed by the time the screen shows it."""

    id: str
    destination: str | None
    units: int
    capacity: int


def container_hint(session: Session, policy: PolicyConfig, unit: Any) -> ContainerHint | None:
    from dockstation.containers import suggest  # containers build on policy: imported when used

    c = suggest(session, policy, unit)
    return ContainerHint(c.id, c.destination, c.units, c.capacity) if c is not None else None


def _park(session: Session, bench: Bench, operator: Operator, unit: Row, prop: Proposal, chosen: str,
          needs: tuple[str, ...], at: datetime) -> DisposeOutcome:
    d = prop.decision
    kind = "policy" if chosen == d.path else "override"
    waiting = open_request(session, unit.lpn)
    message = f"{unit.lpn} awaits a lead's approval: {title(chosen)} ({'; '.join(needs)})"
    if waiting is not None and waiting.path == chosen and unit.state == WAITING:
        return DisposeOutcome("awaiting_approval", message, unit.lpn, kind=kind, path=chosen, approval=needs,
                              extra={"request_id": waiting.id, "since": waiting.requested_at, "again": True})
    replaces = None
    if waiting is not None:  # it asked for another path before: that request gives way to this one
        waiting.state, waiting.resolved_at, waiting.resolved_by = "withdrawn", at, operator.badge
        session.add(waiting)
        replaces = waiting.id
    request = ApprovalRequest(lpn=unit.lpn, path=chosen, policy_path=d.path, rule_id=d.rule_id, kind=kind,
                              why=list(needs), requested_at=at, requested_by=operator.badge)
    session.add(request)
    unit.state, unit.updated_at = WAITING, at
    rows.save(session, unit)
    session.flush()
    option = prop.option(chosen)
    events.record(session, bench.station_id, "approval_requested", operator=operator.badge, lpn=unit.lpn,
                  rma_id=unit.rma_id, at=at, payload={
                      "request_id": request.id, "path": chosen, "policy_path": d.path, "rule_id": d.rule_id,
                      "kind": kind, "why": list(needs), "grade": prop.facts.grade, "category": unit.category,
                      "unit_price": prop.facts.unit_price, "recovery_value": option.recovery_value,
                      "replaces": replaces,
                  })
    return DisposeOutcome("awaiting_approval", message, unit.lpn, kind=kind, path=chosen, approval=needs,
                          destination=option.destination, recovery_value=option.recovery_value,
                          rule_id=d.rule_id, extra={"request_id": request.id, "since": at, "again": False})


# -- the lead's queue -------------------------------------------------------------------------
@dataclass(frozen=True)
class Waiting:
    """One unit in the lead's "awaiting approval" queue."""

    lpn: str
    sku: str
    description: str
    category: str
    grade: str | None
    unit_price: Decimal
    currency: str
    lane: str
    path: str  # asked for
    policy_path: str
    why: tuple[str, ...]
    since: datetime  # asked at (the unit's last change if no request row: an older bench)
    requested_by: str  # badge of who asked
    graded_by: str | None  # badge of who graded it


def pending(store: Store, *, limit: int = 200) -> tuple[int, list[Waiting]]:
    """How many units await approval, and the oldest `limit` of them (read only)."""
    with store.read() as session:
        units = list(session.exec(select(Unit).where(Unit.state == WAITING)))
        requests = {r.lpn: r for r in session.exec(
            select(ApprovalRequest).where(ApprovalRequest.state == "open"))}
    rows = []
    for u in units:
        r = requests.get(u.lpn)
        rows.append(Waiting(
            lpn=u.lpn, sku=u.sku, description=u.description, category=u.category, grade=u.grade,
            unit_price=Decimal(u.unit_price), currency=u.currency, lane=u.lane,
            path=r.path if r else "?", policy_path=r.policy_path if r else "?",
            why=tuple(r.why) if r else (), since=r.requested_at if r else u.updated_at,
            requested_by=r.requested_by if r else (u.inspected_by or ""), graded_by=u.inspected_by,
        ))
    rows.sort(key=lambda w: (w.since, w.lpn))
    return len(rows), rows[:limit]


def approve(store: Store, bench: Bench, lead: Operator, lpn: str, *, policy: PolicyConfig, reason: str,
            path: str | None = None, now: datetime | None = None) -> DisposeOutcome:
    """A lead approves a unit waiting in the queue (`path` None: the path asked for) or changes it
    (another path), with a reason code from `[approval_reasons]`. Refused (and audited) for anyone
    but a lead or an unknown reason, like every approval; then carried out like any disposition."""
    _check_path(policy, path)
    with store.write() as session:
        unit = rows.get(session, Unit, lpn)
        if unit is None or unit.state != WAITING:
            state = unit.state if unit else "unknown"
            raise DispositionError(f"{lpn} is not awaiting approval (it is {state})")
        request = open_request(session, lpn)
        at = now or utcnow()
        prop = proposal_of(session, policy, unit, at)
        chosen = path or (request.path if request else prop.decision.path)
        try:
            approver = lead_for(bench.operators, policy, lead.badge, reason)
        except ApprovalRefused as exc:
            return refuse(session, bench, lead, lpn, unit, exc, chosen)
        asked = request is not None and chosen == request.path
        return carry_out(session, bench, policy, approver, unit, prop, chosen, approver, reason, at,
                         decided_by=request.requested_by if asked and request else approver.badge)
