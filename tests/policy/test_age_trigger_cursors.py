"""Issue 20: where each trigger's pass got to is kept in the store (v14 `trigger_cursor`), so a
restarted bench resumes from it instead of reading every trigger's whole range — and a trigger
still fires exactly once per unit across a killed process, a clock set back, a new policy
version (which makes every trigger read its whole range again) and a pass cut off half-way.

"A whole read" is seen in the candidates a pass reads: units whose wait began long ago and that
the trigger's filter refuses in Python (the SKU prefix is not in SQL) are read by a whole read
only; a pass from the cursors reads none of them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from dockstation.models import AgeFiring, Unit
from dockstation.policy import load_policy, trigger_due
from dockstation.policy.triggers import run_pass
from dockstation.store import Store
from policy_support import events_of, graded

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]
OLD = 5  # units whose wait began long ago that the filter refuses: what a whole read reads

TRIGGER = """
[[age_triggers]]
id = "ab-3d"
state = "received"
after_days = 3
when = { sku_prefix = "AB" }
action = "escalate"
reason = "An AB item waiting 3 days"
"""


def received(store: Store, n: int, at: datetime, sku: str) -> str:
    lpn = graded(store, n, at=at, state="received", grade=None, sku=sku)
    with store.write() as s:
        u = s.get(Unit, lpn)
        u.received_at, u.inspected_at, u.grade, u.updated_at = at, None, None, at
        s.add(u)
    return lpn


@pytest.fixture
def setup(home, store):
    (home / "config" / "policy.toml").write_text(TRIGGER)
    for n in range(OLD):
        received(store, 100 + n, T0 - timedelta(days=30), sku=f"ZZ-{n}")
    return load_policy(home)


def forget(store: Store) -> None:
    """What a new process does not have: this one's cursors and own changes in memory."""
    for kept in (trigger_due._CURSORS, trigger_due._OWN, trigger_due._PERSISTED):
        kept.pop(str(store.path), None)


def stored(store: Store) -> dict[str, dict[str, str]]:
    with store.read() as s:
        return {tid: json.loads(c) for tid, c in s.connection().exec_driver_sql(
            "SELECT trigger_id, cursor FROM trigger_cursor")}


def fired(store: Store) -> list[tuple[str, str]]:
    with store.read() as s:
        return sorted((f.lpn, f.trigger_id) for f in s.exec(select(AgeFiring).where(AgeFiring.status == "fired")))


