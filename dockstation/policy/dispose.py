"""Disposition use cases over the store: what the policy proposes, and carrying it out.

`propose` only reads. `dispose` is one write transaction: the unit's disposition, a `Decision`
row, the `unit_disposed` (and, on the first decision, `refund_recommended`) events and the label
print job commit together or not at all (`carry_out`, shared with the approval queue,
policy/awaiting.py, whose open request of the unit it closes). A refused approval writes nothing
but its `approval_refused` audit event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, NamedTuple

from sqlmodel import Session, select

from dockstation import events, rows
from dockstation.config import Operator
from dockstation.models import ApprovalRequest, Decision, Inspection, Rma, Unit
from dockstation.policy.approvals import ApprovalRefused, approval_needs, lead_for
from dockstation.policy.config import PATHS, PolicyConfig
from dockstation.policy.decide import (
    Facts,
    PolicyDecision,
    aged_value,
    answer_text,
    decide,
    destination,
    rerouted,
    vendor_return_eligible,
)
from dockstation.policy.refund import RefundRecommendation, recommend_refund
from dockstation.policy.vendors import full_vendors, vendor_of
from dockstation.receiving.core import Bench
from dockstation.rows import Row
from dockstation.store import Store
from dockstation.types import as_utc, utcnow

FIRST_STATES = ("graded", "awaiting_approval")
DONE_STATES = ("disposed", "quarantined")


class DispositionError(Exception):
    """The unit cannot be disposed now (unknown, not graded yet, voided, unknown path)."""


@dataclass(frozen=True)
class PathOption:
    path: str
    destination: str
    recovery_value: Decimal
    approval: tuple[str, ...]  # why choosing it needs a lead; empty if it does not


@dataclass(frozen=True)
class Proposal:
    lpn: str
    sku: str
    description: str
    state: str
    kind: str  # policy | redisposition
    facts: Facts
    decision: PolicyDecision
    refund: RefundRecommendation
    approval: tuple[str, ...]  # why accepting the policy's path needs a lead
    options: tuple[PathOption, ...]  # every path, for an override
    current_path: str | None = None  # a redisposition: the path the unit has now
    currency: str = "USD"
    waiting: ApprovalRequest | None = None  # awaiting a lead: the open request (path, who, since)

    @property
    def needs_approval(self) -> bool:
        return bool(self.approval)

    def option(self, path: str) -> PathOption:
        return next(o for o in self.options if o.path == path)


# needs_approval: nothing written, a lead must approve; awaiting_approval: parked in the lead's
# queue (policy/awaiting.py); unchanged: nothing to do (a redisposition left as it was).
Status = Literal["disposed", "quarantined", "needs_approval", "awaiting_approval", "refused", "unchanged"]


@dataclass(frozen=True)
class DisposeOutcome:
    status: Status
    message: str
    lpn: str
    kind: str | None = None
    path: str | None = None
    rule_id: str | None = None
    reason: str | None = None
    destination: str | None = None
    recovery_value: Decimal | None = None
    policy_version: str | None = None
    approval: tuple[str, ...] = ()
    approved_by: str | None = None
    approval_reason: str | None = None
    refund: RefundRecommendation | None = None
    label_job_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status in ("disposed", "quarantined")


# -- facts -------------------------------------------------------------------------------------
def days_between(start: datetime | None, end: datetime) -> int:
    if start is None:
        return 0
    return max(0, int((as_utc(end) - as_utc(start)).total_seconds() // 86400))


class Known(NamedTuple):
    """What the facts read besides the unit, when the caller holds it already (`unit_to_dispose`,
    or the transaction that graded the unit: `rma_created` then): not read again."""

    reason_code: str
    inspection: Any  # the last finished inspection (answers, flags, grade), or None
    rma_created: datetime | None


_RMA_CREATED = "SELECT created_at FROM rma WHERE rma_id = ?"


def rma_created(session: Session, rma_id: str | None) -> datetime | None:
    raw = rows.first(session, _RMA_CREATED, (rma_id,)) if rma_id else None
    return rows.decode(session, Rma, "created_at", raw[0]) if raw else None


def facts_for(session: Session, policy: PolicyConfig, unit: Any, now: datetime,
              known: Known | None = None) -> Facts:
    """The policy's view of a unit: its grade and flags, the last finished inspection's answers,
    and days since the RMA was created (the manifest has no purchase date).

    `known`: see Known; without it, read with `unit_to_dispose`'s query."""
    session.flush()  # plain reads below: changes of this transaction first (what autoflush did)
    if known is None:
        found = _read_unit(session, unit.lpn)
        known = found[1] if found is not None else Known("", None, None)
    reason_code, insp, created = known
    raw = (insp.answers or {}) if insp else {}
    answers = {k: answer_text(v) for k, v in raw.items()}
    results = {k: answer_text(v, "result") for k, v in raw.items() if isinstance(v, dict) and "result" in v}
    flags = frozenset(unit.risk_flags or ()) | frozenset((insp.flags or ()) if insp else ())
    days = days_between(created, now)
    vendor = vendor_of(policy, unit.category, unit.sku)
    # Only a unit of a vendor with a quota pays for the week's count (one small query).
    quota_full = full_vendors(session, policy, now) if vendor is not None and (
        policy.vendors[vendor].weekly_quota_units is not None
        or policy.vendors[vendor].weekly_quota_value is not None) else frozenset()
    return Facts(
        category=unit.category, grade=unit.grade or (insp.grade if insp else None),
        unit_price=Decimal(unit.unit_price), flags=flags, answers=answers, results=results,
        days_since_purchase=days,
        vendor_return_eligible=vendor_return_eligible(policy, unit.category, unit.sku, days),
        reason_code=reason_code, sku=unit.sku, vendor=vendor, quota_full=quota_full,
        days_waiting=max(0.0, (as_utc(now) - as_utc(unit.received_at)).total_seconds() / 86400),
    )


