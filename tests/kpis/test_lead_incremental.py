"""The lead screen's fast paths give the answers of the plain definitions.

- Open-unit counts, aging buckets and breaches (index range counts, breaches counted from the
  in-time side) against a reference computed unit by unit in Python, on a generated store with
  every edge case: exactly on an edge, received after `now`, no due time with and without a lane
  SLA, closed states, overlapping hour and day edges.
- A `LeadCache` carried across refreshes gives the same snapshot as a fresh read after new
  dispositions, overrides, holds, a moving window and a clock going back, and reads the window
  whole only when it must.
- The queries use the indexes they were written for, without ANALYZE's statistics (a bench never
  runs ANALYZE).
"""

from __future__ import annotations

import dataclasses
import random
import sqlite3
from datetime import UTC, timedelta
from decimal import Decimal

from bench_seed import LANES, NOW, STATION, seed
from sqlmodel import select

from dockstation import events
from dockstation.kpis.bench import LeadCache, lead_snapshot
from dockstation.kpis.config import AgingConfig, KpisConfig
from dockstation.kpis.lead_first import _CHANGED, _IN_WINDOW, _OF_UNIT
from dockstation.kpis.lead_queue import OPEN, ts
from dockstation.kpis.stats import bucket_index
from dockstation.models import Decision, Rma, RmaLine, Unit

H = timedelta(hours=1)
D = timedelta(days=1)


def figures(s) -> dict:
    d = dataclasses.asdict(s)
    d.pop("elapsed_ms")
    return d


def generated_store(store, n=400, seed_=11):
    """Units of every state and lane, ages up to 120 days, some exactly on a bucket edge, some
    received after now, some without a due time."""
    rng = random.Random(seed_)
    edges = [4 * H, 8 * H, 24 * H, 48 * H, 30 * D, 60 * D, 90 * D]
    with store.write() as s:
        s.add(Rma(rma_id="RMA-GEN", order_id="O", created_at=NOW - 200 * D, expires_at=NOW + D, updated_at=NOW))
        s.add(RmaLine(rma_id="RMA-GEN", line_no=1, sku="S", description="x", category="toys", qty=10**6,
                      unit_price=Decimal("10")))
        s.flush()
        for i in range(n):
            r = rng.random()
            if r < 0.15:
                age = rng.choice(edges)  # exactly on an edge
            elif r < 0.2:
                age = -rng.uniform(0, 2) * H  # received after now (a clock ahead)
            else:
                age = timedelta(hours=rng.uniform(0, 24 * 120))
            received = NOW - age
            lane = rng.choice(["express", "standard", "bulk", "oddball"])  # oddball: no SLA in the policy
            due = None if rng.random() < 0.25 else received + timedelta(hours=rng.choice([8, 24, 72, 500]))
            if rng.random() < 0.05:
                due = NOW  # due exactly now: not yet late
            state = rng.choice(["received", "inspecting", "graded", "awaiting_approval", "quarantined",
                                "disposed", "voided"])
            s.add(Unit(lpn=f"G07-{i:08d}", rma_id="RMA-GEN", line_no=1, station_id=STATION, sku="S",
                       category="toys", description="x", unit_price=Decimal("10"), state=state, lane=lane,
                       sla_due_at=due, received_at=received, received_by="1001", updated_at=NOW))


def reference(store, cfg: KpisConfig, lane_sla):
    """The open-unit figures unit by unit, from the definitions (docs/kpis.md)."""
    with store.read() as s:
        units = [u for u in s.exec(select(Unit)) if u.state not in ("disposed", "voided")]
    qh, od = cfg.aging.queue_hours, cfg.aging.open_days
    by_pair: dict = {}
    buckets: dict = {}
    late_by_lane: dict = {}
    aging = [0] * (len(od) + 1)
    for u in units:
        age_h = (NOW - u.received_at).total_seconds() / 3600
        by_pair[(u.state, u.lane)] = by_pair.get((u.state, u.lane), 0) + 1
        buckets.setdefault(u.lane, [0] * (len(qh) + 1))[bucket_index(age_h, qh)] += 1
        aging[bucket_index(age_h / 24, od)] += 1
        if u.sla_due_at is not None:
            late = u.sla_due_at < NOW
        else:
            sla = lane_sla.get(u.lane)
            late = sla is not None and age_h > sla
        late_by_lane[u.lane] = late_by_lane.get(u.lane, 0) + int(late)
    return by_pair, buckets, late_by_lane, aging


def test_open_unit_figures_match_the_definitions_unit_by_unit(store):
    generated_store(store)
    for cfg in (KpisConfig(),
                # hour and day edges that coincide (720 h = 30 d) and no day edges beyond
                KpisConfig(aging=AgingConfig(queue_hours=[1, 720, 1000], open_days=[30])),
                KpisConfig(aging=AgingConfig(queue_hours=[], open_days=[]))):
        s = lead_snapshot(store, cfg, now=NOW, lane_sla=LANES, tz=UTC)
        by_pair, buckets, late, aging = reference(store, cfg, LANES)
        assert s.by_state_lane == by_pair
        assert s.queue_buckets == buckets
        assert s.breached_by_lane == late and s.breached == sum(late.values())
        assert list(s.open_aging.values()) == aging
        assert s.open_units == sum(by_pair.values())


def test_breaches_without_any_lane_sla(store):
    generated_store(store, n=150, seed_=3)
    s = lead_snapshot(store, KpisConfig(), now=NOW, lane_sla={}, tz=UTC)
    assert s.breached_by_lane == reference(store, KpisConfig(), {})[2]


