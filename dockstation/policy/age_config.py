"""`[[age_triggers]]` and `[decay]` of policy.toml: what happens to a unit because it has waited.

A trigger names a waiting state (`WAIT_STATES`), how long is too long there, an optional filter
like a rule's, one action (move to another lane, re-route the path, raise it to the lead), and a
reason shown to people. Validated by pydantic like the rules; the cross-references (lanes and
paths that exist, ids unique) are checked with the rest of the policy (config._check).

The waiting states are a table, not a fixed list: a state is one entry here (which unit states
it covers, which time starts its clock) plus its SQL in policy/triggers.py, so the state
"disposed and not yet sorted into a container" joins as one more entry once containers exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from dockstation.config import Strict

Names = Annotated[list[str], BeforeValidator(lambda v: [v] if isinstance(v, str) else v)]
OneLine = Annotated[str, Field(min_length=1, max_length=120, pattern=r"^[^\n\r]+$")]
Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$")]
Money = Annotated[Decimal, Field(ge=0, max_digits=14)]


@dataclass(frozen=True)
class WaitState:
    """A state a unit can wait in: the unit states it covers and what starts its clock."""

    name: str
    unit_states: tuple[str, ...]
    since: str  # the column (unit.* or r.* for the open approval request) the wait is counted from
    label: str  # for people: "received and not graded"
    reroutable: bool = True  # a path can still be changed without a lead (not disposed yet)
    open_units: bool = True  # among the open units (the partial indexes); False: e.g. disposed ones
    where: str = ""  # one more SQL condition on `u` (e.g. "not sorted into a container")
    index: str = ""  # the index a pass reads it by, when not one of the open units' own
    actions: tuple[str, ...] = ("lane", "reroute", "escalate")  # what a trigger may do to such a unit


UNSORTED = ("u.disposed_at >= (SELECT min(opened_at) FROM container) "
            "AND NOT EXISTS (SELECT 1 FROM container_unit c WHERE c.lpn = u.lpn)")

WAIT_STATES: dict[str, WaitState] = {
    # `inspecting` counts as not graded; a unit mid-inspection is left alone until it is finished.
    "received": WaitState("received", ("received", "inspecting"), "u.received_at", "received and not graded"),
    "graded": WaitState("graded", ("graded",), "u.inspected_at", "graded and not disposed"),
    "awaiting_approval": WaitState("awaiting_approval", ("awaiting_approval",), "r.requested_at",
                                   "awaiting a lead's approval"),
    "held": WaitState("held", ("held",), "u.received_at", "held (a blind receipt)"),
    # Containers (issue 15, docs/containers.md): disposed (or quarantined) since the bench's first
    # container, and in none — the same definition as containers' `unsorted_units`, by its index.
    "unsorted": WaitState("unsorted", ("disposed", "quarantined"), "u.disposed_at",
                          "disposed and not sorted into a container", reroutable=False, open_units=False,
                          where=UNSORTED, index="ix_unit_disposed_at", actions=("escalate",)),
}

ACTIONS = ("lane", "reroute", "escalate")


class TriggerWhen(Strict):
    """A trigger's filter: like a rule's `when`, over what is known of a unit still waiting."""

    category: Names = Field(default_factory=list)
    lane: Names = Field(default_factory=list)
    path: Names = Field(default_factory=list)  # the pending or proposed path
    grade: Names = Field(default_factory=list)
    sku_prefix: Names = Field(default_factory=list)
    reason_code: Names = Field(default_factory=list)
    flagged: bool | None = None
    flags_any: Names = Field(default_factory=list)
    flags_none: Names = Field(default_factory=list)
    value_at_least: Money | None = None
    value_below: Money | None = None

    def describe(self) -> str:
        parts = []
        for name, value in self.__dict__.items():
            if value in (None, []):
                continue
            if isinstance(value, list):
                parts.append(f"{name}={','.join(value)}")
            elif name == "value_at_least":
                parts.append(f"value>={value}")
            elif name == "value_below":
                parts.append(f"value<{value}")
            else:
                parts.append(f"{name}={str(value).lower()}")
        return " ".join(parts) or "(every unit)"


class AgeTrigger(Strict):
    """`[[age_triggers]]`: waited longer than `after_days` (+ `after_hours`) in `state` → `action`."""

    id: Id
    state: str
    after_days: Annotated[float, Field(ge=0, le=3650)] = 0
    after_hours: Annotated[float, Field(ge=0, le=24 * 3650)] = 0
    when: TriggerWhen = TriggerWhen()
    action: Literal["lane", "reroute", "escalate"]
    lane: Id | None = None  # action = "lane": the lane it moves to (and that lane's SLA from now)
    path: str | None = None  # action = "reroute": the path it goes to
    reason: OneLine

    @model_validator(mode="after")
    def _shape(self) -> AgeTrigger:
        if self.state not in WAIT_STATES:
            raise ValueError(f"state {self.state!r} is not a waiting state ({', '.join(WAIT_STATES)})")
        if self.after_days <= 0 and self.after_hours <= 0:
            raise ValueError("give after_days or after_hours (how long is too long)")
        if self.action == "lane" and not self.lane:
            raise ValueError("action = \"lane\" needs `lane` (the lane to move to)")
        if self.action == "reroute" and not self.path:
            raise ValueError("action = \"reroute\" needs `path` (the path to send it to)")
        if self.action != "lane" and self.lane:
            raise ValueError(f"`lane` is only for action = \"lane\" (this is {self.action!r})")
        if self.action != "reroute" and self.path:
            raise ValueError(f"`path` is only for action = \"reroute\" (this is {self.action!r})")
        if self.action not in WAIT_STATES[self.state].actions:
            allowed = ", ".join(WAIT_STATES[self.state].actions)
            raise ValueError(f"a unit {WAIT_STATES[self.state].label} takes only action = {allowed}")
        if self.action == "reroute" and not WAIT_STATES[self.state].reroutable:
            raise ValueError(f"a unit {WAIT_STATES[self.state].label} changes path only by a lead's "
                             "redisposition: use action = \"escalate\"")
        return self

    @property
    def after_seconds(self) -> float:
        return self.after_days * 86400 + self.after_hours * 3600

    def describe_after(self) -> str:
        days, hours = self.after_days, self.after_hours
        return " ".join(p for p in (f"{days:g}d" if days else "", f"{hours:g}h" if hours else "") if p)

    def target(self) -> str:
        return {"lane": f"lane {self.lane}", "reroute": f"path {self.path}", "escalate": "the lead"}[self.action]


class DecayConfig(Strict):
    """`[decay]`: a per-category share of the recovery estimate lost per week of waiting.

    `rates = { apparel = 0.05, default = 0 }` per week; the weeks count from receipt to the
    decision, less `after_days` of ordinary handling; never more than the estimate (`max_share`)."""

    rates: dict[str, Annotated[Decimal, Field(ge=0, le=1)]] = Field(default_factory=dict)
    after_days: Annotated[float, Field(ge=0, le=365)] = 7
    max_share: Annotated[Decimal, Field(ge=0, le=1)] = Decimal("0.9")

    def rate(self, category: str) -> Decimal:
        return self.rates.get(category, self.rates.get("default", Decimal(0)))


def check_triggers(policy: Any) -> tuple[tuple[Any, ...], str] | None:
    """Cross-references of the triggers: unique ids, lanes and paths that exist."""
    lanes = [l.name for l in policy.lanes]
    seen: dict[str, int] = {}
    for i, t in enumerate(policy.age_triggers):
        if t.id in seen:
            return ("age_triggers", i, "id"), f"trigger id {t.id!r} repeats age_triggers.{seen[t.id]}"
        seen[t.id] = i
        if t.lane is not None and t.lane not in lanes:
            return ("age_triggers", i, "lane"), f"lane {t.lane!r} is not in [[lanes]] ({', '.join(lanes)})"
        if t.path is not None and t.path not in policy.paths:
            return ("age_triggers", i, "path"), f"path {t.path!r} has no [paths.{t.path}] table"
        for p in t.when.path:
            if p not in policy.paths:
                return ("age_triggers", i, "when", "path"), f"path {p!r} has no [paths.{p}] table"
        for lane in t.when.lane:
            if lane not in lanes and lane != "hold":
                return ("age_triggers", i, "when", "lane"), f"lane {lane!r} is not in [[lanes]] ({', '.join(lanes)})"
    return None