# The unit (a plain row, dockstation/rows.py) with what its facts read: the RMA's created_at, the
# line's reason code, the last finished inspection's answers, flags and grade — one query.
_TO_DISPOSE = (f"SELECT {rows.columns(Unit, 'u')}, r.created_at, l.reason_code, i.id, i.answers, i.flags, i.grade "
               "FROM unit u LEFT JOIN rma r ON r.rma_id = u.rma_id "
               "LEFT JOIN rma_line l ON l.rma_id = u.rma_id AND l.line_no = u.line_no "
               "LEFT JOIN inspection i ON i.id = (SELECT id FROM inspection WHERE lpn = u.lpn AND status = 'done' "
               "ORDER BY id DESC LIMIT 1) WHERE u.lpn = ?")


@dataclass(frozen=True)
class _Done:
    """The columns of a finished inspection the facts read."""

    answers: Any
    flags: Any
    grade: str | None


def unit_to_dispose(session: Session, lpn: str) -> tuple[Row, Known]:
    """The unit, if it can be disposed now, and what `facts_for` would read of it (its `known`)."""
    found = _read_unit(session, lpn)
    if found is None:
        raise DispositionError(f"unknown unit {lpn}")
    unit = found[0]
    if unit.state not in FIRST_STATES + DONE_STATES:
        raise DispositionError(f"{lpn} is {unit.state}: grade it first" if unit.state in
                               ("received", "inspecting") else f"{lpn} is {unit.state}")
    return found


def _read_unit(session: Session, lpn: str) -> tuple[Row, Known] | None:
    session.flush()  # rows the ORM still holds back (what session.get saw)
    raw = rows.first(session, _TO_DISPOSE, (lpn,))
    if raw is None:
        return None
    split = rows.width(Unit)
    unit = rows.from_raw(session, Unit, raw[:split])
    created, reason, done_id, answers, flags, grade = raw[split:]
    done = None if done_id is None else _Done(rows.decode(session, Inspection, "answers", answers),
                                              rows.decode(session, Inspection, "flags", flags), grade)
    reason = (reason or "") if unit.rma_id and unit.line_no else ""
    return unit, Known(reason, done, rows.decode(session, Rma, "created_at", created) if unit.rma_id else None)


