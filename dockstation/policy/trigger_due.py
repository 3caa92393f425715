"""The read half of an age-trigger pass (policy/triggers.py): which units each trigger is due for.

Per trigger, one read transaction (WAL: it never blocks the writer) finds the units in its waiting
state whose wait began before `now - after`, that match the filter's indexed parts (state, time,
category, lane) in SQL and have no `age_firing` row for the trigger yet; the rest of the filter
is checked here. Units a trigger fired for are skipped by an index probe (`ix_age_firing_unit`,
on the LPN the covering `ix_unit_open_*` indexes carry), so they cost no row read.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from dockstation.policy.age_config import WAIT_STATES, AgeTrigger
from dockstation.policy.config import PolicyConfig
from dockstation.store import Store
from dockstation.types import as_utc

_OPEN = "state NOT IN ('disposed', 'voided')"  # the partial indexes' term, as written there


def db_time(at: datetime) -> str:
    """A time as SQLite stores UTCDateTime (naive UTC text, microseconds always)."""
    return as_utc(at).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def parse_db_time(value: object) -> datetime:
    """A time as SQLite gives it back (naive UTC text) as an aware UTC datetime."""
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
    `window` (began in [previous cutoff, cutoff): the clock moved on), `changed` (units changed
    since the last pass — a hold matched, a lane moved — whose wait began before the cutoff) or
    `lpns` (the same, for the units given by LPN: `_changed` read them)."""
    ws = WAIT_STATES[trigger.state]
    states = ", ".join(f"'{s}'" for s in ws.unit_states)
    asked = ws.since.startswith("r.")
    # Which index drives the query is chosen here, not left to the planner (a bench never runs
    # ANALYZE): the units changed since the last pass by `ix_unit_open_updated`, a time range of
    # waiting units by the wait's own index (`ix_unit_open_*`, or the open approval requests').
    if how == "lpns":  # the units changed since the last pass, by their LPN (few): the primary key
        source = "unit u INDEXED BY sqlite_autoindex_unit_1"
        source += (" CROSS JOIN approval_request r INDEXED BY ix_approval_request_lpn "
                   "ON r.lpn = u.lpn AND r.state = 'open'") if asked else ""
    elif how == "changed" and ws.open_units:
        source = "unit u INDEXED BY ix_unit_open_updated"
        source += (" CROSS JOIN approval_request r INDEXED BY ix_approval_request_lpn "
                   "ON r.lpn = u.lpn AND r.state = 'open'") if asked else ""
    elif asked:
        source = ("approval_request r INDEXED BY ix_approval_request_open "
                  "CROSS JOIN unit u ON u.lpn = r.lpn AND r.state = 'open'")
    else:
        source = f"unit u INDEXED BY {ws.index}" if ws.index else "unit u"
    hold = "LEFT JOIN hold h ON h.lpn = u.lpn" if trigger.state == "held" else ""
    pending = "r.path" if asked else "h.default_path" if hold else "NULL"
    when = {"full": f"{ws.since} < ?", "window": f"{ws.since} >= ? AND {ws.since} < ?",
            "changed": f"u.updated_at >= ? AND {ws.since} < ?",
            "lpns": f"u.lpn IN (SELECT value FROM json_each(?)) AND {ws.since} < ?"}[how]
    extra = ""
    if how == "changed" and not (trigger.when.lane or trigger.when.path):
        # a unit last changed by a trigger (its lane or path, updated_at = that firing's time) has
        # nothing new for a filter that looks at neither: after a pass that moved thousands, the
        # next one need not read them all again for every trigger
        extra += " AND NOT EXISTS (SELECT 1 FROM age_firing g WHERE g.lpn = u.lpn AND g.fired_at = u.updated_at)"
    # the filter's indexed parts in SQL: values come from a validated policy, bound as parameters
    if trigger.when.category:
        extra += f" AND u.category IN ({', '.join('?' * len(trigger.when.category))})"
    if trigger.when.lane:
        extra += f" AND u.lane IN ({', '.join('?' * len(trigger.when.lane))})"
    return f"""
SELECT u.lpn, u.state, u.category, u.lane, u.unit_price, u.sku, u.grade, u.risk_flags,
       coalesce(u.age_path, {pending}), {ws.since}, l.reason_code
FROM {source} {hold}
LEFT JOIN rma_line l ON l.rma_id = u.rma_id AND l.line_no = u.line_no
WHERE {f"u.{_OPEN} AND " if ws.open_units else ""}u.state IN ({states}) AND {when}{extra}
  {f"AND ({ws.where})" if ws.where else ""}
  AND NOT EXISTS (SELECT 1 FROM age_firing f WHERE f.lpn = u.lpn AND f.trigger_id = ?)
"""