def test_a_killed_bench_resumes_from_the_stored_cursors_and_fires_nothing_twice(home, store, setup):
    first = received(store, 1, T0, sku="AB-1")
    # a bench process runs a pass that fires, then is killed (no clean shutdown)
    script = textwrap.dedent(f"""
        import os, signal, sys
        from datetime import datetime
        from pathlib import Path
        sys.path.insert(0, {str(ROOT)!r})
        from dockstation.policy import load_policy
        from dockstation.policy.triggers import run_pass
        from dockstation.store import Store
        home = Path({str(home)!r})
        store = Store.in_home(home)
        out = run_pass(store, "B07", load_policy(home), now=datetime.fromisoformat({(T0 + timedelta(days=3, minutes=1)).isoformat()!r}))
        print(len(out.fired), out.candidates, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "DOCKSTATION_HOME": str(home)})
    assert proc.returncode == -9, proc.stderr
    assert proc.stdout.split() == ["1", str(OLD + 1)]  # its first pass: the whole range
    assert fired(store) == [(first, "ab-3d")]
    # this process never ran a pass on this store: the cursors come from the store
    assert trigger_due.load_cursors(store)["ab-3d"]["cutoff"] == trigger_due.db_time(T0 + timedelta(minutes=1))
    second = received(store, 2, T0 + timedelta(minutes=30), sku="AB-2")
    out = run_pass(store, "B07", setup, now=T0 + timedelta(days=3, minutes=31))  # within the hour: no safety net
    assert [(f.lpn, f.trigger_id) for f in out.fired] == [(second, "ab-3d")]
    assert out.candidates == 1  # the window since the stored cutoff, not the whole range
    assert fired(store) == sorted([(first, "ab-3d"), (second, "ab-3d")])
    assert len(events_of(store, first, "age_trigger_fired")) == 1


def test_without_stored_cursors_a_restart_reads_the_whole_range(store, setup):
    received(store, 1, T0, sku="AB-1")
    run_pass(store, "B07", setup, now=T0 + timedelta(days=3, minutes=1))
    forget(store)
    assert run_pass(store, "B07", setup, now=T0 + timedelta(days=3, minutes=2)).candidates == 0
    with store.write() as s:
        s.connection().exec_driver_sql("DELETE FROM trigger_cursor")
    forget(store)
    assert run_pass(store, "B07", setup, now=T0 + timedelta(days=3, minutes=3)).candidates == OLD


def test_a_clock_set_back_after_a_restart_reads_everything_again_and_fires_nothing_twice(store, setup):
    lpn = received(store, 1, T0, sku="AB-1")
    assert len(run_pass(store, "B07", setup, now=T0 + timedelta(days=3, minutes=1)).fired) == 1
    forget(store)
    back = run_pass(store, "B07", setup, now=T0 + timedelta(days=1))  # the bench's clock was wrong
    assert back.fired == [] and back.candidates == OLD  # whole range (the fired unit: skipped in SQL)
    forget(store)
    forward = run_pass(store, "B07", setup, now=T0 + timedelta(days=5))
    assert forward.fired == [] and forward.candidates == OLD  # the stored cutoff went back: read again
    assert fired(store) == [(lpn, "ab-3d")] and len(events_of(store, lpn, "age_trigger_fired")) == 1


def test_a_new_policy_version_invalidates_the_cursors(home, store, setup):
    received(store, 1, T0, sku="AB-1")
    run_pass(store, "B07", setup, now=T0 + timedelta(days=3, minutes=1))
    assert stored(store)["ab-3d"]["version"] == setup.version
    assert run_pass(store, "B07", setup, now=T0 + timedelta(days=3, minutes=2)).candidates == 0
    (home / "config" / "policy.toml").write_text('version = "site-2"\n' + TRIGGER)  # same trigger, new version
    v2 = load_policy(home)
    assert v2.version == "site-2" and v2.age_triggers == setup.age_triggers
    forget(store)  # across a restart too
    out = run_pass(store, "B07", v2, now=T0 + timedelta(days=3, minutes=3))
    assert out.candidates == OLD and out.fired == []
    assert stored(store)["ab-3d"]["version"] == "site-2"


def test_a_pass_cut_off_half_way_leaves_the_stored_cursors_behind(store, setup, monkeypatch):
    lpns = [received(store, n, T0, sku=f"AB-{n}") for n in (1, 2)]
    from dockstation.policy import triggers

    real, calls = triggers.apply_items, []

    def dies_on_the_second_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk gone")
        return real(*args, **kwargs)

    monkeypatch.setattr(triggers, "apply_items", dies_on_the_second_batch)
    with pytest.raises(OSError):
        run_pass(store, "B07", setup, now=T0 + timedelta(days=3, minutes=1), batch=1)
    assert stored(store) == {} and len(fired(store)) == 1  # the first batch committed, no cursor
    monkeypatch.setattr(triggers, "apply_items", real)
    forget(store)
    out = run_pass(store, "B07", setup, now=T0 + timedelta(days=3, minutes=2))
    assert len(out.fired) == 1 and fired(store) == sorted((lpn, "ab-3d") for lpn in lpns)


def test_a_quiet_pass_writes_its_cursors_only_when_the_stored_ones_are_stale(store, setup, monkeypatch):
    received(store, 1, T0, sku="AB-1")
    run_pass(store, "B07", setup, now=T0 + timedelta(days=3, minutes=1))  # fired: written with it
    written = stored(store)["ab-3d"]["cutoff"]
    assert run_pass(store, "B07", setup, now=T0 + timedelta(days=3, minutes=2)).fired == []
    assert stored(store)["ab-3d"]["cutoff"] == written  # nothing fired, the stored copy is fresh: no write
    monkeypatch.setattr(trigger_due, "PERSIST_EVERY", timedelta(0))
    run_pass(store, "B07", setup, now=T0 + timedelta(days=3, minutes=3))
    assert stored(store)["ab-3d"]["cutoff"] == trigger_due.db_time(T0 + timedelta(minutes=3))


def test_an_unreadable_stored_cursor_means_a_whole_read(store, setup):
    received(store, 1, T0, sku="AB-1")
    run_pass(store, "B07", setup, now=T0 + timedelta(days=3, minutes=1))
    with store.write() as s:
        s.connection().exec_driver_sql("UPDATE trigger_cursor SET cursor = '{not json'")
    forget(store)
    assert run_pass(store, "B07", setup, now=T0 + timedelta(days=3, minutes=2)).candidates == OLD
