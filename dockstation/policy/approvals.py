"""When a disposition needs a lead, and who may give it.

A lead's badge and a reason code (policy.toml `[approval_reasons]`) are needed for: a path other
than the one the policy chose (an override), a path in `approvals.value_paths` (dispose,
liquidate) for a unit priced above `approvals.value_threshold`, a risk-flagged unit going anywhere
but `approvals.flagged_exempt_paths` (quarantine), and any redisposition of a unit already
disposed or quarantined. A clerk or grader cannot approve, not even their own work; a lead may.
"""

from __future__ import annotations


from dockstation.config import Operator, OperatorsConfig
from dockstation.policy.config import PolicyConfig
from dockstation.policy.decide import Facts, risk_flags


def approval_needs(policy: PolicyConfig, facts: Facts, policy_path: str, path: str, *,
                   redisposition: bool = False) -> tuple[str, ...]:
    """Why this path for this unit needs a lead's approval; empty when it does not."""
    a = policy.approvals
    why: list[str] = []
    if redisposition:
        why.append("unit already has a disposition: a redisposition needs a lead")
    if path != policy_path:
        why.append(f"path {path} instead of the policy's {policy_path}")
    if path in a.value_paths and facts.unit_price > a.value_threshold:
        why.append(f"{path} of a unit worth {facts.unit_price} (above {a.value_threshold})")
    risky = risk_flags(policy, facts.flags)
    if risky and path not in a.flagged_exempt_paths:
        why.append(f"risk-flagged unit ({', '.join(sorted(risky))}) going to {path}")
    return tuple(why)


class ApprovalRefused(Exception):
    """An approval that cannot be accepted; `reason` is shown and audited."""

    def __init__(self, badge: str, reason: str) -> None:
        self.badge, self.reason = badge, reason
        super().__init__(reason)


def lead_for(operators: OperatorsConfig, policy: PolicyConfig, badge: str,
             reason_code: str | None = None) -> Operator:
    """The lead behind `badge`, or ApprovalRefused (unknown badge, not a lead, unknown reason).

    With `reason_code=None` only the badge is checked (the bench asks for the reason after the
    badge scan); `dispose` always checks both.
    """
    op = operators.by_badge(badge)
    if op is None:
        raise ApprovalRefused(badge, "unknown badge: not in operators.toml")
    if op.role != "lead":
        raise ApprovalRefused(badge, f"{op.name} is a {op.role}: only a lead can approve")
    if reason_code is not None and reason_code not in policy.approval_reasons:
        raise ApprovalRefused(badge, f"unknown approval reason {reason_code!r}")
    return op
