"""Age triggers replayed over history: what a policy's `[[age_triggers]]` would have done.

For every unit of this bench (received since `since`), its waits are rebuilt from the store:
held (receipt → the hold's resolution), received and not graded (receipt → grading),
graded and not disposed (grading → the approval request or the disposition), awaiting approval
(the first request → the disposition), disposed and not sorted (the disposition → its
container, for units disposed once the bench had containers). A wait still going on ends at `as_of` (the time of the
replay). A trigger fires for a unit when one of its waits in the trigger's state lasted longer
than `after` and the filter holds (lane and category as the unit has them; the path as the
candidate decides it), at `start + after`, once per unit.

What it would have moved: firings per trigger (lane moves, re-routes, escalations). What it would
have recovered or lost: for a unit that was graded, a re-route's path against the path the
policy chooses, both estimated with the policy's decay at the decision (the last re-route to fire
wins, as at the bench). Pure over its inputs, so a hand-built history gives a known answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from dockstation.policy.age_config import AgeTrigger
from dockstation.policy.config import PolicyConfig
from dockstation.policy.decide import Facts, aged_value, decide
from dockstation.policy.trigger_due import Candidate, matches
from dockstation.store import Store

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Timeline:
    """One unit's life as the triggers see it (times UTC; None: it never got there)."""

    lpn: str
    category: str
    lane: str
    unit_price: Decimal
    sku: str
    grade: str | None
    flags: frozenset[str]
    received_at: datetime
    held_until: datetime | None = None  # a blind receipt: when its hold was resolved (None: still held, if held)
    held: bool = False
    inspected_at: datetime | None = None
    asked_at: datetime | None = None  # first approval request
    disposed_at: datetime | None = None
    asked_path: str | None = None
    reason_code: str = ""
    sortable: bool = False  # disposed once the bench had containers: it waits to be sorted
    sorted_at: datetime | None = None  # put into a container (None: not yet)

    def waits(self, as_of: datetime) -> dict[str, tuple[datetime, datetime]]:
        """state → (start, end) of each wait the unit went through."""
        out: dict[str, tuple[datetime, datetime]] = {}
        end_all = self.disposed_at or as_of
        if self.held:
            out["held"] = (self.received_at, self.held_until or end_all)
            if self.held_until is None:
                return out
        # as at the bench: a matched hold's unit has waited ungraded since it arrived
        out["received"] = (self.received_at, self.inspected_at or end_all)
        if self.inspected_at is not None:
            out["graded"] = (self.inspected_at, self.asked_at or end_all)
        if self.asked_at is not None:
            out["awaiting_approval"] = (self.asked_at, end_all)
        if self.sortable and self.disposed_at is not None:
            out["unsorted"] = (self.disposed_at, self.sorted_at or as_of)
        return out


@dataclass(frozen=True)
class SimFiring:
    lpn: str
    trigger_id: str
    at: datetime
    action: str
    target: str | None
    old_path: str | None = None
    new_path: str | None = None
    old_value: Decimal | None = None
    new_value: Decimal | None = None

    @property
    def delta(self) -> Decimal | None:
        return None if self.old_value is None or self.new_value is None else self.new_value - self.old_value

    def as_json(self) -> dict[str, Any]:
        money = {k: (None if v is None else str(v)) for k, v in
                 (("old_value", self.old_value), ("new_value", self.new_value), ("delta", self.delta))}
        return {"lpn": self.lpn, "trigger_id": self.trigger_id, "at": self.at.isoformat(), "action": self.action,
                "target": self.target, "old_path": self.old_path, "new_path": self.new_path, **money}


@dataclass
class TriggerTotals:
    state: str
    action: str
    target: str | None
    units: int = 0
    recovered: Decimal = ZERO  # re-routes that would have recovered more
    lost: Decimal = ZERO  # … or less (a positive amount)

    def as_json(self) -> dict[str, Any]:
        return {"state": self.state, "action": self.action, "target": self.target, "units": self.units,
                "recovered": str(self.recovered), "lost": str(self.lost),
                "delta": str(self.recovered - self.lost)}


@dataclass
class TriggerReplay:
    version: str
    as_of: datetime
    units: int = 0
    by_trigger: dict[str, TriggerTotals] = field(default_factory=dict)
    fired: list[SimFiring] = field(default_factory=list)
    decay: Decimal = ZERO  # the policy's value decay over the graded units (at their decision)

    @property
    def delta(self) -> Decimal:
        return sum((t.recovered - t.lost for t in self.by_trigger.values()), ZERO)

    def as_json(self) -> dict[str, Any]:
        return {"version": self.version, "as_of": self.as_of.isoformat(), "units": self.units,
                "by_trigger": {k: v.as_json() for k, v in self.by_trigger.items()},
                "delta_recovery": str(self.delta), "decay": str(self.decay)}


def replay_triggers(timelines: Iterable[Timeline], facts: Mapping[str, Facts], policy: PolicyConfig,
                    as_of: datetime) -> TriggerReplay:
    """Fire `policy`'s triggers over `timelines`; `facts` (by LPN) are the graded units' facts."""
    replayer = Replayer(policy, as_of)
    for tl in timelines:
        replayer.add(tl, facts.get(tl.lpn))
    return replayer.result()


