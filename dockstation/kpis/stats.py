"""Pure KPI math shared by the bench and HQ: percentiles, aging buckets, weeks, and the rules
that say what counts as right first time, as leakage and as working capital released.

Definitions (also in docs/kpis.md; tests pin them at their edges):
- Percentile: nearest rank. P(p) of n sorted values is the value at 1-based rank ceil(p*n/100).
  It is always one of the observed values (no interpolation), so a figure can be traced to a
  unit, and SQL computes the same number with integer arithmetic on every backend.
- Buckets: edges e1 < e2 < … make the half-open-on-the-left intervals (-inf, e1], (e1, e2], …,
  (ek, inf). A unit exactly 30 days old is in the "≤30" bucket; 30 days and one second is ">30".
- Weeks are ISO weeks in UTC: `YYYY-Www` runs from Monday 00:00 UTC to the next Monday.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

T = TypeVar("T", int, float, Decimal)

# "Restocked or resold": the paths whose recovery value comes back as sellable stock or cash.
# Recycle, donate, dispose and quarantine release no working capital.
CAPITAL_PATHS: tuple[str, ...] = ("restock", "open_box", "refurbish", "liquidate", "vendor_return")

# Risk flags whose unit loss (unit price − recovery value) counts as margin leakage, in priority
# order: a unit with several flags is attributed to the first one here, so the loss is counted
# once and the total over flags equals the total loss of flagged units.
LEAKAGE_FLAGS: tuple[str, ...] = (
    "empty_box", "wrong_item", "serial_mismatch", "missing_accessories", "hygiene_seal_broken",
)

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def rank(p: float, n: int) -> int:
    """1-based nearest rank of percentile `p` (0 < p ≤ 100) among `n` values: ceil(p*n/100)."""
    if not 0 < p <= 100:
        raise ValueError(f"percentile must be in (0, 100], not {p}")
    if n <= 0:
        raise ValueError("no values")
    # Integer arithmetic (p in hundredths) so 90% of 10 is exactly rank 9, not 9.000000001 → 10.
    num = round(p * 100) * n
    return max(1, -(-num // 10000))


def percentile(values: Iterable[T], p: float) -> T | None:
    """Nearest-rank percentile; None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[rank(p, len(ordered)) - 1]


def bucket_index(value: float, edges: Sequence[float]) -> int:
    """Index of the bucket `value` falls in: 0 for ≤ edges[0], …, len(edges) for > edges[-1]."""
    for i, edge in enumerate(edges):
        if value <= edge:
            return i
    return len(edges)


def bucket_labels(edges: Sequence[float], unit: str) -> list[str]:
    """Labels for `bucket_index`: ["≤30d", "30–60d", "60–90d", ">90d"] for edges 30, 60, 90."""
    if not edges:
        return ["all"]
    fmt = [_num(e) for e in edges]
    labels = [f"≤{fmt[0]}{unit}"]
    labels += [f"{a}–{b}{unit}" for a, b in zip(fmt, fmt[1:], strict=False)]
    labels.append(f">{fmt[-1]}{unit}")
    return labels


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def parse_week(week: str) -> tuple[datetime, datetime]:
    """`YYYY-Www` → (Monday 00:00 UTC, next Monday 00:00 UTC). ValueError with a reason if bad."""
    m = _WEEK.match(week.strip())
    if not m:
        raise ValueError(f"week must look like 2026-W07, not {week!r}")
    try:
        start = datetime.fromisocalendar(int(m.group(1)), int(m.group(2)), 1).replace(tzinfo=UTC)
        return start, start + timedelta(days=7)
    except (ValueError, OverflowError) as exc:  # 9999-W52: its end is past the last datetime
        raise ValueError(f"no such ISO week: {week} ({exc})") from exc


def week_of(at: datetime) -> str:
    year, week, _ = at.astimezone(UTC).isocalendar()
    return f"{year}-W{week:02d}"


def right_first_time(decision_kinds: Sequence[str]) -> bool:
    """Right first time: exactly one decision, and it was the policy's."""
    return len(decision_kinds) == 1 and decision_kinds[0] == "policy"


def leakage_flag(flags: Iterable[str], priority: Sequence[str] = LEAKAGE_FLAGS) -> str | None:
    """The flag a flagged unit's loss is attributed to (first in priority order), or None."""
    present = set(flags)
    return next((f for f in priority if f in present), None)


def unit_loss(unit_price: Decimal | None, recovery_value: Decimal | None) -> Decimal:
    """Value lost on a unit: price − recovery, never negative (a unit sold above price lost 0)."""
    loss = (unit_price or Decimal(0)) - (recovery_value or Decimal(0))
    return loss if loss > 0 else Decimal(0)


def dec(value: object) -> Decimal:
    """A payload or SQL value as an exact Decimal (None and '' are 0)."""
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        # SQL SUM over decimal text gives a float on SQLite: money is kept to the cent.
        return Decimal(repr(value)).quantize(Decimal("0.01"))
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return Decimal(0)


def ratio(num: Decimal | int, den: Decimal | int) -> float | None:
    return None if not den else round(float(Decimal(num) / Decimal(den)), 4)
