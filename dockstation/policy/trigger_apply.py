"""The write half of an age-trigger pass (policy/triggers.py): one batch, one write transaction.

A batch is read again inside its transaction (the units may have moved on since the pass read
them) with a handful of set reads — the units, their firings, their open approval requests and
holds — decided in Python, and written back with one `executemany` per table (plain SQL, no ORM
object per unit): the units' lanes and paths, the requests' and holds' paths, the
`age_trigger_fired` events (events.Batch: formatted as events.record does, seq gap-free, continuing
the station's) and the `age_firing` rows.
A first pass over a backlog of tens of thousands fires at this path's speed (bench_triggers.py).

Units changed here are noted (`note_own`) so the next pass's read of "units changed since" can
skip what only a trigger changed (policy/trigger_due.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from dockstation.events import Batch
from dockstation.policy.age_config import WAIT_STATES, AgeTrigger
from dockstation.policy.config import PolicyConfig
from dockstation.policy.trigger_due import db_time, parse_db_time
from dockstation.types import dumps

BUSY_STATES = ("inspecting",)
DONE_STATES = ("disposed", "quarantined", "voided")
# Plain SQL on the transaction's connection, times as SQLite stores them (naive UTC text, as
# db_time writes them): SQLAlchemy's per-value type processing was most of a batch's Python time.
_IN = "IN (SELECT value FROM json_each(?))"
_COLS = ("lpn", "state", "lane", "rma_id", "category", "unit_price", "age_path", "age_trigger", "received_at",
         "inspected_at", "disposed_at", "sla_due_at", "updated_at")
_UNITS = f"SELECT {', '.join(_COLS)} FROM unit WHERE lpn {_IN}"
_FIRING_COLS = ("lpn", "trigger_id", "policy_version", "wait_state", "action", "target", "previous", "reason",
                "waited_hours", "status", "due_at", "fired_at", "event_seq")


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
    """A unit this pass changed: its `updated_at` before and the stamp written (db_time text)."""

    lpn: str
    before: str
    stamp: str
    actions: frozenset[str]  # lane, reroute: what it changed


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
    events: Batch  # the age_trigger_fired events, formatted by events.py as `record` does
    new_firings: list[tuple[Any, ...]]
    old_firings: list[dict[str, Any]]  # deferred ones now fired
    lapsed: list[int]  # deferred ones whose unit left the waiting state


def apply_items(conn: Connection, station_id: str, policy: PolicyConfig, items: list[Item], now: datetime,
                busy: frozenset[str], result: PassResult) -> list[Own]:
    """Apply `items` in the caller's write transaction; counts and firings go to `result`; the
    units changed, for the caller to note once the transaction committed."""
    changed: dict[str, tuple[str, set[str]]] = {}  # lpn -> (updated_at before the batch, actions)
    if not items:
        return []
    lpns = sorted({i.lpn for i in items})
    run = conn.exec_driver_sql
    units = {r[0]: dict(zip(_COLS, r, strict=True)) for r in run(_UNITS, (json.dumps(lpns),))}
    done = {(lpn, tid) for lpn, tid in run(f"SELECT lpn, trigger_id FROM age_firing WHERE lpn {_IN}",
                                           (json.dumps([i.lpn for i in items if i.firing is None]),))}
    asking = [lpn for lpn, u in units.items() if u["state"] == "awaiting_approval"]
    requests: dict[str, dict[str, Any]] = {}
    for rid, lpn, path, why, at in run("SELECT id, lpn, path, why, requested_at FROM approval_request "
                                       f"WHERE state = 'open' AND lpn {_IN} ORDER BY id", (json.dumps(asking),)):
        requests[lpn] = {"id": rid, "path": path, "why": json.loads(why or "[]"), "requested_at": at}  # the latest
    holds = dict(run(f"SELECT lpn, default_path FROM hold WHERE lpn {_IN}",
                     (json.dumps([lpn for lpn, u in units.items() if u["state"] == "held"]),)).all())
    still: dict[str, set[str]] = {}  # e.g. "not sorted into a container yet", per condition
    for where in {WAIT_STATES[i.trigger.state].where for i in items} - {""}:
        still[where] = {r[0] for r in run(f"SELECT u.lpn FROM unit u WHERE u.lpn {_IN} AND ({where})",
                                          (json.dumps(lpns),))}
    stamp = db_time(now)
    w = _Writes({}, {}, {}, Batch(conn, station_id), [], [], [])
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
                w.lapsed.append(firing["id"])
                result.lapsed += 1
                continue
            since = parse_db_time(firing["due_at"]) - timedelta(hours=firing["waited_hours"])
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
                w.new_firings.append(_firing_row(lpn, trig, policy, waited, stamp, "deferred", None, None, None, None))
                result.deferred += 1
            continue
        before = u["updated_at"]
        previous, target, touched = _act(u, requests.get(lpn), holds, policy, trig, now, w)
        if touched:  # the unit's row changed (updated_at stamped): noted for the next pass's read
            changed.setdefault(lpn, (before, set()))[1].add(trig.action)
        seq = w.events.add("age_trigger_fired", at=now, lpn=lpn, rma_id=u["rma_id"], payload={
                "trigger_id": trig.id, "policy_version": policy.version,
                "by": f"policy {policy.version} trigger {trig.id}", "state": trig.state, "unit_state": u["state"],
                "action": trig.action, "previous": previous, "target": target, "reason": trig.reason,
                "waited_hours": waited, "since": since.isoformat(), "lane": u["lane"],
                "sla_due_at": parse_db_time(u["sla_due_at"]).isoformat() if u["sla_due_at"] else None,
                "sla_hours": policy.lane(u["lane"]).sla_hours if trig.action == "lane" else None,
                "category": u["category"], "unit_price": Decimal(u["unit_price"] or 0), "deferred": firing is not None})
        if firing is None:
            w.new_firings.append(_firing_row(lpn, trig, policy, waited, stamp, "fired", stamp, seq, previous, target))
        else:
            w.old_firings.append({**firing, "status": "fired", "fired_at": stamp, "waited_hours": waited,
                                  "event_seq": seq, "previous": previous, "target": target,
                                  "policy_version": policy.version})
        result.fired.append(Fired(lpn, trig.id, trig.action, previous, target, trig.reason, waited, "fired"))
    _write(conn, w)
    return [Own(lpn, before, stamp, frozenset(actions)) for lpn, (before, actions) in changed.items()]


def _firing_row(lpn: str, trig: AgeTrigger, policy: PolicyConfig, waited: float, now: str, status: str,
                fired_at: str | None, seq: int | None, previous: str | None, target: str | None) -> tuple[Any, ...]:
    return (lpn, trig.id, policy.version, trig.state, trig.action, target, previous, trig.reason, waited, status,
            now, fired_at, seq)


def _since(u: dict[str, Any], request: dict[str, Any] | None, trig: AgeTrigger) -> datetime | None:
    """When the unit's current wait in the trigger's state began (as the read half's SQL reads it)."""
    col = WAIT_STATES[trig.state].since
    if col.startswith("r."):
        return parse_db_time(request["requested_at"]) if request is not None else None
    value = u[col.removeprefix("u.")]
    return parse_db_time(value) if value is not None else None


def _act(u: dict[str, Any], request: dict[str, Any] | None, holds: dict[str, str], policy: PolicyConfig,
         trig: AgeTrigger, now: datetime, w: _Writes) -> tuple[str | None, str | None, bool]:
    """Carry out the trigger's action on the unit (its dict, then the writes); (had, has now,
    whether the unit's row changed)."""
    if trig.action == "lane":
        assert trig.lane is not None
        previous = u["lane"]
        u["lane"], u["updated_at"] = trig.lane, db_time(now)
        u["sla_due_at"] = db_time(now + timedelta(hours=policy.lane(trig.lane).sla_hours))
        w.units[u["lpn"]] = u
        return previous, trig.lane, True
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
            return previous, trig.path, False
        u["age_path"], u["age_trigger"], u["updated_at"] = trig.path, trig.id, db_time(now)
        w.units[u["lpn"]] = u
        return previous, trig.path, True
    return None, None, False  # escalate: the event and the lead screen's list are the action


def _write(conn: Connection, w: _Writes) -> None:
    run = conn.exec_driver_sql
    if w.units:
        run("UPDATE unit SET lane = ?, sla_due_at = ?, age_path = ?, age_trigger = ?, updated_at = ? WHERE lpn = ?",
            [(u["lane"], u["sla_due_at"], u["age_path"], u["age_trigger"], u["updated_at"], u["lpn"])
             for u in w.units.values()])
    if w.requests:
        run("UPDATE approval_request SET path = ?, why = ? WHERE id = ?",
            [(r["path"], dumps(r["why"]), k) for k, r in w.requests.items()])
    if w.holds:
        run("UPDATE hold SET default_path = ? WHERE lpn = ?", [(p, k) for k, p in w.holds.items()])
    w.events.write()
    if w.new_firings:
        run(f"INSERT INTO age_firing ({', '.join(_FIRING_COLS)}) VALUES ({', '.join('?' * len(_FIRING_COLS))})",
            w.new_firings)
    if w.old_firings:
        run("UPDATE age_firing SET status = ?, fired_at = ?, waited_hours = ?, event_seq = ?, previous = ?, "
            "target = ?, policy_version = ? WHERE id = ?",
            [(f["status"], f["fired_at"], f["waited_hours"], f["event_seq"], f["previous"], f["target"],
              f["policy_version"], f["id"]) for f in w.old_firings])
    if w.lapsed:
        run("UPDATE age_firing SET status = 'lapsed' WHERE id = ?", [(i,) for i in w.lapsed])