class Replayer:
    """`replay_triggers` one unit at a time (HQ streams its history: nothing held but the firings)."""

    def __init__(self, policy: PolicyConfig, as_of: datetime) -> None:
        self.policy, self.as_of = policy, as_of
        self.out = TriggerReplay(policy.version, as_of)
        for t in policy.age_triggers:
            self.out.by_trigger[t.id] = TriggerTotals(t.state, t.action, t.lane or t.path)
        self.cond = frozenset(policy.condition_flags)

    def add(self, tl: Timeline, f: Facts | None) -> None:
        policy, as_of, out = self.policy, self.as_of, self.out
        out.units += 1
        decided = decide(policy, f) if f is not None else None
        if decided is not None:
            out.decay += decided.decay
        lane = tl.lane
        fired: list[tuple[datetime, AgeTrigger]] = []
        waits = tl.waits(as_of)
        for trig in policy.age_triggers:
            span = waits.get(trig.state)
            if span is None:
                continue
            start, end = span
            at = start + timedelta(seconds=trig.after_seconds)
            if end <= at or at > as_of:
                continue
            path = (tl.asked_path if trig.state == "awaiting_approval" else None) or \
                (decided.path if decided is not None and trig.state != "received" else None)
            c = Candidate(tl.lpn, trig.state, tl.category, lane, tl.unit_price, tl.sku, tl.grade, tl.flags, path,
                          tl.reason_code, start)
            if not matches(trig, c, self.cond):
                continue
            fired.append((at, trig))
            if trig.action == "lane" and trig.lane:
                lane = trig.lane  # later triggers see the lane it moved to, as at the bench
        reroutes = [t for _, t in sorted(fired, key=lambda x: x[0]) if t.action == "reroute"]
        final = reroutes[-1] if reroutes else None
        for at, trig in fired:
            totals = out.by_trigger[trig.id]
            totals.units += 1
            firing = SimFiring(tl.lpn, trig.id, at, trig.action, trig.lane or trig.path)
            if trig is final and f is not None and decided is not None and trig.path:
                new_value, _decay = aged_value(policy, trig.path, f)
                firing = SimFiring(tl.lpn, trig.id, at, trig.action, trig.path, decided.path, trig.path,
                                   decided.recovery_value, new_value)
                delta = new_value - decided.recovery_value
                if delta >= 0:
                    totals.recovered += delta
                else:
                    totals.lost -= delta
            out.fired.append(firing)

    def result(self) -> TriggerReplay:
        self.out.fired.sort(key=lambda x: (x.at, x.lpn, x.trigger_id))
        return self.out


# -- this bench's history ------------------------------------------------------------------------
_SQL = """
SELECT u.lpn, u.category,
       coalesce((SELECT f.previous FROM age_firing f WHERE f.lpn = u.lpn AND f.action = 'lane'
                 AND f.status = 'fired' ORDER BY f.id LIMIT 1), u.lane),  -- its lane before any trigger
       u.unit_price, u.sku, u.grade, u.risk_flags, u.received_at, u.inspected_at,
       u.disposed_at, h.lpn IS NOT NULL, h.resolved_at,
       (SELECT min(r.requested_at) FROM approval_request r WHERE r.lpn = u.lpn),
       (SELECT r.path FROM approval_request r WHERE r.lpn = u.lpn ORDER BY r.id DESC LIMIT 1),
       l.reason_code,
       u.disposed_at >= (SELECT min(opened_at) FROM container),
       (SELECT c.sorted_at FROM container_unit c WHERE c.lpn = u.lpn)
FROM unit u
LEFT JOIN hold h ON h.lpn = u.lpn
LEFT JOIN rma_line l ON l.rma_id = u.rma_id AND l.line_no = u.line_no
WHERE u.state != 'voided' AND u.received_at >= ?
ORDER BY u.lpn
"""


def _t(value: str | None) -> datetime | None:
    return None if not value else datetime.fromisoformat(value).replace(tzinfo=UTC)


def timelines(store: Store, since: datetime | None = None) -> list[Timeline]:
    bound = "" if since is None else since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    conn = store.raw_connection()
    try:
        rows = conn.execute(_SQL, (bound,)).fetchall()
    finally:
        conn.close()
    out = []
    for (lpn, cat, lane, price, sku, grade, flags, received, inspected, disposed, held, resolved, asked,
         asked_path, reason, sortable, sorted_at) in rows:
        out.append(Timeline(
            lpn=lpn, category=cat or "", lane=lane or "", unit_price=Decimal(price or 0), sku=sku or "",
            grade=grade, flags=frozenset(json.loads(flags or "[]")), received_at=_t(received),  # type: ignore[arg-type]
            held=bool(held), held_until=_t(resolved), inspected_at=_t(inspected), asked_at=_t(asked),
            disposed_at=_t(disposed), asked_path=asked_path, reason_code=reason or "",
            sortable=bool(sortable), sorted_at=_t(sorted_at),
        ))
    return out