# -- propose -----------------------------------------------------------------------------------
def proposal_of(session: Session, policy: PolicyConfig, unit: Any, now: datetime,
                known: Known | None = None) -> Proposal:
    facts = facts_for(session, policy, unit, now, known)
    decision = decide(policy, facts)
    redispo = unit.state in DONE_STATES
    if unit.age_path and unit.age_trigger and not redispo and unit.age_path in policy.paths:
        decision = rerouted(policy, facts, decision, unit.age_path, unit.age_trigger)
    options = tuple(
        PathOption(p, decision.destination if p == decision.path else destination(policy, p, facts.category),
                   aged_value(policy, p, facts)[0],
                   approval_needs(policy, facts, decision.path, p, redisposition=redispo))
        for p in PATHS if p in policy.paths
    )
    return Proposal(
        lpn=unit.lpn, sku=unit.sku, description=unit.description, state=unit.state,
        kind="redisposition" if redispo else "policy", facts=facts, decision=decision,
        refund=recommend_refund(policy, facts),
        approval=approval_needs(policy, facts, decision.path, decision.path, redisposition=redispo),
        options=options, current_path=unit.disposition if redispo else None, currency=unit.currency,
        waiting=open_request(session, unit.lpn) if unit.state == "awaiting_approval" else None,
    )


def propose(store: Store, bench: Bench, lpn: str, *, policy: PolicyConfig,
            now: datetime | None = None) -> Proposal:
    """What the policy says for a graded (or already disposed) unit, and whether a lead is needed."""
    with store.read() as session:
        unit, known = unit_to_dispose(session, lpn)
        return proposal_of(session, policy, unit, now or utcnow(), known)


# -- approvals ---------------------------------------------------------------------------------
def refuse(session: Session, bench: Bench, operator: Operator | None, lpn: str, unit: Unit | None,
            exc: ApprovalRefused, path: str | None) -> DisposeOutcome:
    events.record(session, bench.station_id, "approval_refused", operator=operator and operator.badge,
                  lpn=lpn, rma_id=unit.rma_id if unit else None,
                  payload={"badge": exc.badge, "reason": exc.reason, "path": path})
    return DisposeOutcome("refused", f"Approval refused: {exc.reason}", lpn, path=path)


def check_approver(store: Store, bench: Bench, operator: Operator | None, lpn: str, badge: str, *,
                   policy: PolicyConfig, path: str | None = None) -> DisposeOutcome | Operator:
    """A badge scanned to approve: the lead, or a `refused` outcome (audited) for anyone else."""
    try:
        return lead_for(bench.operators, policy, badge)
    except ApprovalRefused as exc:
        with store.write() as session:
            return refuse(session, bench, operator, lpn, session.get(Unit, lpn), exc, path)


