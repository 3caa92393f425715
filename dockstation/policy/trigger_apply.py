"""The write half of an age-trigger pass (policy/triggers.py): one batch, one write transaction.

A batch is read again inside its transaction (the units may have moved on since the pass read
them) with a handful of set reads — the units, their firings, their open approval requests and
holds — decided in Python, and written back with one `executemany` per table (Core, no ORM
object per unit): the units' lanes and paths, the requests' and holds' paths, the
`age_trigger_fired` events (seq gap-free, continuing the station's) and the `age_firing` rows.
A first pass over a backlog of tens of thousands fires at this path's speed (bench_triggers.py).

Units changed here are noted (`note_own`) so the next pass's read of "units changed since" can
skip what only a trigger changed (policy/trigger_due.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, text, update

from dockstation.models import AgeFiring, ApprovalRequest, Event, Hold, Unit
from dockstation.policy.age_config import WAIT_STATES, AgeTrigger
from dockstation.policy.config import PolicyConfig
from dockstation.types import as_utc

BUSY_STATES = ("inspecting",)
DONE_STATES = ("disposed", "quarantined", "voided")
U, R, H, F, E = (Unit.__table__, ApprovalRequest.__table__, Hold.__table__,  # type: ignore[attr-defined]
                 AgeFiring.__table__, Event.__table__)  # type: ignore[attr-defined]
_UNIT_COLS = (U.c.lpn, U.c.state, U.c.lane, U.c.rma_id, U.c.category, U.c.unit_price, U.c.age_path,
              U.c.age_trigger, U.c.received_at, U.c.inspected_at, U.c.disposed_at, U.c.sla_due_at, U.c.updated_at)


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


@dataclass(frozen=True)
class Own:
    """A unit this pass changed: its `updated_at` before and the stamp written (`action`: what)."""

    lpn: str
    before: datetime
    stamp: datetime
    action: str


@dataclass
class Item:
    """One due firing to apply: a new one (`firing` None) or one deferred earlier (its row)."""

    trigger: AgeTrigger
    lpn: str
    firing: dict[str, Any] | None = None


@dataclass
class _Writes:
    units: dict[str, dict[str, Any]]
    requests: dict[int, dict[str, Any]]
    holds: dict[str, str]
    events: list[dict[str, Any]]
    new_firings: list[dict[str, Any]]
    old_firings: list[dict[str, Any]]


def apply_items(conn: Connection, station_id: str, policy: PolicyConfig, items: list[Item], now: datetime,
                busy: frozenset[str], result: PassResult) -> list[Own]:
    """Apply `items` in the caller's write transaction; counts and firings go to `result`; the
    units changed, for the caller to note once the transaction committed."""
    own: list[Own] = []
    if not items:
        return own
    lpns = sorted({i.lpn for i in items})
    units = {r.lpn: dict(r._mapping) for r in conn.execute(select(*_UNIT_COLS).where(U.c.lpn.in_(lpns)))}
    done = {(r.lpn, r.trigger_id) for r in conn.execute(
        select(F.c.lpn, F.c.trigger_id).where(F.c.lpn.in_([i.lpn for i in items if i.firing is None])))}
    asking = [lpn for lpn, u in units.items() if u["state"] == "awaiting_approval"]
    requests: dict[str, dict[str, Any]] = {}
    for r in conn.execute(select(R.c.id, R.c.lpn, R.c.path, R.c.why, R.c.requested_at)
                          .where(R.c.lpn.in_(asking), R.c.state == "open").order_by(R.c.id)):
        requests[r.lpn] = dict(r._mapping)  # the latest open one (as the read half's join)
    holds = {r.lpn: r.default_path for r in conn.execute(
        select(H.c.lpn, H.c.default_path).where(H.c.lpn.in_([lpn for lpn, u in units.items() if u["state"] == "held"])))}
    still: dict[str, set[str]] = {}  # e.g. "not sorted into a container yet", per condition
    for where in {WAIT_STATES[i.trigger.state].where for i in items} - {""}:
        still[where] = {r[0] for r in conn.execute(
            text(f"SELECT u.lpn FROM unit u WHERE u.lpn IN (SELECT value FROM json_each(:lpns)) AND ({where})"),
            {"lpns": _json_list(lpns)})}
    w = _Writes({}, {}, {}, [], [], [])
    seq = int(conn.execute(select(func.max(E.c.seq)).where(E.c.station_id == station_id)).scalar() or 0)
    for item in items:
        trig, lpn, firing = item.trigger, item.lpn, item.firing
        ws = WAIT_STATES[trig.state]
        if firing is None:
            if (lpn, trig.id) in done:
                result.skipped += 1  # another pass got there first
                continue
            done.add((lpn, trig.id))
        u = units.get(lpn)
        if u is None:
            result.skipped += 1
            continue
        gone = bool(ws.where) and lpn not in still[ws.where]
        if firing is not None:  # due when it was busy: applies now unless the unit left the open states
            if (u["state"] in DONE_STATES and u["state"] not in ws.unit_states) or gone:
                w.old_firings.append({**firing, "status": "lapsed"})
                result.lapsed += 1
                continue
            since = as_utc(firing["due_at"]) - timedelta(hours=firing["waited_hours"])
        else:
            if u["state"] not in ws.unit_states or gone:
                result.skipped += 1
                continue
            found = _since(u, requests.get(lpn), trig)
            if found is None or (now - found).total_seconds() < trig.after_seconds:
                result.skipped += 1  # not due after all (a clock set back, a new wait began)
                continue
            since = found
        waited = round((now - since).total_seconds() / 3600, 2)
        if u["state"] in BUSY_STATES or lpn in busy:
            if firing is None:  # recorded, no event until it fires
                w.new_firings.append(_firing_row(lpn, trig, policy, waited, now, "deferred", None, None, None, None))
                result.deferred += 1
            continue
        before = u["updated_at"]
        previous, target = _act(u, requests.get(lpn), holds, policy, trig, now, w)
        if u["updated_at"] is not before:
            own.append(Own(lpn, as_utc(before), now, trig.action))
        seq += 1
        w.events.append({
            "station_id": station_id, "seq": seq, "kind": "age_trigger_fired", "at": now, "operator": None,
            "lpn": lpn, "rma_id": u["rma_id"], "payload": {
                "trigger_id": trig.id, "policy_version": policy.version,
                "by": f"policy {policy.version} trigger {trig.id}", "state": trig.state, "unit_state": u["state"],
                "action": trig.action, "previous": previous, "target": target, "reason": trig.reason,
                "waited_hours": waited, "since": since.isoformat(), "lane": u["lane"],
                "sla_due_at": as_utc(u["sla_due_at"]).isoformat() if u["sla_due_at"] else None,
                "sla_hours": policy.lane(u["lane"]).sla_hours if trig.action == "lane" else None,
                "category": u["category"], "unit_price": u["unit_price"], "deferred": firing is not None}})
        if firing is None:
            w.new_firings.append(_firing_row(lpn, trig, policy, waited, now, "fired", now, seq, previous, target))
        else:
            w.old_firings.append({**firing, "status": "fired", "fired_at": now, "waited_hours": waited,
                                  "event_seq": seq, "previous": previous, "target": target,
                                  "policy_version": policy.version})
        result.fired.append(Fired(lpn, trig.id, trig.action, previous, target, trig.reason, waited, "fired"))
    _write(conn, w)
    return own


def _json_list(values: list[str]) -> str:
    return json.dumps(values)


def _firing_row(lpn: str, trig: AgeTrigger, policy: PolicyConfig, waited: float, now: datetime, status: str,
                fired_at: datetime | None, seq: int | None, previous: str | None, target: str | None) -> dict[str, Any]:
    return {"lpn": lpn, "trigger_id": trig.id, "policy_version": policy.version, "wait_state": trig.state,
            "action": trig.action, "target": target, "previous": previous, "reason": trig.reason,
            "waited_hours": waited, "status": status, "due_at": now, "fired_at": fired_at, "event_seq": seq}


def _since(u: dict[str, Any], request: dict[str, Any] | None, trig: AgeTrigger) -> datetime | None:
    """When the unit's current wait in the trigger's state began (as the read half's SQL reads it)."""
    col = WAIT_STATES[trig.state].since
    if col.startswith("r."):
        return as_utc(request["requested_at"]) if request is not None else None
    value = u[col.removeprefix("u.")]
    return as_utc(value) if value is not None else None


def _act(u: dict[str, Any], request: dict[str, Any] | None, holds: dict[str, str], policy: PolicyConfig,
         trig: AgeTrigger, now: datetime, w: _Writes) -> tuple[str | None, str | None]:
    """Carry out the trigger's action on the unit (its dict, then the writes); (had, has now)."""
    if trig.action == "lane":
        assert trig.lane is not None
        previous = u["lane"]
        u["lane"], u["updated_at"] = trig.lane, now
        u["sla_due_at"] = now + timedelta(hours=policy.lane(trig.lane).sla_hours)
        w.units[u["lpn"]] = u
        return previous, trig.lane
    if trig.action == "reroute":
        assert trig.path is not None
        previous = u["age_path"]
        if u["state"] == "awaiting_approval":  # the lead now approves the trigger's path
            if request is not None:
                previous = request["path"]
                request["path"] = trig.path
                request["why"] = [*request["why"], f"age trigger {trig.id}: {trig.reason}"]
                w.requests[request["id"]] = request
        elif u["state"] == "held":  # the default action at the deadline; a match makes it a new unit
            if u["lpn"] in holds:
                previous = holds[u["lpn"]]
                holds[u["lpn"]] = w.holds[u["lpn"]] = trig.path
            return previous, trig.path
        u["age_path"], u["age_trigger"], u["updated_at"] = trig.path, trig.id, now
        w.units[u["lpn"]] = u
        return previous, trig.path
    return None, None  # escalate: the event and the lead screen's list are the action


def _write(conn: Connection, w: _Writes) -> None:
    if w.units:
        conn.execute(update(U).where(U.c.lpn == bindparam("k_lpn")).values(
            lane=bindparam("lane"), sla_due_at=bindparam("sla_due_at"), age_path=bindparam("age_path"),
            age_trigger=bindparam("age_trigger"), updated_at=bindparam("updated_at")),
            [{"k_lpn": u["lpn"], "lane": u["lane"], "sla_due_at": u["sla_due_at"], "age_path": u["age_path"],
              "age_trigger": u["age_trigger"], "updated_at": u["updated_at"]} for u in w.units.values()])
    if w.requests:
        conn.execute(update(R).where(R.c.id == bindparam("k_id")).values(path=bindparam("path"), why=bindparam("why")),
                     [{"k_id": k, "path": r["path"], "why": r["why"]} for k, r in w.requests.items()])
    if w.holds:
        conn.execute(update(H).where(H.c.lpn == bindparam("k_lpn")).values(default_path=bindparam("default_path")),
                     [{"k_lpn": k, "default_path": p} for k, p in w.holds.items()])
    if w.events:
        conn.execute(insert(E), w.events)
    if w.new_firings:
        conn.execute(insert(F), w.new_firings)
    if w.old_firings:
        conn.execute(update(F).where(F.c.id == bindparam("k_id")).values(
            status=bindparam("status"), fired_at=bindparam("fired_at"), waited_hours=bindparam("waited_hours"),
            event_seq=bindparam("event_seq"), previous=bindparam("previous"), target=bindparam("target"),
            policy_version=bindparam("policy_version")),
            [{"k_id": f["id"], **{k: f[k] for k in ("status", "fired_at", "waited_hours", "event_seq", "previous",
                                                     "target", "policy_version")}} for f in w.old_firings])
