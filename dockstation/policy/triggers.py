"""Age-based triggers (policy.toml `[[age_triggers]]`): units that waited too long act on it.

A pass (`run_pass`) has two halves so a scan is never held up by it:

1. `due` reads (one short read transaction, WAL: it never blocks the writer): per trigger, the
   units in its waiting state whose wait began before `now - after`, that match the filter's
   indexed parts (state, time, category, lane) in SQL, and that have no `age_firing` row for the
   trigger yet; the rest of the filter is checked here. Units that fired are skipped by an index
   probe (`ix_age_firing_unit`), so a steady backlog costs a range scan, not a decision per unit.
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

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import text
from sqlmodel import Session, select

from dockstation import events
from dockstation.models import AgeFiring, ApprovalRequest, Hold, Unit
from dockstation.policy.age_config import WAIT_STATES, AgeTrigger
from dockstation.policy.config import PolicyConfig
from dockstation.store import Store
from dockstation.types import as_utc, utcnow

EVENT = "age_trigger_fired"
BUSY_STATES = ("inspecting",)
DONE_STATES = ("disposed", "quarantined", "voided")
BATCH = 25  # units per write transaction: a scan waits for at most one batch (~2 ms a unit)
_FIRED = text("SELECT 1 FROM age_firing WHERE lpn = :lpn AND trigger_id = :tid")
_OPEN = "state NOT IN ('disposed', 'voided')"  # the partial indexes' term, as written there


def db_time(at: datetime) -> str:
    """A time as SQLite stores UTCDateTime (naive UTC text, microseconds always)."""
    return as_utc(at).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def _parse(value: object) -> datetime:
    if isinstance(value, datetime):
        return as_utc(value)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


@dataclass(frozen=True)
class Candidate:
    """What a trigger's filter looks at, for one unit still waiting."""

    lpn: str
    state: str
    category: str
    lane: str
    unit_price: Decimal
    sku: str
    grade: str | None
    flags: frozenset[str]
    path: str | None  # pending (approval asked for, hold default, re-routed) or None: not known yet
    reason_code: str
    since: datetime


@dataclass(frozen=True)
class Due:
    trigger: AgeTrigger
    unit: Candidate
    waited_hours: float


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


# -- matching --------------------------------------------------------------------------------
def matches(trigger: AgeTrigger, c: Candidate, condition_flags: frozenset[str]) -> bool:
    """The filter of `trigger` on `c`; every condition given must hold (a list: any of)."""
    w = trigger.when
    if w.category and c.category not in w.category:
        return False
    if w.lane and c.lane not in w.lane:
        return False
    if w.path and c.path not in w.path:
        return False
    if w.grade and c.grade not in w.grade:
        return False
    if w.sku_prefix and not c.sku.startswith(tuple(w.sku_prefix)):
        return False
    if w.reason_code and c.reason_code not in w.reason_code:
        return False
    if w.flagged is not None and bool(c.flags - condition_flags) is not w.flagged:
        return False
    if w.flags_any and c.flags.isdisjoint(w.flags_any):
        return False
    if w.flags_none and not c.flags.isdisjoint(w.flags_none):
        return False
    if w.value_at_least is not None and c.unit_price < w.value_at_least:
        return False
    return not (w.value_below is not None and c.unit_price >= w.value_below)


def _sql(trigger: AgeTrigger, how: str) -> str:
    """The candidates of `trigger`: `how` is `full` (every wait that began before the cutoff),
    `window` (began in [previous cutoff, cutoff): the clock moved on) or `changed` (units changed
    since the last pass — a hold matched, a lane moved — whose wait began before the cutoff)."""
    ws = WAIT_STATES[trigger.state]
    states = ", ".join(f"'{s}'" for s in ws.unit_states)
    join = ("JOIN approval_request r ON r.lpn = u.lpn AND r.state = 'open'"
            if ws.since.startswith("r.") else "")
    hold = "LEFT JOIN hold h ON h.lpn = u.lpn" if trigger.state == "held" else ""
    pending = "r.path" if join else "h.default_path" if hold else "NULL"
    when = {"full": f"{ws.since} < ?", "window": f"{ws.since} >= ? AND {ws.since} < ?",
            "changed": f"u.updated_at >= ? AND {ws.since} < ?"}[how]
    extra = ""
    # the filter's indexed parts in SQL: values come from a validated policy, bound as parameters
    if trigger.when.category:
        extra += f" AND u.category IN ({', '.join('?' * len(trigger.when.category))})"
    if trigger.when.lane:
        extra += f" AND u.lane IN ({', '.join('?' * len(trigger.when.lane))})"
    return f"""
SELECT u.lpn, u.state, u.category, u.lane, u.unit_price, u.sku, u.grade, u.risk_flags,
       coalesce(u.age_path, {pending}), {ws.since}, l.reason_code
FROM unit u {join} {hold}
LEFT JOIN rma_line l ON l.rma_id = u.rma_id AND l.line_no = u.line_no
WHERE u.{_OPEN} AND u.state IN ({states}) AND {when}{extra}
  AND NOT EXISTS (SELECT 1 FROM age_firing f WHERE f.lpn = u.lpn AND f.trigger_id = ?)
"""