# -- where the last pass got to ------------------------------------------------------------------
# A unit becomes due when the clock passes the start of its wait + `after`, so a pass reads only
# the waits that began since the last pass's cutoff, plus the units changed since (updated_at):
# facts a filter looks at change only with the unit (a lane moved, a hold matched). The whole
# range is read again when a trigger is new or changed, when the policy's version changed (its
# condition flags count in a filter), when the clock went back, and every FULL_EVERY as a safety
# net (one trigger's hourly read a pass, so no pass reads them all).
# Cursors are saved after the pass applied what it found: a pass cut off half-way is read again.
# They are a shortcut — what fired is in age_firing, which every read checks — kept in memory and
# in the store (`trigger_cursor`, v14), written in the transaction of the pass's last batch (so a
# cursor never gets ahead of what was applied), or, when nothing fired, at most every
# PERSIST_EVERY in a transaction of their own (a quiet bench's pass writes nothing else): a
# restarted bench resumes from them, reading at most PERSIST_EVERY's waits again, not every range.
FULL_EVERY = timedelta(hours=1)
MARGIN = timedelta(seconds=5)  # a transaction that stamped updated_at just before our read began
# The units changed since the last pass are read once for all triggers (ix_unit_open_updated
# carries the LPN: no row read); up to this many are then looked up by LPN, more by the range.
BY_LPN = 5000
PERSIST_EVERY = timedelta(minutes=10)


def signature(trigger: AgeTrigger) -> str:
    """What decides which units a trigger is due for (not its action or its words)."""
    return json.dumps([trigger.state, trigger.after_seconds, trigger.when.model_dump(mode="json")], sort_keys=True)


_CURSORS: dict[str, dict[str, dict[str, str]]] = {}  # per store file: this process's latest
_PERSISTED: dict[str, float] = {}  # per store file: when (monotonic) the cursors were last written
# Units a pass itself changed (a lane moved, a path re-routed), per store file. The next pass's
# read of the units changed since skips a unit whose only change since its cursor is that stamp,
# for a trigger whose filter does not look at what the action changed — after a pass that fired
# for 90k units, the next one would otherwise read them all again. Lost on a restart: a process
# that noted nothing asks the firings instead (_STAMPED below).
@dataclass
class _Own:
    """A store's units changed by passes, by the stamp written: stamp -> LPN -> (updated_at before
    the first pass's change, the actions). A pass writes one stamp (its `now`) on every unit it
    changes, so a pass that fired for 90k units is one entry here and one index range there."""

    by_stamp: dict[str, dict[str, tuple[str, frozenset[str]]]] = field(default_factory=dict)
    stamp_of: dict[str, str] = field(default_factory=dict)  # LPN -> its stamp (may name one pruned since)
    latest_before: dict[str, str] = field(default_factory=dict)  # stamp -> the latest "before" under it


_OWN: dict[str, _Own] = {}
_LOCK = threading.Lock()


