"""The disposition decision: pure, deterministic, explained.

`decide(policy, facts)` walks the ordered rules and the first whose conditions all hold chooses
the path (the last rule has no conditions, so exactly one path always comes out). The same facts
and policy always give the same path and rule: nothing here reads the clock, the store or any
global state. Simulation replays hundreds of thousands of units through this, so each rule is
compiled once per policy into a tuple of plain checks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from dockstation.policy.config import PolicyConfig, When

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Facts:
    """What the policy may look at for one graded unit."""

    category: str
    grade: str | None
    unit_price: Decimal
    flags: frozenset[str] = frozenset()
    answers: Mapping[str, str] = field(default_factory=dict)  # step id -> answer value as text
    results: Mapping[str, str] = field(default_factory=dict)  # step id -> pass / fail / na / info
    days_since_purchase: int = 0
    vendor_return_eligible: bool = False
    reason_code: str = ""
    sku: str = ""
    vendor: str | None = None  # the unit's vendor ([vendors], policy/vendors.py)
    # Vendors whose weekly quota is reached (read from the store by the caller): a rule sending
    # this unit to vendor_return is skipped, and the decision's reason says so.
    quota_full: frozenset[str] = frozenset()


@dataclass(frozen=True)
class PolicyDecision:
    path: str
    rule_id: str
    reason: str
    destination: str
    recovery_value: Decimal
    policy_version: str


def answer_text(value: Any, key: str = "value") -> str:
    """Checklist answers are compared as text: `True` -> "true", 3.0 -> "3", "fail" -> "fail".

    Inspection stores each answer as {"value", "result", "label", ...}; `key` picks the part."""
    if isinstance(value, dict):
        value = value.get(key)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def risk_flags(policy: PolicyConfig, flags: frozenset[str] | set[str] | list[str]) -> frozenset[str]:
    """Flags that make a unit risk-flagged: every flag not listed as a condition flag."""
    return frozenset(flags) - frozenset(policy.condition_flags)


def vendor_return_eligible(policy: PolicyConfig, category: str, sku: str, days: int) -> bool:
    vr = policy.vendor_return
    listed = category in vr.categories or any(sku.startswith(p) for p in vr.sku_prefixes if p)
    return listed and (vr.max_days is None or days <= vr.max_days)


def recovery_value(policy: PolicyConfig, path: str, grade: str | None, category: str,
                   unit_price: Decimal) -> Decimal:
    """unit price x rate[path][grade] - cost[path][category], in cents, never below zero."""
    p = policy.paths.get(path)  # type: ignore[call-overload]
    if p is None:
        return ZERO
    value = Decimal(unit_price) * p.rate(grade) - p.cost_for(category)
    return max(value, Decimal(0)).quantize(CENT, rounding=ROUND_HALF_UP)


def destination(policy: PolicyConfig, path: str, category: str) -> str:
    p = policy.paths.get(path)  # type: ignore[call-overload]
    return p.destination_for(category) if p is not None else path


# -- compiled rules ------------------------------------------------------------------------------
Check = Callable[[Facts, frozenset[str]], bool]


def _checks(when: When) -> tuple[Check, ...]:
    """One closure per condition given; a rule matches when all of them hold."""
    out: list[Check] = []
    if when.category:
        cats = frozenset(when.category)
        out.append(lambda f, r: f.category in cats)
    if when.grade:
        grades = frozenset(when.grade)
        out.append(lambda f, r: f.grade in grades)
    if when.reason_code:
        reasons = frozenset(when.reason_code)
        out.append(lambda f, r: f.reason_code in reasons)
    if when.sku_prefix:
        prefixes = tuple(when.sku_prefix)
        out.append(lambda f, r: f.sku.startswith(prefixes))
    if when.flagged is not None:
        want = when.flagged
        out.append(lambda f, r: bool(r) is want)
    if when.flags_any:
        anyf = frozenset(when.flags_any)
        out.append(lambda f, r: not anyf.isdisjoint(f.flags))
    if when.flags_none:
        nonef = frozenset(when.flags_none)
        out.append(lambda f, r: nonef.isdisjoint(f.flags))
    for step, values in when.answers.items():
        allowed = frozenset(values)
        # a rule may name the answer's value (an option key, a scanned value) or its result:
        # `gtin = "fail"` matches a scan that did not match the manifest, whatever was scanned
        out.append(lambda f, r, step=step, allowed=allowed:
                   f.answers.get(step) in allowed or f.results.get(step) in allowed)
    if when.value_at_least is not None:
        lo = when.value_at_least
        out.append(lambda f, r: f.unit_price >= lo)
    if when.value_below is not None:
        hi = when.value_below
        out.append(lambda f, r: f.unit_price < hi)
    if when.days_at_most is not None:
        dmax = when.days_at_most
        out.append(lambda f, r: f.days_since_purchase <= dmax)
    if when.days_more_than is not None:
        dmin = when.days_more_than
        out.append(lambda f, r: f.days_since_purchase > dmin)
    if when.vendor_return_eligible is not None:
        vre = when.vendor_return_eligible
        out.append(lambda f, r: f.vendor_return_eligible is vre)
    return tuple(out)


@dataclass(frozen=True)
class Compiled:
    condition_flags: frozenset[str]
    rules: tuple[tuple[Any, tuple[Check, ...]], ...]
    refund: tuple[tuple[Any, tuple[Check, ...]], ...]


# Compiled rules per policy object. Keyed by id() with the policy itself kept alongside, so an id
# is never reused while its entry lives; a few policies at most are in use at a time.
_COMPILED: dict[int, tuple[PolicyConfig, Compiled]] = {}
_KEEP = 16


def compiled(policy: PolicyConfig) -> Compiled:
    hit = _COMPILED.get(id(policy))
    if hit is not None and hit[0] is policy:
        return hit[1]
    c = Compiled(
        condition_flags=frozenset(policy.condition_flags),
        rules=tuple((rule, _checks(rule.when)) for rule in policy.rules),
        refund=tuple((rr, _checks(rr.when)) for rr in policy.refund.rules),
    )
    while len(_COMPILED) >= _KEEP:
        _COMPILED.pop(next(iter(_COMPILED)), None)
    _COMPILED[id(policy)] = (policy, c)
    return c


def matches(checks: tuple[Check, ...], facts: Facts, risk: frozenset[str]) -> bool:
    for check in checks:
        if not check(facts, risk):
            return False
    return True


def first_rule(policy: PolicyConfig, facts: Facts) -> Any:
    return _first(policy, facts)[0]


def _first(policy: PolicyConfig, facts: Facts) -> tuple[Any, Any]:
    """The first rule that matches, and the vendor_return rule skipped for a full quota (or None)."""
    c = compiled(policy)
    risk = facts.flags - c.condition_flags
    quota_full = facts.vendor is not None and facts.vendor in facts.quota_full
    skipped = None
    for rule, checks in c.rules:
        if matches(checks, facts, risk):
            if quota_full and rule.path == "vendor_return":
                skipped = skipped or rule
                continue
            return rule, skipped
    raise AssertionError("the last rule has no conditions (validated at load)")  # pragma: no cover


def decide(policy: PolicyConfig, facts: Facts) -> PolicyDecision:
    """The path the policy chooses for `facts`, the rule that chose it, and its estimate."""
    rule, skipped = _first(policy, facts)
    reason = rule.reason
    if skipped is not None:
        vendor = policy.vendors.get(facts.vendor or "")
        name = vendor.name if vendor else facts.vendor
        reason = f"{reason} ({skipped.id} skipped: {name}'s weekly vendor-return quota is reached)"
    return PolicyDecision(
        path=rule.path,
        rule_id=rule.id,
        reason=reason,
        destination=rule.destination or destination(policy, rule.path, facts.category),
        recovery_value=recovery_value(policy, rule.path, facts.grade, facts.category, facts.unit_price),
        policy_version=policy.version,
    )
