"""Policy simulation: replay graded units through two policies and compare.

`replay(units, in_force, candidate)` is the comparison, over any history given as (lpn, Facts):
this bench's store (`history`, `simulate`: `dockstation policy simulate`) or HQ's events
(sync/hq/policy_history.py: the console's Policy page). Both sides are replayed (the policy in force too, not the stored decisions, which include
overrides and older policy versions), so the comparison is like for like. Each unit's days since
purchase are taken at the time it was decided (disposed_at, else inspected_at), so a replay of
the same history gives the same answer tomorrow. One SQL query reads everything through a plain
sqlite3 cursor (no ORM object per unit); deciding is pure Python (decide.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from dockstation.policy.config import PATHS, PolicyConfig
from dockstation.policy.decide import Facts, answer_text, decide, vendor_return_eligible
from dockstation.store import Store

STATES = ("graded", "awaiting_approval", "disposed", "quarantined")

_SQL = f"""
SELECT u.lpn, u.category, u.sku, u.grade, u.risk_flags, u.unit_price,
       coalesce(u.disposed_at, u.inspected_at, u.received_at), r.created_at, l.reason_code,
       i.answers, i.flags, i.grade, u.received_at
FROM unit u
JOIN rma r ON r.rma_id = u.rma_id
LEFT JOIN rma_line l ON l.rma_id = u.rma_id AND l.line_no = u.line_no
LEFT JOIN inspection i ON i.id = (SELECT max(id) FROM inspection
                                  WHERE lpn = u.lpn AND status = 'done')
WHERE u.state IN ({", ".join(f"'{s}'" for s in STATES)})
  AND coalesce(u.inspected_at, u.received_at) >= ?
ORDER BY u.lpn
"""


@dataclass
class Side:
    version: str
    mix: dict[str, list[Any]] = field(default_factory=dict)  # path -> [count, value]
    total_recovery: Decimal = Decimal("0.00")

    def add(self, path: str, value: Decimal) -> None:
        row = self.mix.setdefault(path, [0, Decimal("0.00")])
        row[0] += 1
        row[1] += value
        self.total_recovery += value

    def as_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "mix": {p: {"count": self.mix[p][0], "value": str(self.mix[p][1])}
                    for p in PATHS if p in self.mix},
            "total_recovery": str(self.total_recovery),
        }


@dataclass(frozen=True)
class Change:
    lpn: str
    old_path: str
    new_path: str
    old_value: Decimal
    new_value: Decimal
    old_rule: str
    new_rule: str
    category: str = ""

    @property
    def delta(self) -> Decimal:
        return self.new_value - self.old_value

    def as_json(self) -> dict[str, Any]:
        return {"lpn": self.lpn, "category": self.category, "old_path": self.old_path, "new_path": self.new_path,
                "old_value": str(self.old_value), "new_value": str(self.new_value),
                "delta": str(self.delta), "old_rule": self.old_rule, "new_rule": self.new_rule}


@dataclass
class CategoryDelta:
    units: int = 0
    changed: int = 0
    in_force: Decimal = Decimal("0.00")
    candidate: Decimal = Decimal("0.00")

    def as_json(self) -> dict[str, Any]:
        return {"units": self.units, "changed": self.changed, "in_force": str(self.in_force),
                "candidate": str(self.candidate), "delta": str(self.candidate - self.in_force)}


@dataclass
class Simulation:
    in_force: Side
    candidate: Side
    changed: list[Change] = field(default_factory=list)
    units: int = 0
    value_changed: int = 0  # units on the same path whose recovery estimate changed
    since: datetime | None = None
    by_category: dict[str, CategoryDelta] = field(default_factory=dict)
    # the age triggers of each side replayed over the same history (policy/trigger_sim.py)
    triggers: dict[str, Any] | None = None

    @property
    def delta(self) -> Decimal:
        return self.candidate.total_recovery - self.in_force.total_recovery

    def as_json(self) -> dict[str, Any]:
        return {
            "units": self.units,
            "since": self.since.isoformat() if self.since else None,
            "policy_in_force": self.in_force.as_json(),
            "candidate": self.candidate.as_json(),
            "delta_recovery": str(self.delta),
            "value_changed_units": self.value_changed,
            "by_category": {c: self.by_category[c].as_json() for c in sorted(self.by_category)},
            "changed": [c.as_json() for c in self.changed],
            **({"triggers": self.triggers} if self.triggers is not None else {}),
        }


def waited_days(received_at: datetime | None, decided_at: datetime | None) -> float:
    """The wait value decay counts (policy.toml [decay], decide.decay_of): days from receipt to the
    decision (disposition, else grading), never negative. The one place for it: this bench's
    history and HQ's (sync/hq/policy_history.py), so both replays decay a unit alike."""
    if received_at is None or decided_at is None:
        return 0.0
    return max(0.0, (decided_at - received_at).total_seconds() / 86400)