def dispose(store, lpn, at, path, value, kind="policy", by="2001"):
    """What dispose.py writes for a decision: the unit's current path and value, a decision and
    its event, in one transaction."""
    with store.write() as s:
        u = s.get(Unit, lpn)
        u.state = "quarantined" if path == "quarantine" else "disposed"
        u.disposition, u.recovery_value, u.disposed_at = path, Decimal(value), at
        s.add(u)
        s.add(Decision(lpn=lpn, kind=kind, path=path, rule_id="r", recovery_value=Decimal(value),
                       decided_at=at, decided_by=by))
        events.record(s, STATION, "unit_disposed", operator=by, lpn=lpn, at=at,
                      payload={"kind": kind, "path": path, "recovery_value": value, "flags": []})


def test_a_cache_carried_across_refreshes_gives_the_fresh_answers(store):
    seed(store)
    cache = LeadCache()
    cfg = KpisConfig()

    def both(now):
        cached = lead_snapshot(store, cfg, now=now, lane_sla=LANES, tz=UTC, cache=cache)
        fresh = lead_snapshot(store, cfg, now=now, lane_sla=LANES, tz=UTC)
        assert figures(cached) == figures(fresh)
        return cached

    s = both(NOW)
    assert cache.first.full_reads == 1 and s.cycle_today.units == 2
    both(NOW)  # nothing new
    dispose(store, "B07-00000001", NOW - 0.5 * H, "restock", "80")  # a first disposition
    s = both(NOW)
    assert s.cycle_today.units == 3 and s.sparkline[-1] == 1
    dispose(store, "B07-00000011", NOW - 0.2 * H, "recycle", "1", kind="override", by="9001")
    s = both(NOW)  # the override changes the path and value, not the count
    assert s.cycle_today.units == 3 and {m.path for m in s.mix} >= {"recycle"}
    dispose(store, "B07-00000003", NOW - 0.1 * H, "quarantine", "0")  # a hold: no disposition
    assert both(NOW).cycle_today.units == 3
    dispose(store, "B07-00000003", NOW, "liquidate", "5")  # then its first real disposition
    assert both(NOW).cycle_today.units == 4
    dispose(store, "B07-00000002", NOW + 2 * H, "restock", "70")  # a clock ahead: not yet
    assert both(NOW).cycle_today.units == 4
    assert both(NOW + 3 * H).cycle_today.units == 5
    assert cache.first.full_reads == 1  # all of the above read only what changed
    both(NOW + 2 * D)  # Friday: the window (this week) stays, the day moves on
    both(NOW + 5 * D)  # next Monday: a new week, the old rows drop out
    assert cache.first.full_reads == 1
    both(NOW)  # the clock went back: the window grew, read it again
    assert cache.first.full_reads == 2


def test_many_changes_since_the_last_refresh_read_the_window_again(store):
    seed(store)
    cache = LeadCache()
    lead_snapshot(store, KpisConfig(), now=NOW, lane_sla=LANES, tz=UTC, cache=cache)
    with store.write() as s:
        for i in range(205):
            events.record(s, STATION, "unit_disposed", operator="2001", lpn=f"B07-0000000{1 + i % 5}",
                          at=NOW - H, payload={"kind": "override", "path": "restock"})
    cached = lead_snapshot(store, KpisConfig(), now=NOW, lane_sla=LANES, tz=UTC, cache=cache)
    assert cache.first.full_reads == 2
    assert figures(cached) == figures(lead_snapshot(store, KpisConfig(), now=NOW, lane_sla=LANES, tz=UTC))


def plan(conn, sql, params) -> str:
    return " | ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, params))


def test_queries_use_their_indexes_without_statistics(store):
    seed(store)
    conn = sqlite3.connect(store.path)
    try:
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone()[0] == 0
        now = ts(NOW)
        # breaches from the in-time side: a range of the partial index of open units
        p = plan(conn, f"SELECT COUNT(*) FROM unit WHERE {OPEN} AND lane = ? AND sla_due_at >= ?", ("x", now))
        assert "ix_unit_open_lane_due (lane=? AND sla_due_at>?)" in p
        p = plan(conn, "SELECT COUNT(*) FROM unit WHERE state = ? AND lane = ? AND received_at >= ? "
                       "AND received_at < ?", ("a", "b", now, now))
        assert "COVERING INDEX ix_unit_queue (state=? AND lane=? AND received_at>? AND received_at<?)" in p
        # "an earlier real disposition?" is an index-only probe; new events are a rowid range
        assert "ix_event_disposal (lpn=?)" in plan(conn, _IN_WINDOW, {"since": now}).split("SUBQUERY")[1]
        assert "ix_event_disposal" in plan(conn, _OF_UNIT, {"since": now, "lpn": "B07-00000001"})
        assert plan(conn, _CHANGED, {"hwm": 1, "cap": 5}) == "SEARCH event USING INTEGER PRIMARY KEY (rowid>?)"
        p = plan(conn, "SELECT operator, kind, COUNT(*), MIN(at), MAX(at) FROM event WHERE kind IN "
                       "('unit_received', 'unit_graded', 'unit_disposed') AND at >= ? AND at <= ? "
                       "AND operator IS NOT NULL GROUP BY operator, kind", (now, now))
        assert "COVERING INDEX ix_event_kind_at_op" in p
    finally:
        conn.close()
