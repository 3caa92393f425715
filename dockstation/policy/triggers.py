"""Age-based triggers (policy.toml `[[age_triggers]]`): units that waited too long act on it.

A pass (`run_pass`) has two halves so a scan is never held up by it:

1. `due` reads (policy/trigger_due.py: one read transaction, WAL, never blocking the writer)
   the units each trigger is due for, from where the last pass got to.
2. `apply` writes in short transactions of at most `batch` units: each unit is read again
   inside the transaction (it may have moved on since), then its lane, path or escalation, the
   `age_firing` row and the `age_trigger_fired` event commit together. The row is unique per
   unit and trigger: a trigger acts once per unit, across restarts, a second pass at the same
   time (the lead screen's refresh and the bench's timer) and a clock set back or forward.

A unit mid-inspection (state `inspecting`) or open on a screen (`busy`: the LPNs the bench has
on screen) is never changed: a due trigger is `deferred` (a row, no event) and applied by the
first pass after it is free — or `lapsed` if the unit left the waiting state meanwhile.

Actions: `lane` moves the unit to another lane with that lane's SLA from now; `reroute` sets the
path the unit's decision will take (`unit.age_path`: graded or not yet graded), changes the path
a waiting approval asks for, or a hold's default path; `escalate` raises it to the lead (the lead
screen's Triggers tab lists every unit triggers moved today, and why). Plain Python over the store.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlmodel import Session, select

from dockstation import events
from dockstation.models import AgeFiring, ApprovalRequest, Hold, Unit
from dockstation.policy.age_config import WAIT_STATES, AgeTrigger
from dockstation.policy.config import PolicyConfig
from dockstation.policy.trigger_due import (  # noqa: F401 - the read half, re-exported
    Candidate,
    Due,
    db_time,
    due,
    load_cursors,
    matches,
    save_cursors,
)
from dockstation.store import Store
from dockstation.types import as_utc, utcnow

BUSY_STATES = ("inspecting",)
DONE_STATES = ("disposed", "quarantined", "voided")
BATCH = 25  # units per write transaction: a scan waits for at most one batch (~2 ms a unit)
_FIRED = text("SELECT 1 FROM age_firing WHERE lpn = :lpn AND trigger_id = :tid")


@dataclass(frozen=True)
class Fired:
    lpn: str
    trigger_id: str
    action: str
    previous: str | None
    target: str | None
    reason: str
    waited_hours: float
    status: str  # fired | deferred | lapsed


@dataclass
class PassResult:
    candidates: int = 0
    due: int = 0
    fired: list[Fired] = field(default_factory=list)
    deferred: int = 0
    lapsed: int = 0
    skipped: int = 0  # due when read, no longer by the time of writing (moved on, fired elsewhere)


# -- applying --------------------------------------------------------------------------------
def run_pass(store: Store, station_id: str, policy: PolicyConfig, *, now: datetime | None = None,
             busy: Iterable[str] = (), batch: int = BATCH) -> PassResult:
    """Evaluate every trigger and apply what is due (deferred ones first, once their unit is free).

    The bench's app runs the same halves apart (tui/age_triggers.py): `due` in a thread, each
    `apply` batch as a job of its one scan dispatcher, with the units on screen at that moment."""
    now = as_utc(now or utcnow())
    result = retry_deferred(store, station_id, policy, now=now, busy=busy)
    result.candidates, dues, cursors = due(store, policy, now, load_cursors(store))
    result.due = len(dues)
    for i in range(0, len(dues), batch):
        apply(store, station_id, policy, dues[i:i + batch], now=now, busy=busy, result=result)
    save_cursors(store, cursors)
    return result


def apply(store: Store, station_id: str, policy: PolicyConfig, dues: list[Due], *, now: datetime,
          busy: Iterable[str] = (), result: PassResult | None = None) -> PassResult:
    """Apply `dues` (from `due`) in one write transaction; each unit is read again inside it."""
    result = result if result is not None else PassResult()
    busy = frozenset(busy)
    lpns = sorted({d.unit.lpn for d in dues})
    with store.write() as session:
        # the batch's units and firings in two reads (then session.get is served from memory)
        list(session.exec(select(Unit).where(Unit.lpn.in_(lpns))))  # type: ignore[attr-defined]
        done = set(session.exec(select(AgeFiring.lpn, AgeFiring.trigger_id)  # type: ignore[call-overload]
                                .where(AgeFiring.lpn.in_(lpns))).all())  # type: ignore[attr-defined]
        for d in dues:
            if (d.unit.lpn, d.trigger.id) in done:
                result.skipped += 1  # another pass got there first
                continue
            done.add((d.unit.lpn, d.trigger.id))
            _apply_one(session, station_id, policy, d.trigger, d.unit.lpn, as_utc(now), busy, result, None,
                       checked=True)
    return result


def retry_deferred(store: Store, station_id: str, policy: PolicyConfig, *, now: datetime,
                   busy: Iterable[str] = ()) -> PassResult:
    """Apply the firings deferred while their unit was busy, now that it is free."""
    result = PassResult()
    busy = frozenset(busy)
    with store.read() as session:  # few rows: the deferred ones, by ix_age_firing_at, then their units
        rows = session.connection().execute(text(
            "SELECT f.id, f.lpn, f.trigger_id FROM age_firing f CROSS JOIN unit u ON u.lpn = f.lpn "
            f"WHERE f.status = 'deferred' AND u.state NOT IN ({', '.join(repr(b) for b in BUSY_STATES)})")).all()
    # still mid-inspection: filtered in SQL (a backlog can hold thousands); open on a screen: here
    ready = [(fid, lpn, tid) for fid, lpn, tid in rows if lpn not in busy]
    if not ready:
        return result
    triggers = {t.id: t for t in policy.age_triggers}
    with store.write() as session:
        for fid, lpn, tid in ready:
            firing = session.get(AgeFiring, fid)
            if firing is None or firing.status != "deferred":
                continue
            trig = triggers.get(tid)
            if trig is None:  # the trigger is gone from the policy in force: nothing to apply
                firing.status = "lapsed"
                session.add(firing)
                result.lapsed += 1
                continue
            _apply_one(session, station_id, policy, trig, lpn, as_utc(now), busy, result, firing)
    return result


def _apply_one(session: Session, station_id: str, policy: PolicyConfig, trig: AgeTrigger, lpn: str,
               now: datetime, busy: frozenset[str], result: PassResult, firing: AgeFiring | None, *,
               checked: bool = False) -> None:
    """One unit, one trigger, in the caller's write transaction (`checked`: the caller knows it
    has no firing row yet)."""
    ws = WAIT_STATES[trig.state]
    if firing is None and not checked and \
            session.connection().execute(_FIRED, {"lpn": lpn, "tid": trig.id}).first() is not None:
        result.skipped += 1  # another pass got there first
        return
    unit = session.get(Unit, lpn)
    if unit is None:
        result.skipped += 1
        return
    deferred = firing is not None
    gone = bool(ws.where) and session.connection().execute(  # e.g. sorted into a container since
        text(f"SELECT 1 FROM unit u WHERE u.lpn = :lpn AND ({ws.where})"), {"lpn": lpn}).first() is None
    if deferred:  # due when it was busy: applies now unless the unit has left the open states
        if (unit.state in DONE_STATES and unit.state not in ws.unit_states) or gone:
            firing.status = "lapsed"
            session.add(firing)
            result.lapsed += 1
            return
        since = as_utc(firing.due_at) - timedelta(hours=firing.waited_hours)
    else:
        if unit.state not in ws.unit_states or gone:
            result.skipped += 1
            return
        found = _since(session, unit, trig)
        if found is None or (now - found).total_seconds() < trig.after_seconds:
            result.skipped += 1  # not due after all (a clock set back, a new wait began)
            return
        since = found
    waited = round((now - since).total_seconds() / 3600, 2)
    if firing is None:
        firing = AgeFiring(lpn=lpn, trigger_id=trig.id, policy_version=policy.version, wait_state=trig.state,
                           action=trig.action, reason=trig.reason, waited_hours=waited, due_at=now)
    if unit.state in BUSY_STATES or lpn in busy:
        if not deferred:
            firing.status = "deferred"
            session.add(firing)  # written with the batch's commit; no event until it fires
            result.deferred += 1
        return
    previous, target = _act(session, policy, trig, unit, now)
    ev = events.record(session, station_id, "age_trigger_fired", lpn=lpn, rma_id=unit.rma_id, at=now, payload={
        "trigger_id": trig.id, "policy_version": policy.version, "by": f"policy {policy.version} trigger {trig.id}",
        "state": trig.state, "unit_state": unit.state, "action": trig.action, "previous": previous,
        "target": target, "reason": trig.reason, "waited_hours": waited, "since": since.isoformat(),
        "lane": unit.lane, "sla_due_at": unit.sla_due_at.isoformat() if unit.sla_due_at else None,
        "sla_hours": policy.lane(unit.lane).sla_hours if trig.action == "lane" else None,
        "category": unit.category, "unit_price": unit.unit_price, "deferred": deferred,
    })
    firing.status, firing.fired_at, firing.waited_hours, firing.event_seq = "fired", now, waited, ev.seq
    firing.previous, firing.target, firing.policy_version = previous, target, policy.version
    session.add(firing)  # flushed by the next unit's event or the commit: one INSERT
    result.fired.append(Fired(lpn, trig.id, trig.action, previous, target, trig.reason, waited, "fired"))


def _since(session: Session, unit: Unit, trig: AgeTrigger) -> datetime | None:
    """When the unit's current wait in the trigger's state began (as the SQL of `due` reads it)."""
    col = WAIT_STATES[trig.state].since
    if col.startswith("r."):
        req = session.exec(select(ApprovalRequest).where(ApprovalRequest.lpn == unit.lpn, ApprovalRequest.state == "open")
                           .order_by(ApprovalRequest.id.desc())).first()  # type: ignore[union-attr]
        return as_utc(req.requested_at) if req is not None else None
    value = getattr(unit, col.removeprefix("u."))
    return as_utc(value) if value is not None else None


def _act(session: Session, policy: PolicyConfig, trig: AgeTrigger, unit: Unit, now: datetime) -> tuple[str | None, str | None]:
    """Carry out the trigger's action on `unit`; (what it had, what it has now)."""
    if trig.action == "lane":
        assert trig.lane is not None
        previous = unit.lane
        unit.lane = trig.lane
        unit.sla_due_at = now + timedelta(hours=policy.lane(trig.lane).sla_hours)
        unit.updated_at = now
        session.add(unit)
        return previous, trig.lane
    if trig.action == "reroute":
        assert trig.path is not None
        previous = unit.age_path
        if unit.state == "awaiting_approval":  # the lead now approves the trigger's path
            req = session.exec(select(ApprovalRequest).where(ApprovalRequest.lpn == unit.lpn,
                                                             ApprovalRequest.state == "open")).first()
            if req is not None:
                previous = req.path
                req.path = trig.path
                req.why = [*req.why, f"age trigger {trig.id}: {trig.reason}"]
                session.add(req)
        elif unit.state == "held":  # the default action at the deadline; a match makes it a new unit
            hold = session.get(Hold, unit.lpn)
            if hold is not None:
                previous = hold.default_path
                hold.default_path = trig.path
                session.add(hold)
            return previous, trig.path
        unit.age_path, unit.age_trigger, unit.updated_at = trig.path, trig.id, now
        session.add(unit)
        return previous, trig.path
    return None, None  # escalate: the event and the lead screen's list are the action


# -- what the lead sees ----------------------------------------------------------------------
def moved_since(store: Store, since: datetime, *, limit: int = 200) -> tuple[int, list[AgeFiring]]:
    """Firings since `since` (the lead's "today"), newest first, and how many there are."""
    with store.read() as session:
        rows = list(session.exec(select(AgeFiring).where(AgeFiring.status == "fired", AgeFiring.fired_at >= since)
                                 .order_by(AgeFiring.fired_at.desc(), AgeFiring.id.desc())))  # type: ignore[union-attr]
    return len(rows), rows[:limit]


def count_deferred(store: Store) -> int:
    with store.read() as session:
        return int(session.connection().execute(
            text("SELECT count(*) FROM age_firing WHERE status = 'deferred'")).scalar_one())
