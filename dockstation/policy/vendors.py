"""Vendors of units and their weekly vendor-return quotas (`[vendors]` in policy.toml).

`vendor_of` is pure: the first vendor (in the file's order) whose categories or SKU prefixes match
the unit. `full_vendors` reads the store: which vendors already took their weekly quota of units
(or recovery value) this ISO week (UTC), counting the units whose current path is vendor_return
and that were disposed this week. The policy then skips a vendor_return rule for their units
(decide.py), and the decision's reason says why.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import text
from sqlmodel import Session

from dockstation.policy.config import PolicyConfig


def vendor_of(policy: PolicyConfig, category: str, sku: str) -> str | None:
    """The id of the unit's vendor, or None when no `[vendors.*]` entry names it."""
    for vendor_id, v in policy.vendors.items():
        if category in v.categories or any(p and sku.startswith(p) for p in v.sku_prefixes):
            return vendor_id
    return None


def week_start(at: datetime) -> datetime:
    """Monday 00:00 UTC of `at`'s ISO week."""
    day = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


_THIS_WEEK = text("SELECT category, sku, recovery_value FROM unit "
                  "WHERE disposition = 'vendor_return' AND state = 'disposed' AND disposed_at >= :start")


def usage(session: Session, policy: PolicyConfig, at: datetime) -> dict[str, tuple[int, Decimal]]:
    """Units and recovery value sent to each vendor this week (vendors with a quota only)."""
    quota = {k for k, v in policy.vendors.items()
             if v.weekly_quota_units is not None or v.weekly_quota_value is not None}
    out: dict[str, tuple[int, Decimal]] = {k: (0, Decimal(0)) for k in quota}
    if not quota:
        return out
    start = week_start(at).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    for category, sku, value in session.connection().execute(_THIS_WEEK, {"start": start}):
        vendor = vendor_of(policy, category or "", sku or "")
        if vendor in out:
            n, total = out[vendor]
            out[vendor] = (n + 1, total + Decimal(value or 0))
    return out


def full_vendors(session: Session, policy: PolicyConfig, at: datetime) -> frozenset[str]:
    """Vendors whose weekly quota (units or value) is reached at `at`."""
    full = set()
    for vendor, (n, value) in usage(session, policy, at).items():
        v = policy.vendors[vendor]
        if (v.weekly_quota_units is not None and n >= v.weekly_quota_units) or \
                (v.weekly_quota_value is not None and value >= v.weekly_quota_value):
            full.add(vendor)
    return frozenset(full)