def load_cursors(store: Store) -> dict[str, dict[str, str]]:
    """This process's latest cursors, else (a restart) those the store keeps."""
    key = str(store.path)
    got = _CURSORS.get(key)
    if got is None:
        with store.read_engine.connect() as conn, conn.begin():
            rows = conn.exec_driver_sql("SELECT trigger_id, cursor FROM trigger_cursor").all()
        got = {}
        for tid, text in rows:
            try:
                cursor = json.loads(text)
            except ValueError:
                continue  # unreadable: that trigger reads its whole range, as a new one would
            if isinstance(cursor, dict) and all(isinstance(v, str) for v in cursor.values()):
                got[tid] = cursor
        _CURSORS[key] = got
    return dict(got)


def cursors_stale(store: Store, cursors: dict[str, dict[str, str]]) -> bool:
    """Whether the store's copy should be replaced by `cursors` though nothing fired: never written
    by this process, older than PERSIST_EVERY, or a trigger read its whole range (new, changed, a
    new policy version, the clock set back, its hourly turn: a restart would read it all again)."""
    key = str(store.path)
    at = _PERSISTED.get(key)
    if at is None or time.monotonic() - at >= PERSIST_EVERY.total_seconds():
        return True
    kept = _CURSORS.get(key, {})
    return kept.keys() != cursors.keys() or any(
        kept[t].get(k) != c.get(k) for t, c in cursors.items() for k in ("sig", "version", "full_at"))


def write_cursors(conn: Any, cursors: dict[str, dict[str, str]]) -> None:
    """Replace the store's cursors, in the caller's write transaction (then `save_cursors(...,
    persisted=True)` once it committed)."""
    conn.exec_driver_sql("DELETE FROM trigger_cursor")
    if cursors:
        conn.exec_driver_sql("INSERT INTO trigger_cursor (trigger_id, cursor) VALUES (?, ?)",
                             [(tid, json.dumps(c, sort_keys=True)) for tid, c in cursors.items()])


def save_cursors(store: Store, cursors: dict[str, dict[str, str]], *, persisted: bool = False) -> None:
    """Keep `cursors` in memory (`persisted`: the caller's committed transaction wrote them too)."""
    key = str(store.path)
    _CURSORS[key] = dict(cursors)
    if persisted:
        _PERSISTED[key] = time.monotonic()
    oldest = min((c["changed"] for c in cursors.values()), default="")
    with _LOCK:  # what no cursor's "changed since" reaches any more is of no use
        own = _OWN.get(key)
        if own is not None:
            for stamp in [st for st in own.by_stamp if st < oldest]:
                del own.by_stamp[stamp], own.latest_before[stamp]
            if not own.by_stamp:
                own.stamp_of.clear()


_SHARED: dict[frozenset[str], frozenset[str]] = {}


def note_own(store: Store, changed: Iterable[tuple[str, str, str, frozenset[str]]]) -> None:
    """Units a pass changed, once its transaction committed: (lpn, updated_at before, the stamp
    written, actions), times as stored (db_time)."""
    with _LOCK:
        own = _OWN.setdefault(str(store.path), _Own())
        for lpn, before, stamp, actions in changed:
            actions = _SHARED.setdefault(actions, actions)  # a handful of values, not one set a unit
            prev_stamp = own.stamp_of.get(lpn)
            if prev_stamp is not None:
                prev = own.by_stamp.get(prev_stamp, {}).pop(lpn, None)
                if prev is not None and prev_stamp == before:  # changed again by a pass: the first "before" counts
                    before, actions = prev[0], prev[1] | actions
            own.by_stamp.setdefault(stamp, {})[lpn] = (before, actions)
            own.stamp_of[lpn] = stamp
            own.latest_before[stamp] = max(own.latest_before.get(stamp, ""), before)


