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

import json
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import text
from sqlmodel import select

from dockstation.models import AgeFiring
from dockstation.policy.config import PolicyConfig
from dockstation.policy.trigger_apply import (  # noqa: F401 - the write half, re-exported
    BUSY_STATES,
    DONE_STATES,
    Fired,
    Item,
    Own,
    PassResult,
    apply_items,
)
from dockstation.policy.trigger_due import (  # noqa: F401 - the read half, re-exported
    Candidate,
    Due,
    cursors_stale,
    db_time,
    due,
    load_cursors,
    matches,
    note_own,
    parse_db_time,
    save_cursors,
    write_cursors,
)
from dockstation.store import Store
from dockstation.types import as_utc, utcnow

# Units per write transaction: a scan waits for at most one batch. Written in bulk (one
# executemany per table, policy/trigger_apply.py) a unit costs ~0.1 ms, so a batch is a few ms
# plus its commit (bench/bench_triggers.py).
BATCH = 100
# The deferred firings whose unit is not mid-inspection: a unit's state is looked up in the
# inspecting units' index (its WHERE is the index's term), not in the unit's row.
assert BUSY_STATES == ("inspecting",)
_DEFERRED = ("SELECT f.id, f.lpn, f.trigger_id, f.due_at, f.waited_hours FROM age_firing f "
             "INDEXED BY ix_age_firing_deferred WHERE f.status = 'deferred' AND NOT EXISTS "
             "(SELECT 1 FROM unit u INDEXED BY ix_unit_inspecting WHERE u.lpn = f.lpn AND u.state = 'inspecting')")


# -- applying --------------------------------------------------------------------------------
def run_pass(store: Store, station_id: str, policy: PolicyConfig, *, now: datetime | None = None,
             busy: Iterable[str] = (), batch: int = BATCH) -> PassResult:
    """Evaluate every trigger and apply what is due (deferred ones first, once their unit is free).

    The bench's app runs the same halves apart (tui/age_triggers.py): `due` in a thread, each
    `apply` batch as a job of its one scan dispatcher, with the units on screen at that moment."""
    now = as_utc(now or utcnow())
    result = retry_deferred(store, station_id, policy, now=now, busy=busy, batch=batch)
    result.candidates, dues, cursors = due(store, policy, now, load_cursors(store))
    result.due = len(dues)
    chunks = [dues[i:i + batch] for i in range(0, len(dues), batch)] or [[]]
    for k, chunk in enumerate(chunks):  # the last batch keeps the cursors (store v14)
        apply(store, station_id, policy, chunk, now=now, busy=busy, result=result,
              cursors=cursors if k == len(chunks) - 1 else None)
    return result


def apply(store: Store, station_id: str, policy: PolicyConfig, dues: list[Due], *, now: datetime,
          busy: Iterable[str] = (), result: PassResult | None = None,
          cursors: dict[str, dict[str, str]] | None = None) -> PassResult:
    """Apply `dues` (from `due`) in one write transaction; each unit is read again inside it.
    `cursors` (the pass's last batch, possibly empty): where the pass got to, saved — in the store
    in the same transaction when something is applied or its copy there is stale."""
    result = result if result is not None else PassResult()
    items = [Item(d.trigger, d.unit.lpn) for d in dues]
    persist = cursors is not None and (bool(items) or cursors_stale(store, cursors))
    own: list[Own] = []
    if items or persist:
        with store.write() as session:
            conn = session.connection()
            own = apply_items(conn, station_id, policy, items, as_utc(now), frozenset(busy), result)
            if persist:
                write_cursors(conn, cursors)  # type: ignore[arg-type]
    note_own(store, ((o.lpn, o.before, o.stamp, o.actions) for o in own))
    if cursors is not None:
        save_cursors(store, cursors, persisted=persist)
    return result


def retry_deferred(store: Store, station_id: str, policy: PolicyConfig, *, now: datetime,
                   busy: Iterable[str] = (), batch: int = BATCH) -> PassResult:
    """Apply the firings deferred while their unit was busy, now that it is free."""
    result = PassResult()
    busy = frozenset(busy)
    with store.read() as session:  # two small partial indexes (store v14): no row read
        rows = session.connection().execute(text(_DEFERRED)).all()
    # still mid-inspection: filtered in SQL (a backlog can hold thousands); open on a screen: here
    ready = [r for r in rows if r.lpn not in busy]
    if not ready:
        return result
    triggers = {t.id: t for t in policy.age_triggers}
    gone = [r.id for r in ready if r.trigger_id not in triggers]  # not in the policy in force: nothing to apply
    items = [Item(triggers[r.trigger_id], r.lpn, {"id": r.id, "due_at": parse_db_time(r.due_at), "waited_hours": r.waited_hours})
             for r in ready if r.trigger_id in triggers]
    for i in range(0, max(len(items), 1), batch):
        with store.write() as session:
            conn = session.connection()
            if i == 0 and gone:
                result.lapsed += conn.exec_driver_sql(
                    "UPDATE age_firing SET status = 'lapsed' WHERE status = 'deferred' AND id IN "
                    "(SELECT value FROM json_each(?))", (json.dumps(gone),)).rowcount
            # a firing applied meanwhile by another pass is no longer deferred: left out
            still = {fid for (fid,) in conn.exec_driver_sql(
                "SELECT id FROM age_firing WHERE status = 'deferred' AND id IN (SELECT value FROM json_each(?))",
                (json.dumps([it.firing["id"] for it in items[i:i + batch]]),))}  # type: ignore[index]
            chunk = [it for it in items[i:i + batch] if it.firing["id"] in still]  # type: ignore[index]
            own = apply_items(conn, station_id, policy, chunk, as_utc(now), busy, result)
        note_own(store, ((o.lpn, o.before, o.stamp, o.actions) for o in own))
    return result


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
