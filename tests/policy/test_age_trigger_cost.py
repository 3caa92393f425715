"""Issue 20, the pass's cost: what a pass reads again after it changed units itself, and that the
shortcuts never miss a unit (a trigger whose filter looks at the lane sees a trigger's lane move;
a unit changed otherwise after a trigger changed it is read again); the bulk write path writes
what the one-unit path did (events with gap-free seqs, one firing row each), its events formatted
byte for byte as events.record formats them (events.Batch)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from sqlmodel import select

from dockstation import events
from dockstation.models import AgeFiring, Event, Unit
from dockstation.policy import load_policy
from dockstation.policy.triggers import run_pass
from policy_support import events_of, graded, unit

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)

MOVE = """
[[age_triggers]]
id = "ungraded-3d"
state = "received"
after_days = 3
action = "lane"
lane = "express"
reason = "Waiting 3 days to be graded: grade it next"
"""

EXPRESS_1D = """
[[age_triggers]]
id = "express-1d"
state = "received"
after_days = 1
when = { lane = "express" }
action = "escalate"
reason = "In the express lane and still waiting"
"""

PHONES_1D = """
[[age_triggers]]
id = "phones-1d"
state = "received"
after_days = 1
when = { category = "phones" }
action = "escalate"
reason = "A phone waiting a day"
"""


def received(store, n: int, *, category: str = "apparel", at: datetime = T0) -> str:
    lpn = graded(store, n, category=category, at=at, state="received", grade=None)
    with store.write() as s:
        u = s.get(Unit, lpn)
        u.received_at, u.inspected_at, u.grade, u.lane, u.updated_at = at, None, None, "bulk", at
        s.add(u)
    return lpn


def fired(store) -> list[tuple[str, str]]:
    with store.read() as s:
        return sorted((f.lpn, f.trigger_id) for f in s.exec(select(AgeFiring).where(AgeFiring.status == "fired")))


def test_a_lane_filter_sees_a_lane_a_trigger_moved(home, store):
    (home / "config" / "policy.toml").write_text(MOVE + EXPRESS_1D)
    policy = load_policy(home)
    lpn = received(store, 1)
    assert run_pass(store, "B07", policy, now=T0 + timedelta(days=2)).fired == []  # in bulk: not for express-1d
    (move,) = run_pass(store, "B07", policy, now=T0 + timedelta(days=3, minutes=1)).fired
    assert move.trigger_id == "ungraded-3d" and unit(store, lpn).lane == "express"
    # its wait began long before express-1d's last cutoff: only "changed since" can bring it back
    (esc,) = run_pass(store, "B07", policy, now=T0 + timedelta(days=3, minutes=2)).fired
    assert (esc.lpn, esc.trigger_id) == (lpn, "express-1d")


def test_units_only_a_trigger_changed_are_not_read_again_but_other_changes_are(home, store):
    (home / "config" / "policy.toml").write_text(MOVE + PHONES_1D)
    policy = load_policy(home)
    lpns = [received(store, n) for n in range(1, 31)]
    run_pass(store, "B07", policy, now=T0 + timedelta(days=2))
    out = run_pass(store, "B07", policy, now=T0 + timedelta(days=3, minutes=1))
    assert len(out.fired) == 30 and {unit(store, lpn).lane for lpn in lpns} == {"express"}
    # the next pass: 30 units changed since, all by the pass itself, nothing a filter looks at
    quiet = run_pass(store, "B07", policy, now=T0 + timedelta(days=3, minutes=2))
    assert quiet.candidates == 0 and quiet.fired == []
    # a unit changed otherwise after the trigger changed it (it turned out a phone) is read again
    with store.write() as s:
        u = s.get(Unit, lpns[7])
        u.category, u.updated_at = "phones", T0 + timedelta(days=3, minutes=2, seconds=30)
        s.add(u)
    (esc,) = run_pass(store, "B07", policy, now=T0 + timedelta(days=3, minutes=3)).fired
    assert (esc.lpn, esc.trigger_id) == (lpns[7], "phones-1d")
    assert fired(store) == sorted([(lpn, "ungraded-3d") for lpn in lpns] + [(lpns[7], "phones-1d")])


def test_a_bulk_batch_writes_one_event_and_one_row_per_firing(home, store):
    (home / "config" / "policy.toml").write_text(MOVE + PHONES_1D)
    policy = load_policy(home)
    lpns = [received(store, n, category="phones" if n % 2 else "apparel") for n in range(1, 41)]
    with store.read() as s:
        before = s.connection().exec_driver_sql("SELECT max(seq) FROM event WHERE station_id = 'B07'").scalar()
    out = run_pass(store, "B07", policy, now=T0 + timedelta(days=3, minutes=1), batch=7)
    assert len(out.fired) == 40 + 20
    with store.read() as s:
        evs = list(s.exec(select(Event).where(Event.kind == "age_trigger_fired").order_by(Event.seq)))
        rows = {(f.lpn, f.trigger_id): f for f in s.exec(select(AgeFiring))}
    assert [e.seq for e in evs] == list(range((before or 0) + 1, (before or 0) + 61))  # gap-free, continuing
    assert {(e.lpn, e.payload["trigger_id"]) for e in evs} == set(rows)
    for e in evs:
        f = rows[(e.lpn, e.payload["trigger_id"])]
        assert f.event_seq == e.seq and f.status == "fired" and f.fired_at == T0 + timedelta(days=3, minutes=1)
    lane = [e for e in events_of(store, lpns[0], "age_trigger_fired") if e.payload["action"] == "lane"][0]
    assert lane.payload["previous"] == "bulk" and lane.payload["target"] == "express"
    assert lane.payload["sla_due_at"] == (T0 + timedelta(days=3, minutes=1, hours=8)).isoformat()
    assert run_pass(store, "B07", policy, now=T0 + timedelta(days=4)).fired == []  # once per unit and trigger


def test_a_path_filter_sees_a_reroute_made_in_the_same_batch_as_a_lane_move(home, store):
    (home / "config" / "policy.toml").write_text(MOVE + """