def history(store: Store, policy: PolicyConfig,
            since: datetime | None = None) -> Iterator[tuple[str, Facts]]:
    """(lpn, facts) of every graded or disposed unit inspected since `since`; vendor-return
    eligibility as `policy` sees it."""
    bound = "" if since is None else since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    now = datetime.now(UTC).replace(tzinfo=None)
    flag_sets: dict[str, frozenset[str]] = {"[]": frozenset()}  # a handful of distinct values

    def flagset(text: str | None) -> frozenset[str]:
        if not text:
            return frozenset()
        got = flag_sets.get(text)
        if got is None:
            got = flag_sets[text] = frozenset(json.loads(text))
        return got

    conn = store.raw_connection()
    try:
        cur = conn.execute(_SQL, (bound,))
        while rows := cur.fetchmany(5000):
            for (lpn, category, sku, grade, flags, price, at, created, reason, answers, iflags,
                 igrade, received) in rows:
                fs = flagset(flags)
                if iflags and iflags != flags:
                    fs = fs | flagset(iflags)
                values: dict[str, str] = {}
                results: dict[str, str] = {}
                if answers and answers != "{}":
                    for step, a in json.loads(answers).items():
                        values[step] = answer_text(a)
                        if isinstance(a, dict) and "result" in a:
                            results[step] = answer_text(a, "result")
                # stored as naive UTC text: no time zones needed to subtract them
                end = datetime.fromisoformat(at) if at else now
                days = max(0, int((end - datetime.fromisoformat(created)).total_seconds() // 86400)) \
                    if created else 0
                waited = waited_days(datetime.fromisoformat(received) if received else None, end)
                category, sku = category or "", sku or ""
                yield lpn, Facts(
                    category=category, grade=grade or igrade, unit_price=Decimal(price or 0),
                    flags=fs, answers=values, results=results, days_since_purchase=days,
                    vendor_return_eligible=vendor_return_eligible(policy, category, sku, days),
                    reason_code=reason or "", sku=sku, days_waiting=waited,
                )
    finally:
        conn.close()


def replay(units: Iterable[tuple[str, Facts]], in_force: PolicyConfig, candidate: PolicyConfig,
           since: datetime | None = None) -> Simulation:
    """Decide every unit under both policies. `units` carries the facts as the policy in force sees
    them (its vendor-return eligibility); the candidate's eligibility is worked out here."""
    sim = Simulation(Side(in_force.version), Side(candidate.version), since=since)
    same_vendor = in_force.vendor_return == candidate.vendor_return
    for lpn, f_old in units:
        # vendor-return eligibility is policy config: the candidate may see it differently
        f_new = f_old if same_vendor else replace(f_old, vendor_return_eligible=vendor_return_eligible(
            candidate, f_old.category, f_old.sku, f_old.days_since_purchase))
        old, new = decide(in_force, f_old), decide(candidate, f_new)
        sim.units += 1
        sim.in_force.add(old.path, old.recovery_value)
        sim.candidate.add(new.path, new.recovery_value)
        cat = sim.by_category.get(f_old.category)
        if cat is None:
            cat = sim.by_category[f_old.category] = CategoryDelta()
        cat.units += 1
        cat.in_force += old.recovery_value
        cat.candidate += new.recovery_value
        if old.path != new.path:
            cat.changed += 1
            sim.changed.append(Change(lpn, old.path, new.path, old.recovery_value,
                                      new.recovery_value, old.rule_id, new.rule_id, f_old.category))
        elif old.recovery_value != new.recovery_value:
            sim.value_changed += 1
    return sim


def simulate(store: Store, in_force: PolicyConfig, candidate: PolicyConfig,
             since: datetime | None = None, as_of: datetime | None = None) -> Simulation:
    """Replay this bench's graded units (`history`) through both policies, and both policies'
    age triggers over the units' waits (received since `since`; a wait still going on ends at
    `as_of`, now by default)."""
    from dockstation.policy.trigger_sim import replay_triggers, timelines

    units = list(history(store, in_force, since))
    sim = replay(units, in_force, candidate, since)
    if in_force.age_triggers or candidate.age_triggers:
        facts = dict(units)
        lines = timelines(store, since)
        at = as_of or datetime.now(UTC)
        old, new = replay_triggers(lines, facts, in_force, at), replay_triggers(lines, facts, candidate, at)
        sim.triggers = {"in_force": old.as_json(), "candidate": new.as_json(),
                        "fired": [f.as_json() for f in new.fired]}
    return sim