def _plan(trigger: AgeTrigger, version: str, cursor: dict[str, str] | None, now: datetime, started: datetime,
          hourly_ok: bool) -> tuple[str, dict[str, str]]:
    cutoff = db_time(now - timedelta(seconds=trigger.after_seconds))
    sig = signature(trigger)
    changed = db_time(started - MARGIN)
    new = {"sig": sig, "version": version, "cutoff": cutoff, "full_at": (cursor or {}).get("full_at", ""),
           "changed": changed}
    # a clock set back (now, or the real one since a cursor saved before a restart): the whole range
    full = (cursor is None or cursor.get("sig") != sig or cursor.get("version") != version
            or cutoff < cursor.get("cutoff", "") or changed < cursor.get("changed", "") or not cursor.get("full_at"))
    if not full and hourly_ok and parse_db_time(cursor["full_at"]) + FULL_EVERY < started:  # type: ignore[index]
        full = True  # the safety net: this trigger's turn this pass
    if full:
        new["full_at"] = db_time(started)
    return ("full" if full else "incremental"), new


@dataclass
class Changed:
    """The open units changed since the oldest cursor, sorted by what a trigger must re-read."""

    other: list[tuple[str, str]]  # (lpn, updated_at): changed otherwise — every trigger reads them again
    by_action: dict[str, list[str]]  # a pass's own lane moves / re-routes only: for a filter on lane / path


_FILTERED = frozenset({"lane", "reroute"})  # what a pass changes that a filter looks at (lane, path)


# The changed units a firing stamped (its time is their updated_at: `ix_age_firing_stamp`, v14,
# answers from the index), for a restarted process, whose memory of what its passes changed is
# gone: after a restart right after a mass firing, the next pass reads the rest (few) as rows
# and the stamped ones only for a lane or path filter. (A unit changed otherwise between that
# pass's read and its stamp, which memory would tell, waits for its triggers' hourly read.)
_STAMPS = "g.lpn = u.lpn AND g.fired_at = u.updated_at AND g.action IN ('lane', 'reroute')"  # the index's WHERE
_STAMPED = f"EXISTS (SELECT 1 FROM age_firing g INDEXED BY ix_age_firing_stamp WHERE {_STAMPS})"
_RANGE = f"FROM unit u INDEXED BY ix_unit_open_updated WHERE u.{_OPEN} AND u.updated_at >= ?"
_NOT_STAMPED = f"SELECT u.lpn, u.updated_at {_RANGE} AND NOT {_STAMPED}"
_STAMPED_ACTIONS = (f"SELECT u.lpn, (SELECT group_concat(g.action) FROM age_firing g INDEXED BY ix_age_firing_stamp "
                    f"WHERE {_STAMPS}) {_RANGE} AND {_STAMPED}")


def _changed(conn: Any, store: Store, since: str, filtered: bool) -> Changed:
    """Open units changed since `since` (covering index ranges). A unit whose last change is a
    pass's own stamp, and whose `updated_at` before it was older than `since` (nothing else
    changed it meanwhile), counts only for the action's kind — and only when some trigger's
    filter looks at the lane or path (`filtered`): the pass after one that fired for 90k units
    reads their LPNs once, as a set, and no trigger reads them again."""
    with _LOCK:
        own = _OWN.get(str(store.path))
        stamps = sorted(st for st in own.by_stamp if st >= since) if own else []
    out = Changed([], {"lane": [], "reroute": []})
    ranged = f"SELECT lpn, updated_at FROM unit INDEXED BY ix_unit_open_updated WHERE {_OPEN} AND updated_at >= ?"
    if own is None:  # a restarted process: what passes changed before is not noted, their firings say it
        out.other = list(conn.exec_driver_sql(_NOT_STAMPED, (since,)).all())
        for lpn, acts in conn.exec_driver_sql(_STAMPED_ACTIONS, (since,)) if filtered else ():
            for action in set(acts.split(",")) & _FILTERED:
                out.by_action[action].append(lpn)
        return out
    if not stamps:
        out.other = list(conn.exec_driver_sql(ranged, (since,)).all())
        return out
    assert own is not None
    marks = ", ".join("?" * len(stamps))
    out.other = list(conn.exec_driver_sql(f"{ranged} AND updated_at NOT IN ({marks})", (since, *stamps)).all())
    for stamp in stamps:
        cur = conn.connection.dbapi_connection.cursor()  # the same connection and read transaction
        # tens of thousands of LPNs as one string (a unit separator cannot be in an LPN): no Python row each
        (joined,) = cur.execute(f"SELECT group_concat(lpn, char(31)) FROM unit INDEXED BY ix_unit_open_updated "
                                f"WHERE {_OPEN} AND updated_at = ?", (stamp,)).fetchone()
        cur.close()
        at_stamp = set(joined.split("\x1f")) if joined else set()
        with _LOCK:  # set operations in C on the noted units, no copy of them
            units = own.by_stamp.get(stamp, {})
            if own.latest_before.get(stamp, "") < since:
                foreign = at_stamp.difference(units)
            else:
                foreign = at_stamp.difference([lpn for lpn, (before, _) in units.items() if before < since])
            mine = at_stamp.difference(foreign) if filtered else set()
            acts = {lpn: units[lpn][1] for lpn in mine}
        out.other += [(lpn, stamp) for lpn in foreign]  # changed otherwise, at the same time
        for lpn, actions in acts.items():
            for action in actions & _FILTERED:
                out.by_action[action].append(lpn)
    return out


