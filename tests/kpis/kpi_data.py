"""A hand-built week of events whose KPI answers are worked out by hand (see EXPECTED).

Week 2026-W10: Monday 2026-03-02 00:00 UTC → Monday 2026-03-09 00:00 UTC (E).
Station B07 (site NORTH): units u1..u10 received Tue 00:00, disposed i hours later → cycle
times 1..10 h: nearest-rank P50 = rank ceil(5.0)=5 → 5 h, P90 = rank ceil(9.0)=9 → 9 h.
Station B08 (site SOUTH): cycles 2, 4, 30 h → P50 = rank ceil(1.5)=2 → 4 h, P90 = rank 3 → 30 h.
Total 13 cycles 1,2,2,3,4,4,5,6,7,8,9,10,30 → P50 rank ceil(6.5)=7 → 5 h, P90 rank ceil(11.7)=12 → 10 h.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count

from dockstation.kpis.report import EventRow

W = datetime(2026, 3, 2, tzinfo=UTC)
E = W + timedelta(days=7)
H = timedelta(hours=1)
D = timedelta(days=1)
SITES = {"B07": "NORTH", "B08": "SOUTH"}


class Builder:
    def __init__(self) -> None:
        self.rows: list[EventRow] = []
        self.seq = {s: count(1) for s in SITES}

    def ev(self, station, event_kind, at, lpn=None, /, **payload):
        self.rows.append(EventRow(station, next(self.seq[station]), event_kind, at, lpn, payload))

    def received(self, station, lpn, at, category="phones", price="100", flags=()):
        self.ev(station, "unit_received", at, lpn, line_no=1, sku="SKU", category=category, lane="standard",
                sla_hours=24, risk_flags=list(flags), unit_price=price, currency="USD", code="RMA-X", source="t")

    def disposed(self, station, lpn, at, path, value, kind="policy", category="phones", price="100", flags=()):
        self.ev(station, "unit_disposed", at, lpn, kind=kind, path=path, rule_id="r", reason="", policy_version="1",
                destination="d", recovery_value=value, category=category, grade="B", unit_price=price,
                flags=list(flags), approved_by=None, approval_reason=None)

    def exception(self, station, ident, kind, at, value=None):
        self.ev(station, "exception_recorded", at, None, id=ident, kind=kind, code="X", detail="", source="t",
                value=value)


def build() -> list[EventRow]:
    b = Builder()
    t0 = W + D  # Tuesday 00:00
    # B07, phones u1..u5 (price 100), apparel u6..u10 (price 40)
    plan = {
        1: ("restock", "90"), 2: ("restock", "80"), 3: ("refurbish", "50"), 4: ("liquidate", "20"),
        5: ("recycle", "0"), 6: ("open_box", "30"), 7: ("donate", "0"), 8: ("restock", "38"),
        9: ("vendor_return", "40"), 10: ("dispose", "0"),
    }
    for i, (path, value) in plan.items():
        lpn = f"B07-{i:08d}"
        cat, price = ("phones", "100") if i <= 5 else ("apparel", "40")
        flags = ["empty_box"] if i == 5 else []
        b.received("B07", lpn, t0, cat, price, flags)
        if i == 8:
            b.ev("B07", "unit_graded", t0 + H / 2, lpn, inspection_id=8, grade="B", suggested_grade="B",
                 changed=False, flags=["wrong_item"], category=cat, unit_price=price)
        if i == 10:
            b.ev("B07", "unit_graded", t0 + H / 2, lpn, inspection_id=10, grade="C", suggested_grade="C",
                 changed=False, flags=["hygiene_seal_broken"], category=cat, unit_price=price)
        first_kind = "override" if i == 4 else "policy"
        b.disposed("B07", lpn, t0 + i * H, path, value, kind=first_kind, category=cat, price=price,
                   flags=["missing_accessories"] if i == 8 else [])
    # u3: overridden later in the week to restock at 70 → final restock/70, not right first time
    b.disposed("B07", "B07-00000003", t0 + 20 * H, "restock", "70", kind="override")

    # B08, home (price 60)
    b.received("B08", "B08-00000001", W + 2 * D, "home", "60")
    b.disposed("B08", "B08-00000001", W + 2 * D + 2 * H, "restock", "50", category="home", price="60")
    b.received("B08", "B08-00000002", W + 2 * D, "home", "60")
    b.disposed("B08", "B08-00000002", W + 2 * D + 4 * H, "refurbish", "30", category="home", price="60")
    # re-dispositioned NEXT week: still counts against this week's right-first-time
    b.disposed("B08", "B08-00000002", E + D, "liquidate", "10", kind="redisposition", category="home", price="60")
    b.received("B08", "B08-00000003", W - 27 * H, "home", "60")  # Saturday 21:00 of the week before
    b.disposed("B08", "B08-00000003", W + 3 * H, "recycle", "0", category="home", price="60",
               flags=["serial_mismatch"])

    # Open units (aging as of E), edges: exactly 30 d is in ≤30d; 30 d + 1 s is in 30–60d
    b.received("B07", "B07-00000101", E - 30 * D)                          # ≤30d
    b.received("B07", "B07-00000102", E - 30 * D - timedelta(seconds=1))   # 30–60d
    b.received("B07", "B07-00000103", E - 60 * D)                          # 30–60d (edge)
    b.received("B07", "B07-00000104", E - 90 * D - H)                      # >90d
    b.received("B07", "B07-00000105", E - D)                               # ≤30d, and received this week
    b.received("B07", "B07-00000106", E - 45 * D)                          # disposed after E: open at E
    b.disposed("B07", "B07-00000106", E + H, "restock", "95")
    b.received("B07", "B07-00000107", E - 40 * D)                          # voided before E: gone
    b.ev("B07", "unit_voided", E - 2 * D, "B07-00000107", reason="test")
    b.received("B07", "B07-00000108", E - 100 * D)                         # disposed long before
    b.disposed("B07", "B07-00000108", E - 50 * D, "restock", "99")
    b.received("B08", "B08-00000101", E - 61 * D)                          # 60–90d
    b.received("B08", "B08-00000004", E - 10 * D, "home", "60")            # held in quarantine: a
    b.disposed("B08", "B08-00000004", W + D, "quarantine", "0", category="home", price="60")  # decision, still open
    b.received("B08", "B08-00000102", E + H)                               # next week: not counted

    # Exceptions
    b.exception("B07", 1, "unknown_rma", W + H, "25.00")
    b.exception("B07", 2, "unknown_rma", W + 2 * H, "15.50")
    b.exception("B07", 3, "duplicate", W + 3 * H)
    b.exception("B07", 4, "unknown_tracking", W + 4 * H, "12")  # matched by a lead: no leakage
    b.ev("B07", "exception_resolved", W + 5 * H, None, id=4, action="matched", reason="", lpn="B07-00000050")
    b.exception("B07", 5, "unknown_rma", W - H, "99")  # the week before
    b.exception("B08", 1, "unknown_rma", W + 6 * D, "5")
    b.ev("B08", "exception_resolved", W + 6 * D + H, None, id=1, action="voided", reason="junk", lpn=None)
    return b.rows


# What the week's report must say, worked out by hand.
EXPECTED = {
    "B07": dict(received=11, disposed=10, p50=5.0, p90=9.0, rft=8, capital=Decimal("368"),
                aging={"≤30d": 2, "30–60d": 3, "60–90d": 0, ">90d": 1},
                leakage={("exception", "unknown_rma"): (2, Decimal("40.50")), ("exception", "duplicate"): (1, Decimal(0)),
                         ("flag", "empty_box"): (1, Decimal(100)), ("flag", "wrong_item"): (1, Decimal(2)),
                         ("flag", "hygiene_seal_broken"): (1, Decimal(40))},
                recovery={("phones", "restock"): (3, Decimal(240), Decimal(300)),
                          ("phones", "liquidate"): (1, Decimal(20), Decimal(100)),
                          ("phones", "recycle"): (1, Decimal(0), Decimal(100)),
                          ("apparel", "open_box"): (1, Decimal(30), Decimal(40)),
                          ("apparel", "donate"): (1, Decimal(0), Decimal(40)),
                          ("apparel", "restock"): (1, Decimal(38), Decimal(40)),
                          ("apparel", "vendor_return"): (1, Decimal(40), Decimal(40)),
                          ("apparel", "dispose"): (1, Decimal(0), Decimal(40))}),
    "B08": dict(received=2, disposed=3, p50=4.0, p90=30.0, rft=2, capital=Decimal("60"),
                aging={"≤30d": 1, "30–60d": 0, "60–90d": 1, ">90d": 0},
                leakage={("exception", "unknown_rma"): (1, Decimal(5)), ("flag", "serial_mismatch"): (1, Decimal(60))},
                recovery={("home", "restock"): (1, Decimal(50), Decimal(60)),
                          ("home", "liquidate"): (1, Decimal(10), Decimal(60)),
                          ("home", "recycle"): (1, Decimal(0), Decimal(60))}),
    "*": dict(received=13, disposed=13, p50=5.0, p90=10.0, rft=10, capital=Decimal("428")),
}