# -- dispose -----------------------------------------------------------------------------------
def dispose(store: Store, bench: Bench, operator: Operator, lpn: str, *, policy: PolicyConfig,
            path: str | None = None, approver: str | None = None,
            approval_reason: str | None = None, now: datetime | None = None) -> DisposeOutcome:
    """Give `lpn` its disposition: the policy's path, or `path` (an override) with a lead.

    Returns `needs_approval` (nothing written) when a lead is needed and `approver` (a badge) is
    None; `refused` (only the audit event written) when the badge is not a lead's or the reason
    code is unknown; else `disposed` / `quarantined` after the transaction committed.
    """
    if path is not None and path not in PATHS:
        raise DispositionError(f"unknown path {path!r}")
    if path is not None and path not in policy.paths:
        raise DispositionError(f"path {path!r} is not configured in this policy")
    if not operator.can("grader"):
        raise DispositionError(f"{operator.name} is a {operator.role}: a grader or a lead disposes")
    with store.write() as session:
        unit, known = unit_to_dispose(session, lpn)
        at = now or utcnow()
        prop = proposal_of(session, policy, unit, at, known)
        d, facts = prop.decision, prop.facts
        chosen = path or d.path
        redispo = prop.kind == "redisposition"
        kind = "redisposition" if redispo else ("policy" if chosen == d.path else "override")
        needs = approval_needs(policy, facts, d.path, chosen, redisposition=redispo)
        lead: Operator | None = None
        if approver is not None:
            try:
                lead = lead_for(bench.operators, policy, approver, approval_reason or "")
            except ApprovalRefused as exc:
                return refuse(session, bench, operator, lpn, unit, exc, chosen)
        elif needs:
            return DisposeOutcome("needs_approval", "A lead must approve: " + "; ".join(needs), lpn,
                                  kind=kind, path=chosen, approval=needs)
        return carry_out(session, bench, policy, operator, unit, prop, chosen, lead, approval_reason, at)


def carry_out(session: Session, bench: Bench, policy: PolicyConfig, operator: Operator, unit: Row,
              prop: Proposal, chosen: str, lead: Operator | None, approval_reason: str | None,
              at: datetime, *, decided_by: str | None = None) -> DisposeOutcome:
    """Give `unit` the path `chosen` in the caller's write transaction (the approval, if one is
    needed, already checked): the unit, a `Decision`, the events and the label job commit
    together, and an open approval request of the unit is closed with them."""
    d, facts, lpn = prop.decision, prop.facts, unit.lpn
    redispo = prop.kind == "redisposition"
    kind = "redisposition" if redispo else ("policy" if chosen == d.path else "override")
    needs = approval_needs(policy, facts, d.path, chosen, redisposition=redispo)
    if chosen == d.path:
        rule_reason, dest, value = d.reason, d.destination, d.recovery_value
    else:
        label = policy.approval_reasons.get(approval_reason or "", approval_reason or "")
        rule_reason = f"{kind} of {d.path} ({d.rule_id}): {label}"
        dest = destination(policy, chosen, facts.category)
        value = aged_value(policy, chosen, facts)[0]
    decay = d.decay if chosen == d.path else aged_value(policy, chosen, facts)[1]
    approved_by = lead.badge if lead else None
    reason_code = approval_reason if lead else None
    request = close_request(session, lpn, chosen, lead, operator, at)
    left = None
    if redispo and chosen != prop.current_path:  # a new path: the unit leaves its container
        from dockstation.containers.core import take_out

        left = take_out(session, bench.station_id, operator.badge, unit, at, f"redisposition to {chosen}")

    unit.state = "quarantined" if chosen == "quarantine" else "disposed"
    unit.disposition, unit.rule_id, unit.policy_version = chosen, d.rule_id, d.policy_version
    unit.destination, unit.recovery_value = dest, value
    unit.disposed_at = unit.updated_at = at
    if not redispo:  # the refund follows the unit's condition, not its path: recommended once
        unit.refund, unit.refund_amount = prop.refund.refund, prop.refund.amount
    rows.save(session, unit)
    rows.insert(session, Decision,
                lpn=lpn, kind=kind, path=chosen, rule_id=d.rule_id, reason=rule_reason,
                policy_version=d.policy_version, destination=dest, recovery_value=value, decided_at=at,
                decided_by=decided_by or operator.badge, approved_by=approved_by, approval_reason=reason_code)
    payload: dict[str, Any] = {
        "kind": kind, "path": chosen, "rule_id": d.rule_id, "reason": rule_reason,
        "policy_version": d.policy_version, "destination": dest,
        "recovery_value": value, "category": unit.category, "grade": facts.grade,
        "unit_price": facts.unit_price, "flags": sorted(facts.flags),
        "approved_by": approved_by, "approval_reason": reason_code,
        "policy_path": d.path, "previous_path": prop.current_path,
        # value decay by waiting (policy.toml [decay]): margin leakage by aging in the KPIs
        "decay": decay, "days_waiting": round(facts.days_waiting, 2),
    }
    if d.trigger_id is not None:  # an age trigger re-routed it (policy/triggers.py)
        payload["trigger_id"] = d.trigger_id
    if request is not None:  # it waited in the lead's queue: which request, who asked
        payload.update(request_id=request.id, requested_by=request.requested_by)
    if left is not None:
        payload["left_container"] = left
    events.record(session, bench.station_id, "unit_disposed", operator=operator.badge, lpn=lpn,
                  rma_id=unit.rma_id, at=at, payload=payload)
    if chosen == "quarantine":  # the unit's state for HQ (events.md): held, not yet gone
        events.record(session, bench.station_id, "unit_quarantined", operator=operator.badge,
                      lpn=lpn, rma_id=unit.rma_id, at=at,
                      payload={"reason": rule_reason, "rule_id": d.rule_id})
    if not redispo:
        r = prop.refund
        events.record(session, bench.station_id, "refund_recommended", operator=operator.badge,
                      lpn=lpn, rma_id=unit.rma_id, at=at,
                      payload={"refund": r.refund, "amount": r.amount, "reason": r.reason,
                               "rules": list(r.rule_ids), "unit_price": facts.unit_price,
                               "currency": unit.currency})
    session.flush()
    if not redispo and unit.rma_id:  # the RMA's refund decision, once its last unit is disposed
        from dockstation.receiving.refunds import decide_if_final

        decide_if_final(session, bench.station_id, policy, unit.rma_id, at, operator.badge)
    job_id = queue_label(session, unit, operator)
    verb = "Quarantined" if chosen == "quarantine" else "Disposed"
    return DisposeOutcome(
        "quarantined" if chosen == "quarantine" else "disposed",
        f"{verb} {lpn}: {chosen.replace('_', ' ')} → {dest}", lpn, kind=kind, path=chosen,
        rule_id=d.rule_id, reason=rule_reason, destination=dest, recovery_value=value,
        policy_version=d.policy_version, approval=needs, approved_by=approved_by,
        approval_reason=reason_code, refund=None if redispo else prop.refund, label_job_id=job_id,
    )