# -- where the last pass got to ------------------------------------------------------------------
# A unit becomes due when the clock passes the start of its wait + `after`, so a pass reads only
# the waits that began since the last pass's cutoff, plus the units changed since (updated_at):
# facts a filter looks at change only with the unit (a lane moved, a hold matched). The whole
# range is read again when a trigger is new or changed, when the clock went back, and every
# FULL_EVERY as a safety net. Cursors are saved after the pass applied what it found: a pass cut
# off half-way is read again. They are only a shortcut — what fired is in age_firing, which every
# read checks — so they live in memory: a restarted bench starts with one full read, and no pass
# writes to the store unless something fired.
FULL_EVERY = timedelta(hours=1)
MARGIN = timedelta(seconds=5)  # a transaction that stamped updated_at just before our read began


def signature(trigger: AgeTrigger) -> str:
    """What decides which units a trigger is due for (not its action or its words)."""
    return json.dumps([trigger.state, trigger.after_seconds, trigger.when.model_dump(mode="json")], sort_keys=True)


_CURSORS: dict[str, dict[str, dict[str, str]]] = {}  # per store file: kept in memory (see above)


def load_cursors(store: Store) -> dict[str, dict[str, str]]:
    return dict(_CURSORS.get(str(store.path), {}))


def save_cursors(store: Store, cursors: dict[str, dict[str, str]]) -> None:
    _CURSORS[str(store.path)] = dict(cursors)


def _plan(trigger: AgeTrigger, cursor: dict[str, str] | None, now: datetime, started: datetime) -> tuple[str, dict[str, str]]:
    cutoff = db_time(now - timedelta(seconds=trigger.after_seconds))
    sig = signature(trigger)
    new = {"sig": sig, "cutoff": cutoff, "full_at": (cursor or {}).get("full_at", ""), "changed": db_time(started - MARGIN)}
    full = (cursor is None or cursor.get("sig") != sig or cutoff < cursor.get("cutoff", "")
            or not cursor.get("full_at") or _parse(cursor["full_at"]) + FULL_EVERY < started)
    if full:
        new["full_at"] = db_time(started)
    return ("full" if full else "incremental"), new


def due(store: Store, policy: PolicyConfig, now: datetime,
        cursors: dict[str, dict[str, str]] | None = None) -> tuple[int, list[Due], dict[str, dict[str, str]]]:
    """(candidates read, the units each trigger is due for now, the cursors to save once they are
    applied), in one read transaction. Without `cursors`, every trigger reads its whole range."""
    out: list[Due] = []
    seen = 0
    new_cursors: dict[str, dict[str, str]] = {}
    if not policy.age_triggers:
        return 0, out, new_cursors
    cond = frozenset(policy.condition_flags)
    flag_sets: dict[str, frozenset[str]] = {"[]": frozenset()}
    # updated_at is stamped by the app's clock: the earlier of it and the real one is safe for both
    started = min(as_utc(now), datetime.now(UTC))
    with store.read_engine.connect() as conn, conn.begin():
        for trig in policy.age_triggers:
            old = (cursors or {}).get(trig.id) if cursors is not None else None
            how, new_cursors[trig.id] = _plan(trig, old, now, started)
            cutoff = new_cursors[trig.id]["cutoff"]
            filt = (*trig.when.category, *trig.when.lane, trig.id)
            if how == "full":
                queries = [(_sql(trig, "full"), (cutoff, *filt))]
            else:
                assert old is not None
                queries = [(_sql(trig, "window"), (old["cutoff"], cutoff, *filt)),
                           (_sql(trig, "changed"), (old["changed"], cutoff, *filt))]
            lpns: set[str] = set()
            for sql, params in queries:
                for row in conn.exec_driver_sql(sql, params):
                    seen += 1
                    lpn, state, cat, lane, price, sku, grade, flags, path, since, reason = row
                    if lpn in lpns:
                        continue
                    lpns.add(lpn)
                    fs = flag_sets.get(flags or "[]")
                    if fs is None:
                        fs = flag_sets[flags] = frozenset(json.loads(flags))
                    c = Candidate(lpn, state, cat or "", lane or "", Decimal(price or 0), sku or "", grade, fs,
                                  path, reason or "", _parse(since))
                    if matches(trig, c, cond):
                        out.append(Due(trig, c, (now - c.since).total_seconds() / 3600))
    return seen, out, new_cursors


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
    with store.write() as session:
        for d in dues:
            _apply_one(session, station_id, policy, d.trigger, d.unit.lpn, as_utc(now), busy, result, None)
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
               now: datetime, busy: frozenset[str], result: PassResult, firing: AgeFiring | None) -> None:
    """One unit, one trigger, in the caller's write transaction."""
    ws = WAIT_STATES[trig.state]
    if firing is None and session.connection().execute(_FIRED, {"lpn": lpn, "tid": trig.id}).first() is not None:
        result.skipped += 1  # another pass got there first
        return
    unit = session.get(Unit, lpn)
    if unit is None:
        result.skipped += 1
        return
    deferred = firing is not None
    if deferred:  # due when it was busy: applies now unless the unit has left the open states
        if unit.state in DONE_STATES:
            firing.status = "lapsed"
            session.add(firing)
            result.lapsed += 1
            return
        since = as_utc(firing.due_at) - timedelta(hours=firing.waited_hours)
    else:
        if unit.state not in ws.unit_states:
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
