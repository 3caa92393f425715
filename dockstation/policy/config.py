"""`policy.toml`: the disposition rules, triage lanes, approvals and refund rules, validated.

Field checks are pydantic's; cross-references (rule ids unique, the last rule unconditional,
paths/lanes/grades that exist) are checked after, so each error still names the exact key, e.g.
`rules.3.when.grade`. Indices in keys count from 0, as in every ConfigError of the bench.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator

from dockstation.config import (
    CodesConfig,
    ConfigError,
    Strict,
    _blame,
    layer_dirs,
    load_layered,
    read_toml,
    validate,
)
from dockstation.policy.age_config import AgeTrigger, DecayConfig, check_triggers

PATHS = ("restock", "open_box", "refurbish", "liquidate", "recycle",
         "vendor_return", "donate", "quarantine", "dispose")
PathName = Literal["restock", "open_box", "refurbish", "liquidate", "recycle",
                   "vendor_return", "donate", "quarantine", "dispose"]
FILE = "policy.toml"


def _listify(value: Any) -> Any:
    # `grade = "A"` is as natural to write as `grade = ["A"]`
    return [value] if isinstance(value, str) else value


Names = Annotated[list[str], BeforeValidator(_listify)]
Money = Annotated[Decimal, Field(ge=0, max_digits=14)]
Rate = Annotated[Decimal, Field(ge=0, le=2)]
OneLine = Annotated[str, Field(min_length=1, max_length=120, pattern=r"^[^\n\r]+$")]
Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$")]


class When(Strict):
    """Conditions of a rule: every condition given must hold; a list means any of its values."""

    category: Names = Field(default_factory=list)
    grade: Names = Field(default_factory=list)
    reason_code: Names = Field(default_factory=list)
    sku_prefix: Names = Field(default_factory=list)
    flagged: bool | None = None
    flags_any: Names = Field(default_factory=list)
    flags_none: Names = Field(default_factory=list)
    answers: dict[str, Names] = Field(default_factory=dict)
    value_at_least: Money | None = None
    value_below: Money | None = None
    days_at_most: int | None = Field(default=None, ge=0)
    days_more_than: int | None = Field(default=None, ge=0)
    vendor_return_eligible: bool | None = None

    @property
    def empty(self) -> bool:
        return not any(v not in (None, [], {}) for v in self.__dict__.values())

    def describe(self) -> str:
        """One line for `policy check` and the bench: `grade=C,D value>=80.00`."""
        parts = []
        for name, value in self.__dict__.items():
            if value in (None, [], {}):
                continue
            if name == "answers":
                parts += [f"{k}={'|'.join(v)}" for k, v in value.items()]
            elif isinstance(value, list):
                parts.append(f"{name}={','.join(value)}")
            elif name == "value_at_least":
                parts.append(f"value>={value}")
            elif name == "value_below":
                parts.append(f"value<{value}")
            elif name == "days_at_most":
                parts.append(f"days<={value}")
            elif name == "days_more_than":
                parts.append(f"days>{value}")
            else:
                parts.append(f"{name}={str(value).lower()}")
        return " ".join(parts) or "(always)"


class Rule(Strict):
    id: Id
    path: PathName
    reason: OneLine
    when: When = When()
    destination: OneLine | None = None  # default: the path's destination


class PathDef(Strict):
    destination: OneLine
    rates: dict[str, Rate] = Field(default_factory=dict)  # grade (or "default") -> share of price
    cost: dict[str, Money] = Field(default_factory=dict)  # category (or "default") -> cost
    destinations: dict[str, OneLine] = Field(default_factory=dict)  # category -> destination

    def rate(self, grade: str | None) -> Decimal:
        return self.rates.get(grade or "", self.rates.get("default", Decimal(0)))

    def cost_for(self, category: str) -> Decimal:
        return self.cost.get(category, self.cost.get("default", Decimal(0)))

    def destination_for(self, category: str) -> str:
        return self.destinations.get(category, self.destination)


class LaneDef(Strict):
    name: Id
    sla_hours: float = Field(gt=0, le=24 * 90)
    description: str = ""


class DensityBand(Strict):
    at_least: Money
    lane: Id


class TriageConfig(Strict):
    risk_lane: Id = "specialist"
    risk_reason_codes: Names = Field(default_factory=list)
    history_flags: Names = Field(default_factory=list)
    history_threshold: int = Field(default=2, ge=1)
    high_value: Money | None = None
    high_value_lane: Id = "specialist"
    density: list[DensityBand] = Field(min_length=1)
    handling_minutes: dict[str, float] = Field(default_factory=lambda: {"default": 6.0})

    @field_validator("handling_minutes")
    @classmethod
    def _positive(cls, minutes: dict[str, float]) -> dict[str, float]:
        bad = [k for k, v in minutes.items() if not v > 0]
        if bad:
            raise ValueError(f"handling minutes must be above 0: {bad}")
        if "default" not in minutes:
            raise ValueError("a `default` entry is needed (categories not listed)")
        return minutes

    def minutes_for(self, category: str) -> float:
        return self.handling_minutes.get(category, self.handling_minutes["default"])


class VendorReturnConfig(Strict):
    categories: Names = Field(default_factory=list)
    sku_prefixes: Names = Field(default_factory=list)
    max_days: int | None = Field(default=None, ge=0)


class ApprovalsConfig(Strict):
    value_threshold: Money = Decimal("250")
    value_paths: list[PathName] = Field(default_factory=lambda: ["dispose", "liquidate"])
    flagged_exempt_paths: list[PathName] = Field(default_factory=lambda: ["quarantine"])


class RefundRule(Strict):
    id: Id
    when: When = When()
    refund: Literal["none", "partial"]
    fee_percent: Annotated[Decimal, Field(ge=0, le=100)] = Decimal(0)
    fee_fixed: Money = Decimal(0)
    reason: OneLine


class RefundConfig(Strict):
    full_reason: OneLine = "Returned as sold"
    rules: list[RefundRule] = Field(default_factory=list)
    # A parcel closed with lines not received (receiving/refunds.py): their value is withheld.
    missing_reason: OneLine = "Not in the parcel"
    empty_reason: OneLine = "Parcel arrived empty"


class VendorDef(Strict):
    """`[vendors.<id>]`: a vendor that takes its units back (an RTV box holds one vendor's units).
    A unit is the first listed vendor's whose categories or SKU prefixes match it (policy/vendors.py).
    A weekly quota (units and/or recovery value, ISO week in UTC): once reached, a rule sending a
    unit of this vendor to vendor_return is skipped and the next rule applies, said in the reason."""

    name: OneLine
    categories: Names = Field(default_factory=list)
    sku_prefixes: Names = Field(default_factory=list)
    weekly_quota_units: int | None = Field(default=None, ge=0)
    weekly_quota_value: Money | None = None


ContainerKind = Literal["tote", "gaylord", "pallet", "rtv_box"]


class ContainersConfig(Strict):
    """`[containers]`: capacity (units) per container kind, and the kind a path's new container
    takes unless told (dockstation/containers, docs/containers.md)."""

    capacity: dict[ContainerKind, Annotated[int, Field(ge=1, le=100_000)]] = Field(
        default_factory=lambda: {"tote": 40, "gaylord": 400, "pallet": 120, "rtv_box": 30})
    kinds: dict[PathName, ContainerKind] = Field(default_factory=dict)

    def kind_for(self, path: str) -> str:
        return self.kinds.get(path, "rtv_box" if path == "vendor_return" else "tote")  # type: ignore[call-overload]

    def capacity_of(self, kind: str) -> int:
        return self.capacity.get(kind, 40)  # type: ignore[call-overload]


class HoldConfig(Strict):
    """`[hold]`: blind receipts (receiving/holds.py). After `days` a lead is proposed `default_path`."""

    days: Annotated[int, Field(ge=1, le=365)] = 14
    default_path: PathName = "liquidate"


class PolicyConfig(Strict):
    version: Annotated[str, Field(min_length=1, max_length=40)]
    condition_flags: Names = Field(default_factory=list)
    lanes: list[LaneDef] = Field(min_length=1)
    triage: TriageConfig
    vendor_return: VendorReturnConfig = VendorReturnConfig()
    paths: dict[PathName, PathDef]
    rules: list[Rule] = Field(min_length=1)
    approvals: ApprovalsConfig = ApprovalsConfig()
    approval_reasons: dict[Id, OneLine] = Field(min_length=1, max_length=9)
    refund: RefundConfig = RefundConfig()
    hold: HoldConfig = HoldConfig()
    # What happens to a unit because it has waited (policy/age_config.py, policy/triggers.py).
    age_triggers: list[AgeTrigger] = Field(default_factory=list)
    decay: DecayConfig = DecayConfig()
    age_check_minutes: Annotated[float, Field(gt=0, le=24 * 60)] = 5  # the bench's timer
    vendors: dict[Id, VendorDef] = Field(default_factory=dict)
    containers: ContainersConfig = ContainersConfig()

    def lane(self, name: str) -> LaneDef:
        return next(l for l in self.lanes if l.name == name)

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)


# -- cross-references ---------------------------------------------------------------------------
def _check(policy: PolicyConfig, codes: CodesConfig | None) -> tuple[tuple[Any, ...], str] | None:
    """The first cross-reference problem as (key path, reason), or None."""
    seen: dict[str, int] = {}
    for i, rule in enumerate(policy.rules):
        if rule.id in seen:
            return ("rules", i, "id"), f"rule id {rule.id!r} repeats rules.{seen[rule.id]}"
        seen[rule.id] = i
        if rule.path not in policy.paths:
            return ("rules", i, "path"), f"path {rule.path!r} has no [paths.{rule.path}] table"
    last = len(policy.rules) - 1
    if not policy.rules[last].when.empty:
        return ("rules", last, "when"), (f"the last rule ({policy.rules[last].id!r}) must match "
                                        "every unit: give it no conditions")
    lanes = [l.name for l in policy.lanes]
    if len(set(lanes)) != len(lanes):
        return ("lanes",), f"lane names repeat: {lanes}"
    t = policy.triage
    for key, lane in [("risk_lane", t.risk_lane), ("high_value_lane", t.high_value_lane),
                      *[(f"density.{i}.lane", b.lane) for i, b in enumerate(t.density)]]:
        if lane not in lanes:
            return ("triage", *_split(key)), f"lane {lane!r} is not in [[lanes]] ({', '.join(lanes)})"
    mins = [b.at_least for b in t.density]
    if mins != sorted(mins, reverse=True) or len(set(mins)) != len(mins):
        return ("triage", "density"), "bands must be in strictly descending order of at_least"
    if mins[-1] != 0:
        return ("triage", "density", len(mins) - 1, "at_least"), "the last band must be 0 (catches all)"
    if codes is not None:
        grades = [g.code for g in codes.grades]
        known = ", ".join(grades)
        for i, rule in enumerate(policy.rules):
            for g in rule.when.grade:
                if g not in grades:
                    return ("rules", i, "when", "grade"), f"unknown grade {g!r} (codes.toml: {known})"
        for i, rr in enumerate(policy.refund.rules):
            for g in rr.when.grade:
                if g not in grades:
                    return ("refund", "rules", i, "when", "grade"), f"unknown grade {g!r} (codes.toml: {known})"
        for i, trig in enumerate(policy.age_triggers):
            for g in trig.when.grade:
                if g not in grades:
                    return ("age_triggers", i, "when", "grade"), f"unknown grade {g!r} (codes.toml: {known})"
        for name, path in policy.paths.items():
            for g in path.rates:
                if g != "default" and g not in grades:
                    return ("paths", name, "rates", g), f"unknown grade {g!r} (codes.toml: {known})"
    ids = [r.id for r in policy.refund.rules]
    if len(set(ids)) != len(ids):
        return ("refund", "rules"), f"refund rule ids repeat: {ids}"
    return check_triggers(policy)


def _split(key: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in key.split("."))


def check(policy: PolicyConfig, files: list[tuple[Path, dict[str, Any]]],
          codes: CodesConfig | None) -> PolicyConfig:
    problem = _check(policy, codes)
    if problem is not None:
        loc, reason = problem
        where = _blame(files, loc) if files else FILE
        raise ConfigError(where, ".".join(str(p) for p in loc), reason)
    return policy


def load_policy(home: Path | None, codes: CodesConfig | None = None) -> PolicyConfig:
    """The policy in force: package default, then the site's and HQ's layers, validated."""
    files = [(d / FILE, read_toml(d / FILE)) for d in layer_dirs(home) if (d / FILE).is_file()]
    if not files:
        raise ConfigError(str((home or Path(".")) / "config" / FILE), "", "file is missing")
    policy = validate(PolicyConfig, files, FILE)
    if codes is None:
        codes = load_layered("codes.toml", CodesConfig, home, required=True)
    return check(policy, files, codes)


def load_policy_file(path: Path | str, codes: CodesConfig | None = None) -> PolicyConfig:
    """A candidate policy file on its own (a whole policy, merged over nothing)."""
    path = Path(path)
    files = [(path, read_toml(path))]
    return check(validate(PolicyConfig, files, str(path)), files, codes)


# -- the policy in force per bench home, loaded once ---------------------------------------------
_cache: dict[Path, tuple[tuple[Any, ...], PolicyConfig]] = {}
last_error: dict[Path, ConfigError] = {}
# The files whose change reloads a home's policy: the layers' policy.toml and codes.toml, as path
# strings made once per home. The check runs on every receipt (triage_for_home): six stat calls,
# ~15 µs, where working out the layer folders again (package_config_dir resolves its own path)
# cost ~0.2 ms a receipt.
_stamp_paths: dict[Path, tuple[str, ...]] = {}


def _stamp(home: Path) -> tuple[Any, ...]:
    paths = _stamp_paths.get(home)
    if paths is None:
        paths = _stamp_paths[home] = tuple(str(d / name) for d in layer_dirs(home) for name in (FILE, "codes.toml"))
    out = []
    for path in paths:
        try:
            st = os.stat(path)
            out.append((path, st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((path, None, None))
    return tuple(out)


def policy_for_home(home: Path) -> PolicyConfig:
    """The policy in force at `home`, reloaded only when a layer file changed (its size or
    modification time): a change is in force from the next call on, no delay.

    A changed file that does not validate is refused: the last good policy stays in force and the
    error is kept in `last_error[home]` (raised only if there never was a good one).
    """
    home = Path(home)
    stamp = _stamp(home)
    cached = _cache.get(home)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        policy = load_policy(home)
    except ConfigError as exc:
        last_error[home] = exc
        if cached is None:
            raise
        _cache[home] = (stamp, cached[1])  # don't re-parse the bad file on every unit
        return cached[1]
    last_error.pop(home, None)
    _cache[home] = (stamp, policy)
    return policy
