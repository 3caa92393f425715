"""KPI math on hand-built data with known answers: percentiles, bucket edges, accuracy, leakage."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from kpi_data import D, E, EXPECTED, SITES, W, build

from dockstation.kpis.report import TOTAL, EventRow, weekly_report
from dockstation.kpis.stats import (
    bucket_index, bucket_labels, leakage_flag, parse_week, percentile, rank, right_first_time, unit_loss,
    week_of,
)


def test_nearest_rank_percentiles_by_hand():
    ten = [10, 1, 9, 2, 8, 3, 7, 4, 6, 5]
    assert percentile(ten, 50) == 5 and percentile(ten, 90) == 9 and percentile(ten, 100) == 10
    assert percentile([2, 4, 30], 50) == 4 and percentile([2, 4, 30], 90) == 30
    assert percentile([7], 50) == 7 and percentile([7], 90) == 7
    assert percentile([], 50) is None
    # 90% of 10 is exactly rank 9 (float arithmetic would give 9.000000000000002 → 10)
    assert [rank(90, n) for n in (1, 10, 11, 20, 13)] == [1, 9, 10, 18, 12]
    with pytest.raises(ValueError):
        rank(0, 5)


def test_percentile_is_an_observed_value_and_monotone():
    rng = random.Random(7)
    for _ in range(200):
        values = [rng.randint(0, 50) for _ in range(rng.randint(1, 30))]
        p50, p90 = percentile(values, 50), percentile(values, 90)
        assert p50 in values and p90 in values and p50 <= p90
        # at least p% of the values are ≤ P(p), and fewer than p% are < P(p)
        assert sum(v <= p50 for v in values) >= 0.5 * len(values)
        assert sum(v < p50 for v in values) < 0.5 * len(values)


def test_buckets_at_their_edges():
    edges = [30, 60, 90]
    assert bucket_labels(edges, "d") == ["≤30d", "30–60d", "60–90d", ">90d"]
    assert [bucket_index(x, edges) for x in (0, 29.99, 30, 30.0000001, 60, 60.5, 90, 90.01, 400)] == \
        [0, 0, 0, 1, 1, 2, 2, 3, 3]
    assert bucket_labels([4, 8.5], "h") == ["≤4h", "4–8.5h", ">8.5h"]


def test_accuracy_leakage_and_loss_rules():
    assert right_first_time(["policy"])
    assert not right_first_time(["policy", "override"])
    assert not right_first_time(["override"])
    assert not right_first_time([])
    assert leakage_flag(["missing_accessories", "wrong_item"]) == "wrong_item"
    assert leakage_flag(["short_dated"]) is None
    assert unit_loss(Decimal("40"), Decimal("38")) == Decimal("2")
    assert unit_loss(Decimal("40"), Decimal("45")) == 0  # sold above price: nothing lost
    assert unit_loss(Decimal("40"), None) == Decimal("40")


def test_iso_weeks():
    assert parse_week("2026-W10") == (W, E)
    assert parse_week("2026-W01")[0] == datetime(2025, 12, 29, tzinfo=UTC)
    assert week_of(W) == "2026-W10" and week_of(E - timedelta(microseconds=1)) == "2026-W10"
    assert week_of(E) == "2026-W11"
    for bad in ("2026-10", "2026-W1", "2026-W54", "x"):
        with pytest.raises(ValueError):
            parse_week(bad)


def check(report):
    groups = {g.station_id: g for g in report.stations} | {TOTAL: report.total}
    assert set(groups) == {"B07", "B08", TOTAL}
    for station, want in EXPECTED.items():
        g = groups[station]
        got = dict(received=g.received, disposed=g.disposed, p50=g.cycle_p50_hours, p90=g.cycle_p90_hours,
                   rft=g.right_first_time, capital=g.capital_released)
        assert got == {k: want[k] for k in got}, station
        if "aging" in want:
            assert g.aging == want["aging"], station
            assert {(l.source, l.type): (l.count, l.value) for l in g.leakage} == want["leakage"], station
            assert {(r.category, r.path): (r.units, r.recovery_value, r.unit_price) for r in g.recovery} == \
                want["recovery"], station
    assert groups["B07"].site == "NORTH" and groups["B08"].site == "SOUTH"
    t = groups[TOTAL]
    assert t.aging == {"≤30d": 3, "30–60d": 3, "60–90d": 1, ">90d": 1}
    assert t.leakage_total == Decimal("40.50") + 5 + 100 + 2 + 40 + 60
    assert t.accuracy == round(10 / 13, 4)
    assert groups["B07"].recovery_rate == round(368 / 700, 4)


def test_weekly_report_on_the_hand_built_week():
    check(weekly_report(build(), "2026-W10", sites=SITES))


def test_event_order_does_not_matter():
    rows = build()
    random.Random(3).shuffle(rows)
    check(weekly_report(rows, "2026-W10", sites=SITES))


def test_overridden_unit_is_not_right_first_time():
    rows = [r for r in build() if r.station_id == "B07" and r.lpn in ("B07-00000001", "B07-00000003")]
    g = weekly_report(rows, "2026-W10").total
    assert (g.disposed, g.right_first_time) == (2, 1)
    # without the override u3 is right first time
    no_override = [r for r in rows if not (r.kind == "unit_disposed" and r.payload["kind"] == "override")]
    assert weekly_report(no_override, "2026-W10").total.right_first_time == 2


def test_a_hold_in_quarantine_is_a_decision_not_a_disposition():
    rows = [r for r in build() if r.lpn == "B08-00000004"]
    g = weekly_report(rows, "2026-W10").total
    assert g.disposed == 0 and g.aging["≤30d"] == 1
    # released from quarantine to liquidation: disposed then, and not right first time
    released = EventRow("B08", 999, "unit_disposed", W + 2 * D, "B08-00000004",
                        {"kind": "redisposition", "path": "liquidate", "recovery_value": "12", "unit_price": "60"})
    g = weekly_report([*rows, released], "2026-W10").total
    assert (g.disposed, g.right_first_time, g.capital_released) == (1, 0, Decimal("12"))
    assert g.cycle_p50_hours == (W + 2 * D - (E - 10 * D)).total_seconds() / 3600


def test_aging_as_of_mid_week_and_disposed_without_receipt():
    rows = build()
    mid = weekly_report(rows, "2026-W10", as_of=W + 3 * D).total
    # As of Thursday every age is 4 days less: 30 d + 1 s → 26 d, 90 d + 1 h → 86 d; o5 is not
    # there yet, and o7 (voided on Saturday) still is; B08-4 (held in quarantine) is 6 days old.
    assert mid.aging == {"≤30d": 3, "30–60d": 4, "60–90d": 1, ">90d": 0}
    only_disposal = [r for r in rows if r.lpn == "B07-00000001" and r.kind == "unit_disposed"]
    g = weekly_report(only_disposal, "2026-W10").total
    assert g.disposed == 1 and g.cycle_p50_hours is None and g.right_first_time == 1
