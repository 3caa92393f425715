"""The lead screen's SQL aggregates over a hand-seeded bench store, answers worked out by hand."""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal

from bench_seed import LANES, NOW, seed

from dockstation.kpis.bench import Cycle, MixRow, lead_snapshot
from dockstation.kpis.config import KpisConfig


def snap(store, **kw):
    return lead_snapshot(store, KpisConfig(), now=NOW, lane_sla=LANES, tz=UTC,
                         names={"1001": "Casey Clerk"}, **kw)


def test_queue_counts_buckets_and_breaches(store):
    seed(store)
    s = snap(store)
    assert s.open_units == 7 and s.breached == 4  # 2 (past due), 4, 6, and 7 (no due time: lane SLA 24 h)
    assert s.by_state_lane == {("received", "express"): 1, ("inspecting", "express"): 1,
                               ("received", "standard"): 1, ("graded", "standard"): 1,
                               ("quarantined", "standard"): 1, ("awaiting_approval", "standard"): 1,
                               ("received", "bulk"): 1}
    assert s.queue_labels == ["≤4h", "4–8h", "8–24h", "24–48h", ">48h"]
    # exactly 4 h old is in ≤4h; 30 h and 25 h are 24–48h; 31 days and 50 h are >48h
    assert s.queue_buckets == {"express": [1, 0, 1, 0, 0], "standard": [1, 0, 0, 2, 1], "bulk": [0, 0, 0, 0, 1]}
    assert s.breached_by_lane == {"express": 1, "standard": 3, "bulk": 0}
    assert s.open_aging == {"≤30d": 6, "30–60d": 1, "60–90d": 0, ">90d": 0}
    # a bucket is shown as a breach when its lower edge is at or past the lane's SLA
    assert [s.bucket_breaches("express", i) for i in range(5)] == [False, False, True, True, True]
    assert [s.bucket_breaches("standard", i) for i in range(5)] == [False, False, False, True, True]
    assert [s.bucket_breaches("bulk", i) for i in range(5)] == [False] * 5


def test_queue_page_is_most_urgent_first_and_bounded(store):
    seed(store)
    s = snap(store)
    assert [(q.lpn[-1], q.breached) for q in s.queue] == \
        [("6", True), ("4", True), ("2", True), ("1", False), ("3", False), ("5", False), ("7", True)]
    assert round(s.queue[0].age_hours) == 31 * 24
    assert [q.lpn[-1] for q in snap(store, page_rows=2).queue] == ["6", "4"]


def test_exceptions_operators_cycle_mix_and_sparkline(store):
    seed(store)
    s = snap(store)
    assert s.exceptions_open == 2
    assert [(e.kind, e.value) for e in s.exceptions] == [("unknown_rma", Decimal("25")), ("duplicate", None)]
    ops = {o.badge: o for o in s.operators}
    # 1001 received units 2 (03:00), 3 and 11 (08:00), 15 (09:00), 1 (10:00) today: 5 over 7 h
    assert (ops["1001"].name, ops["1001"].received, ops["1001"].hours, ops["1001"].per_hour) == \
        ("Casey Clerk", 5, 7.0, 0.7)
    # 2001 decided at 07:00 (a hold), 09:00 and 10:00: 3 over 3 h; 9001's one override counts one
    # action over the 1 h floor
    assert (ops["2001"].disposed, ops["2001"].hours, ops["2001"].per_hour) == (3, 3.0, 1.0)
    assert (ops["9001"].disposed, ops["9001"].hours, ops["9001"].per_hour) == (1, 1.0, 1.0)
    # first dispositions today: 2 h and 21 h → P50 rank 1 = 2 h, P90 rank 2 = 21 h
    assert s.cycle_today == Cycle(2, 2.0, 21.0)
    # this week (since Monday) adds unit 13's 5 h; its override today is not a second disposal, and
    # unit 6's hold in quarantine today is no disposal at all (not in cycle, mix or sparkline)
    assert s.cycle_week == Cycle(3, 5.0, 21.0)
    assert s.mix == [MixRow("liquidate", 0, Decimal("0.00"), 1, Decimal("20.00")),
                     MixRow("open_box", 1, Decimal("30.00"), 1, Decimal("30.00")),
                     MixRow("restock", 1, Decimal("90.00"), 1, Decimal("90.00"))]
    assert len(s.sparkline) == 24 and sum(s.sparkline) == 2
    assert s.sparkline[-3] == 1 and s.sparkline[-4] == 1  # 10:00 (2 h ago), 09:00 (3 h ago)


def test_empty_store(store):
    s = snap(store)
    assert (s.open_units, s.breached, s.queue, s.exceptions_open) == (0, 0, [], 0)
    assert s.cycle_today == Cycle(0, None, None) and s.sparkline == [0] * 24
