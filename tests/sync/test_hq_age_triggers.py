"""HQ's view of a unit follows an age trigger's lane move (issue 20): lane and SLA from the event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sync.hq.units import unit_view

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def test_a_lane_move_by_an_age_trigger_changes_lane_and_sla_at_hq():
    evs = [
        {"station_id": "B07", "seq": 1, "kind": "unit_received", "at": T0, "lpn": "B07-00000001", "rma_id": "RMA-1",
         "operator": "1001", "payload": {"line_no": 1, "sku": "S", "category": "apparel", "lane": "bulk",
                                         "sla_hours": 72, "unit_price": "20.00", "risk_flags": []}},
        {"station_id": "B07", "seq": 2, "kind": "age_trigger_fired", "at": T0 + timedelta(days=3),
         "lpn": "B07-00000001", "rma_id": "RMA-1", "operator": None,
         "payload": {"trigger_id": "ungraded-3d", "action": "lane", "previous": "bulk", "target": "express",
                     "sla_hours": 8}},
        {"station_id": "B07", "seq": 3, "kind": "age_trigger_fired", "at": T0 + timedelta(days=4),
         "lpn": "B07-00000001", "rma_id": "RMA-1", "operator": None,
         "payload": {"trigger_id": "graded-2d", "action": "escalate", "previous": None, "target": None}},
    ]
    u = unit_view(evs, T0 + timedelta(days=5))
    assert u["lane"] == "express" and u["sla_due_at"] == T0 + timedelta(days=3, hours=8)
    assert u["state"] == "received" and u["last_kind"] == "age_trigger_fired"
