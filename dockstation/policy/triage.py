"""Triage at receipt (layer 2): which lane a unit goes to, and why, from policy.toml.

Risk first (a risky customer reason code, or a SKU or customer with a history of flagged units),
then high value, then value density: unit price per expected handling minute of the category.
This runs inside the receiving transaction on every parcel scan, so the history lookups are two
indexed counts that stop as soon as they reach the threshold: `ix_unit_flagged_sku` is a partial
index over flagged units only (a small fraction), and `ix_rma_order_id` finds a customer's RMAs.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlmodel import Session

from dockstation import rows
from dockstation.models import Rma, RmaLine
from dockstation.policy.config import PolicyConfig, policy_for_home
from dockstation.receiving.core import Lane, Triage
from dockstation.types import dumps

SKU_HISTORY = "sku_flag_history"
CUSTOMER_HISTORY = "customer_flag_history"

# `risk_flags != '[]'` must be written exactly as in the partial index for SQLite to use it.
_SKU_SQL = ("SELECT count(*) FROM (SELECT 1 FROM unit WHERE sku = ? AND risk_flags != '[]' "
            "AND ({any}) LIMIT ?)")
# The customer's units: their RMAs by order (ix_rma_order_id), then each RMA's units (ix_unit_rma).
# A join, not `rma_id IN (SELECT …)`: SQLite builds the IN list as a temporary b-tree on every
# receipt (its open and close were ~3% of a parcel scan's instructions). CROSS JOIN keeps that
# order whatever the statistics; each unit has one RMA, so the count is the same.
_CUSTOMER_SQL = ("SELECT count(*) FROM (SELECT 1 FROM rma CROSS JOIN unit ON unit.rma_id = rma.rma_id "
                 "WHERE rma.order_id = ? AND risk_flags != '[]' AND ({any}) LIMIT ?)")


@lru_cache(maxsize=32)
def _history_sql(flags: tuple[str, ...]) -> tuple[str, str, str, tuple[str, ...]]:
    """The counts' SQL (the SKU's, the customer's, both in one statement) and needles for a
    policy's history flags, made once (not per receipt)."""
    # Unit.risk_flags is stored as compact JSON: a flag appears as its JSON string, quotes and all,
    # so `"wrong_item"` never matches inside `"wrong_item_history"`.
    needles = tuple(dumps(f) for f in flags)
    any_ = " OR ".join(["instr(risk_flags, ?) > 0"] * len(needles))
    sku, customer = _SKU_SQL.format(any=any_), _CUSTOMER_SQL.format(any=any_)
    return sku, customer, f"SELECT ({sku}), ({customer})", needles


def history_counts(session: rows.Db, policy: PolicyConfig, sku: str, order_id: str) -> tuple[int, int]:
    """Past units of this SKU and of this customer carrying any of the history flags (capped)."""
    t = policy.triage
    if not t.history_flags:
        return 0, 0
    sku_sql, customer_sql, both_sql, needles = _history_sql(tuple(t.history_flags))
    limit = t.history_threshold
    if sku and order_id:  # the usual receipt: one statement
        n_sku, n_cust = rows.first(session, both_sql, (sku, *needles, limit, order_id, *needles, limit))
        return int(n_sku), int(n_cust)
    n_sku = int(rows.first(session, sku_sql, (sku, *needles, limit))[0]) if sku else 0
    n_cust = int(rows.first(session, customer_sql, (order_id, *needles, limit))[0]) if order_id else 0
    return n_sku, n_cust


def lane_for(policy: PolicyConfig, *, category: str, unit_price: Decimal, reason_code: str,
             sku_history: int = 0, customer_history: int = 0) -> Lane:
    """The pure part of triage: the lane for these facts."""
    t = policy.triage
    flags: list[str] = []
    why: list[str] = []
    if reason_code and reason_code in t.risk_reason_codes:
        flags.append(reason_code)
        why.append(f"risky reason {reason_code}")
    if sku_history >= t.history_threshold:
        flags.append(SKU_HISTORY)
        why.append(f"SKU has {sku_history}+ flagged returns")
    if customer_history >= t.history_threshold:
        flags.append(CUSTOMER_HISTORY)
        why.append(f"customer has {customer_history}+ flagged returns")
    if flags:
        return _lane(policy, t.risk_lane, flags, "risk: " + ", ".join(why))
    if t.high_value is not None and unit_price >= t.high_value:
        return _lane(policy, t.high_value_lane, flags, f"high value {unit_price} >= {t.high_value}")
    minutes = t.minutes_for(category)
    density = Decimal(unit_price) / Decimal(str(minutes))
    band = next(b for b in t.density if density >= b.at_least)  # the last band is 0
    return _lane(policy, band.lane, flags,
                 f"value density {density:.2f}/min >= {band.at_least} ({minutes:g} min handling)")


def _lane(policy: PolicyConfig, name: str, flags: list[str], reason: str) -> Lane:
    return Lane(name=name, sla_hours=policy.lane(name).sla_hours, flags=tuple(flags), reason=reason)


def make_triage(policy: PolicyConfig) -> Triage:
    """The `Bench.triage` callable for this policy: `Bench(..., triage=make_triage(policy))`."""

    def triage(session: Session, rma: Rma, line: RmaLine) -> Lane:
        n_sku, n_cust = history_counts(session, policy, line.sku, rma.order_id)
        return lane_for(policy, category=line.category, unit_price=line.unit_price,
                        reason_code=line.reason_code, sku_history=n_sku, customer_history=n_cust)

    triage.policy = policy  # type: ignore[attr-defined]  # which policy a bench runs, for display
    return triage


def explain_plan(session: Session, policy: PolicyConfig) -> list[str]:
    """SQLite's plan for the two history lookups (tests check that both use their index)."""
    needles = [dumps(f) for f in policy.triage.history_flags] or ['""']
    any_ = " OR ".join(["instr(risk_flags, ?) > 0"] * len(needles))
    rows: list[Any] = []
    conn = session.connection()
    for sql in (_SKU_SQL, _CUSTOMER_SQL):
        rows += conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql.format(any=any_),
                                     ("x", *needles, 1)).all()
    return [str(r[-1]) for r in rows]


def triage_for_home(home: Path) -> Triage:
    """A `Bench.triage` that follows the policy in force at `home`: a changed layer file applies
    from the next receipt on (config.policy_for_home; a bad new file leaves the last good policy in
    force). The triage of a policy is made once, while that policy stays in force."""
    made: list[Any] = [None, None]  # the policy last seen, and its triage

    def triage(session: Session, rma: Rma, line: RmaLine) -> Lane:
        policy = policy_for_home(home)
        if made[0] is not policy:
            made[:] = [policy, make_triage(policy)]
        return made[1](session, rma, line)  # type: ignore[no-any-return]

    return triage
