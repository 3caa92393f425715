"""Refund recommendation for head-office finance: full, partial or none, with the reason.

The bench never refunds anything: it records a `refund_recommended` event and the unit's
`refund`/`refund_amount`, and finance at HQ acts on them. Rules come from `[refund]` in
policy.toml: the first matching `none` rule wins (wrong item, empty box); otherwise every matching
`partial` rule deducts its fee (percent of the unit price plus a fixed amount) from the price.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from dockstation.policy.config import PolicyConfig
from dockstation.policy.decide import CENT, Facts, compiled, matches


@dataclass(frozen=True)
class RefundRecommendation:
    refund: str  # full | partial | none
    amount: Decimal
    reason: str
    rule_ids: tuple[str, ...] = ()


def recommend_refund(policy: PolicyConfig, facts: Facts) -> RefundRecommendation:
    c = compiled(policy)
    risk = facts.flags - c.condition_flags
    price = Decimal(facts.unit_price).quantize(CENT, rounding=ROUND_HALF_UP)
    fees: list[tuple[str, Decimal, str]] = []
    for rr, checks in c.refund:
        if not matches(checks, facts, risk):
            continue
        if rr.refund == "none":
            return RefundRecommendation("none", Decimal("0.00"), rr.reason, (rr.id,))
        fee = price * rr.fee_percent / 100 + rr.fee_fixed
        fees.append((rr.id, fee, rr.reason))
    if not fees:
        return RefundRecommendation("full", price, policy.refund.full_reason)
    total = sum((f for _, f, _ in fees), Decimal(0))
    amount = max(price - total, Decimal(0)).quantize(CENT, rounding=ROUND_HALF_UP)
    reasons = "; ".join(dict.fromkeys(r for _, _, r in fees))  # same reason once
    ids = tuple(i for i, _, _ in fees)
    if amount == 0:
        return RefundRecommendation("none", Decimal("0.00"), reasons, ids)
    return RefundRecommendation("partial", amount, reasons, ids)