[[age_triggers]]
id = "liquidate-3d"
state = "received"
after_days = 3
action = "reroute"
path = "liquidate"
reason = "Waiting 3 days: liquidate"

[[age_triggers]]
id = "liquidating-1d"
state = "received"
after_days = 1
when = { path = "liquidate" }
action = "escalate"
reason = "Going to liquidation and still waiting"
""")
    policy = load_policy(home)
    lpn = received(store, 1)
    assert run_pass(store, "B07", policy, now=T0 + timedelta(days=2)).fired == []  # no path yet
    moved = run_pass(store, "B07", policy, now=T0 + timedelta(days=3, minutes=1)).fired
    assert sorted(f.trigger_id for f in moved) == ["liquidate-3d", "ungraded-3d"]  # one batch, one unit
    (esc,) = run_pass(store, "B07", policy, now=T0 + timedelta(days=3, minutes=2)).fired
    assert (esc.lpn, esc.trigger_id) == (lpn, "liquidating-1d")


def raw_events(store, kind: str) -> list[tuple]:
    conn = store.raw_connection()
    try:
        return conn.execute("SELECT seq, station_id, kind, at, typeof(at), operator, lpn, rma_id, payload, "
                            "typeof(payload) FROM event WHERE kind = ? ORDER BY seq", (kind,)).fetchall()
    finally:
        conn.close()


def test_a_bulk_written_event_is_byte_for_byte_one_written_by_events_record(home, store):
    at = datetime(2026, 11, 2, 10, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))  # not UTC: stored as UTC
    payload = {"price": Decimal("19.90"), "note": "Ünïcode ✓ \"quoted\"", "since": T0 + timedelta(microseconds=7),
               "none": None, "list": [1, 2.5, "x"], "nested": {"b": 1, "a": [True]}}
    with store.write() as s:
        events.record(s, "B07", "probe_one", lpn="B07-1", rma_id="RMA-1", payload=payload, at=at)
        batch = events.Batch(s.connection(), "B07")
        seqs = [batch.add("probe_one", at=at, lpn="B07-1", rma_id="RMA-1", payload=payload),
                batch.add("probe_one", at=at, lpn="B07-1", rma_id="RMA-1", payload=payload)]
        batch.write()
    one, *bulk = raw_events(store, "probe_one")
    assert seqs == [one[0] + 1, one[0] + 2] and [b[0] for b in bulk] == seqs  # continuing the station's
    assert all(b[1:] == one[1:] for b in bulk)  # time text, JSON text, their storage classes: the same bytes
    assert one[3] == "2026-11-02 08:00:00.123456" and one[4] == one[9] == "text"

    # and a trigger's event (the pass writes through events.Batch) is what events.record writes
    (home / "config" / "policy.toml").write_text(MOVE)
    received(store, 1)
    run_pass(store, "B07", load_policy(home), now=T0 + timedelta(days=3, minutes=1))
    (fired_row,) = raw_events(store, "age_trigger_fired")
    with store.write() as s:
        events.record(s, "B07", "age_trigger_fired", lpn=fired_row[6], rma_id=fired_row[7],
                      payload=json.loads(fired_row[8]), at=T0 + timedelta(days=3, minutes=1))
    again = raw_events(store, "age_trigger_fired")[1]
    assert again[0] == fired_row[0] + 1 and again[1:] == fired_row[1:]


def test_a_unit_changed_otherwise_at_the_very_stamp_of_a_mass_firing_is_read_again(home, store):
    (home / "config" / "policy.toml").write_text(MOVE + PHONES_1D)
    policy = load_policy(home)
    lpns = [received(store, n) for n in range(1, 21)]
    stamp = T0 + timedelta(days=3, minutes=1)
    later = received(store, 99, at=T0 + timedelta(days=2))  # not yet due for the lane move
    run_pass(store, "B07", policy, now=stamp - timedelta(minutes=30))  # within the hour: no safety net below
    assert len(run_pass(store, "B07", policy, now=stamp).fired) == 20  # the stamp on 20 units
    with store.write() as s:  # found to be a phone, by a writer whose clock read the same instant
        u = s.get(Unit, later)
        u.category, u.updated_at = "phones", stamp
        s.add(u)
    # only "changed since" brings it back (its wait began before the last cutoff), and its
    # updated_at is the mass firing's own stamp: told apart from the 20 by the set difference
    (esc,) = run_pass(store, "B07", policy, now=stamp + timedelta(minutes=1)).fired
    assert (esc.lpn, esc.trigger_id) == (later, "phones-1d")
    assert fired(store) == sorted([(lpn, "ungraded-3d") for lpn in lpns] + [(later, "phones-1d")])


ZZ_1D = """
[[age_triggers]]
id = "zz-1d"
state = "received"
after_days = 1
when = { sku_prefix = "ZZ" }
action = "escalate"
reason = "A ZZ item waiting a day"
"""


def test_after_a_restart_right_after_a_mass_firing_its_firings_say_what_it_changed(home, store):
    from dockstation.policy import trigger_due

    (home / "config" / "policy.toml").write_text(MOVE + ZZ_1D + EXPRESS_1D)
    policy = load_policy(home)
    lpns = [received(store, n) for n in range(1, 31)]
    stamp = T0 + timedelta(days=3, minutes=1)
    run_pass(store, "B07", policy, now=stamp - timedelta(minutes=30))  # within the hour: no safety net below
    assert len(run_pass(store, "B07", policy, now=stamp).fired) == 30  # lane moves, stamped
    for kept in (trigger_due._CURSORS, trigger_due._OWN, trigger_due._PERSISTED):  # a restart
        kept.pop(str(store.path), None)
    with store.write() as s:  # and one of them changed otherwise since
        u = s.get(Unit, lpns[3])
        u.sku, u.updated_at = "ZZ-1", stamp + timedelta(seconds=30)
        s.add(u)
    out = run_pass(store, "B07", policy, now=stamp + timedelta(minutes=1))
    # zz-1d reads only the unit changed otherwise (not the 30 the firing stamped); express-1d, a
    # lane filter, reads the 30 lane moves and escalates them
    assert out.candidates == 1 + 30
    assert sorted((f.lpn, f.trigger_id) for f in out.fired) == sorted(
        [(lpns[3], "zz-1d")] + [(lpn, "express-1d") for lpn in lpns])
