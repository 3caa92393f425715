"""Triage at receipt: lanes by value density and risk, with the history lookup on an index."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal

from sqlmodel import select

from dockstation.models import Event, Unit
from dockstation.policy import lane_for, make_triage
from dockstation.policy.triage import explain_plan, history_counts
from dockstation.receiving import receive_line, sign_in
from dockstation.scan import ScanEvent
from dockstation.types import utcnow

from policy_support import add_rma, graded


def lane(policy, category, price, reason="changed_mind", **kw):
    return lane_for(policy, category=category, unit_price=Decimal(price), reason_code=reason, **kw)


def test_lanes_by_value_density_risk_and_value(policy):
    express = lane(policy, "phones", "699.00")  # 58/min
    assert express.name == "express" and express.sla_hours == 8 and express.flags == ()
    assert "58.25/min" in express.reason
    assert lane(policy, "apparel", "49.99").name == "standard"  # 16.7/min
    bulk = lane(policy, "apparel", "5.00")  # 1.67/min
    assert bulk.name == "bulk" and bulk.sla_hours == 72
    assert lane(policy, "garden", "150.00").name == "express"  # unknown category: default minutes
    big = lane(policy, "laptops", "1499.00")
    assert big.name == "specialist" and big.flags == () and "high value" in big.reason
    fraud = lane(policy, "apparel", "5.00", reason="fraud_suspected")
    assert fraud.name == "specialist" and fraud.flags == ("fraud_suspected",)
    hist = lane(policy, "apparel", "49.99", sku_history=2)
    assert hist.name == "specialist" and hist.flags == ("sku_flag_history",)
    assert lane(policy, "apparel", "49.99", sku_history=1).name == "standard"
    cust = lane(policy, "apparel", "49.99", customer_history=3)
    assert cust.flags == ("customer_flag_history",) and "customer" in cust.reason


def test_history_counts_flagged_units_of_the_sku_and_of_the_customer(store, policy):
    graded(store, 1, sku="SKU-H", flags=("serial_mismatch",), order_id="O-A")
    graded(store, 2, sku="SKU-H", flags=("missing_accessories",), order_id="O-B")  # not a history flag
    graded(store, 3, sku="SKU-H", flags=("wrong_item_sent_history",), order_id="O-B")  # only a prefix
    graded(store, 4, sku="SKU-K", flags=("missing_accessories", "wrong_item"), order_id="O-A")
    graded(store, 5, sku="SKU-K", order_id="O-A")
    with store.read() as s:
        assert history_counts(s, policy, "SKU-H", "O-B") == (1, 0)
        assert history_counts(s, policy, "SKU-K", "O-A") == (1, 2)
        assert history_counts(s, policy, "SKU-NEW", "") == (0, 0)
    graded(store, 6, sku="SKU-H", flags=("empty_box",), order_id="O-C")
    graded(store, 7, sku="SKU-H", flags=("empty_box",), order_id="O-C")
    with store.read() as s:
        assert history_counts(s, policy, "SKU-H", "O-C") == (2, 2)  # capped at the threshold


def test_the_history_lookups_use_their_indexes(store, policy):
    with store.read() as s:
        plan = " | ".join(explain_plan(s, policy))
    assert "ix_unit_flagged_sku" in plan, plan
    assert "ix_rma_order_id" in plan, plan
    assert "SCAN unit" not in plan.replace("SCAN unit USING", ""), plan


def test_receiving_with_policy_triage_routes_and_flags_the_unit(store, bench, policy):
    bench = dataclasses.replace(bench, triage=make_triage(policy))
    add_rma(store, "RMA-T-1", [dict(sku="PHN-9", description="Phone", category="phones",
                                     reason_code="defective", unit_price="699.00")])
    add_rma(store, "RMA-T-2", [dict(sku="APP-9", description="Socks", category="apparel",
                                     reason_code="fraud_suspected", unit_price="4.00")])
    op = sign_in(store, bench, ScanEvent("OP-1001", "test", None, utcnow()), "1001").operator
    scan = ScanEvent("RMA-T-1", "test", None, utcnow())
    first = receive_line(store, bench, op, "RMA-T-1", 1, scan)
    second = receive_line(store, bench, op, "RMA-T-2", 1, ScanEvent("RMA-T-2", "test", None, utcnow()))
    assert first.unit.lane == "express" and second.unit.lane == "specialist"
    with store.read() as s:
        u1, u2 = s.get(Unit, first.unit.lpn), s.get(Unit, second.unit.lpn)
        ev = s.exec(select(Event).where(Event.kind == "unit_received", Event.lpn == u2.lpn)).one()
    assert u2.risk_flags == ["fraud_suspected"] and u1.risk_flags == []
    assert u1.sla_due_at - u1.received_at == timedelta(hours=8)
    assert ev.payload["lane"] == "specialist" and ev.payload["risk_flags"] == ["fraud_suspected"]
    assert "risky reason fraud_suspected" in ev.payload["lane_reason"]


def test_triage_for_home_follows_the_policy_in_force(home, store, bench):
    from dockstation.policy import triage_for_home
    from dockstation.models import Rma, RmaLine

    triage = triage_for_home(home)
    rma = Rma(rma_id="R", order_id="")
    line = RmaLine(rma_id="R", line_no=1, sku="S", category="apparel", unit_price=Decimal("49.99"))
    with store.read() as s:
        assert triage(s, rma, line).name == "standard"
    (home / "config" / "policy.toml").write_text('[triage]\ndensity = [{ at_least = "0", lane = "bulk" }]\n')
    with store.read() as s:
        assert triage(s, rma, line).name == "bulk"