def open_request(session: Session, lpn: str) -> ApprovalRequest | None:
    """The unit's open approval request (at most one is open at a time)."""
    return session.exec(select(ApprovalRequest).where(ApprovalRequest.lpn == lpn, ApprovalRequest.state == "open")
                        .order_by(ApprovalRequest.id.desc()).limit(1)).first()  # type: ignore[union-attr]


_ANY_OPEN_REQUEST = "SELECT 1 FROM approval_request WHERE lpn = ? AND state = 'open' LIMIT 1"


def close_request(session: Session, lpn: str, chosen: str, lead: Operator | None, operator: Operator,
                  at: datetime) -> ApprovalRequest | None:
    """A disposition ends the unit's wait in the lead's queue: the request is `approved` (a lead,
    the path asked for), `changed` (a lead, another path) or `withdrawn` (disposed without one)."""
    # Nearly every unit never waited: ask in plain SQL first (the ORM query cost more than the rest).
    session.flush()  # a request added in this transaction counts (what autoflush did)
    if rows.first(session, _ANY_OPEN_REQUEST, (lpn,)) is None:
        return None
    request = open_request(session, lpn)
    if request is not None:
        request.state = "withdrawn" if lead is None else "approved" if chosen == request.path else "changed"
        request.resolved_at, request.resolved_by = at, (lead or operator).badge
        session.add(request)
    return request


# The one place a disposition queues its label (labels/queue.py), inside the dispose transaction:
# if queueing fails, the disposition is rolled back with it.
def queue_label(session: Session, unit: Any, operator: Operator) -> int | None:
    from labels.queue import queue_job  # here, not at the top: `policy simulate` needs no PIL

    return queue_job(session, unit.lpn, unit.station_id, operator=operator.badge)