def _relevant(trigger: AgeTrigger, changed: Changed, since: str) -> list[str]:
    """The changed units `trigger` must look at again (since its own cursor)."""
    out = [lpn for lpn, at in changed.other if at >= since]
    if trigger.when.lane:
        out += changed.by_action["lane"]
    if trigger.when.path:
        out += changed.by_action["reroute"]
    return out


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
    plans: dict[str, str] = {}
    hourly_ok = True
    for trig in policy.age_triggers:
        old = (cursors or {}).get(trig.id) if cursors is not None else None
        plans[trig.id], new_cursors[trig.id] = _plan(trig, policy.version, old, now, started, hourly_ok)
        if plans[trig.id] == "full" and old is not None and old.get("sig") == signature(trig):
            hourly_ok = False  # one trigger's safety-net read a pass (a due one is due next pass)
    with store.read_engine.connect() as conn, conn.begin():
        since = [cursors[t.id]["changed"] for t in policy.age_triggers  # type: ignore[index]
                 if plans[t.id] == "incremental" and WAIT_STATES[t.state].open_units]
        filtered = any(t.when.lane or t.when.path for t in policy.age_triggers)
        changed = _changed(conn, store, min(since), filtered) if since else Changed([], {"lane": [], "reroute": []})
        for trig in policy.age_triggers:
            old = (cursors or {}).get(trig.id)
            cutoff = new_cursors[trig.id]["cutoff"]
            filt = (*trig.when.category, *trig.when.lane, trig.id)
            if plans[trig.id] == "full":
                queries = [(_sql(trig, "full"), (cutoff, *filt))]
            else:
                assert old is not None
                queries = [(_sql(trig, "window"), (old["cutoff"], cutoff, *filt))]
                if WAIT_STATES[trig.state].open_units:  # a closed unit's facts do not change
                    lpns = _relevant(trig, changed, old["changed"])
                    if len(lpns) > BY_LPN:
                        queries.append((_sql(trig, "changed"), (old["changed"], cutoff, *filt)))
                    elif lpns:
                        queries.append((_sql(trig, "lpns"), (json.dumps(lpns), cutoff, *filt)))
            lpns_seen: set[str] = set()
            for sql, params in queries:
                for row in conn.exec_driver_sql(sql, params):
                    seen += 1
                    lpn, state, cat, lane, price, sku, grade, flags, path, since_at, reason = row
                    if lpn in lpns_seen:
                        continue
                    lpns_seen.add(lpn)
                    fs = flag_sets.get(flags or "[]")
                    if fs is None:
                        fs = flag_sets[flags] = frozenset(json.loads(flags))
                    c = Candidate(lpn, state, cat or "", lane or "", Decimal(price or 0), sku or "", grade, fs,
                                  path, reason or "", parse_db_time(since_at))
                    if matches(trig, c, cond):
                        out.append(Due(trig, c, (now - c.since).total_seconds() / 3600))
    return seen, out, new_cursors
