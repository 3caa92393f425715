"""A configuration pulled from HQ is applied by the running bench: between scans, never in the
middle of a unit's inspection, all parts at once, with a notice; a bad one never reaches the app.

The real bench app (Textual Pilot) syncing to a real uvicorn HQ on loopback that serves a config
directory of the test's own, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import shutil
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from netfaults import HQServer

from dockstation.config import package_config_dir
from dockstation.models import Rma, RmaLine, Unit
from dockstation.policy.config import policy_for_home
from dockstation.scan import ScanEvent
from dockstation.tui.app import BenchApp
from dockstation.tui.inspect import InspectScreen
from dockstation.tui.receive import ReceiveScreen
from dockstation.types import utcnow
from sync import station_store as st
from sync.bundle import build_bundle
from sync.hq.app import create_app

OPERATORS = """
[[operators]]
badge = "9001"
name = "Lee Lead"
role = "lead"
"""


@pytest.fixture
def hq_config(tmp_path: Path) -> Path:
    """HQ's config directory: the package defaults, changed by the test while HQ runs."""
    target = tmp_path / "hq-config"
    shutil.copytree(package_config_dir(), target, ignore=shutil.ignore_patterns("station.toml", "operators.toml"))
    return target


@pytest.fixture
def hq_served(hq_db, hq_config):
    server = HQServer(create_app(hq_db, config_dir=hq_config)).start()
    yield server
    server.stop()


def edit(path: Path, *changes: tuple[str, str]) -> None:
    text = path.read_text()
    for old, new in changes:
        assert old in text, (path, old)
        text = text.replace(old, new, 1)
    path.write_text(text)


def add_phone_rmas(store, n: int) -> None:
    now = utcnow()
    with store.write() as s:
        for i in range(1, n + 1):
            rma = f"RMA-2026-00000{i}"
            s.add(Rma(rma_id=rma, order_id=f"O-{i}", created_at=now - timedelta(days=2),
                      expires_at=now + timedelta(days=30), status="open", updated_at=now))
            s.add(RmaLine(rma_id=rma, line_no=1, sku="PHN-1", description="Phone X", category="phones",
                          reason_code="defective", unit_price=Decimal("699.00")))  # 699/12 min: express


async def wait(pilot, condition, what: str, deadline_s: float = 20.0) -> None:
    deadline = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.05)


async def scan(pilot, app: BenchApp, code: str) -> None:
    target = app.scans_done + 1
    app.enqueue_scan(ScanEvent(code, "keyboard", None, app.clock()))
    await wait(pilot, lambda: app.scans_done >= target, f"scan {code}")


def sla_hours(store, lpn: str) -> float:
    with store.read() as s:
        unit = s.get(Unit, lpn)
        return (unit.sla_due_at - unit.received_at).total_seconds() / 3600


def notices(app: BenchApp) -> list[str]:
    # notify() posts a message: a toast is listed here only once the app has handled it (wait for it)
    return [str(n.message) for n in app._notifications]  # Textual keeps the toasts shown


async def test_a_config_from_hq_applies_between_units_never_mid_inspection(hq_served, hq_config, make_bench):
    bench = make_bench(url=hq_served.url)  # syncs every second
    (bench.home / "config" / "operators.toml").write_text(OPERATORS)
    add_phone_rmas(bench.store, 2)
    v1 = build_bundle(hq_config).version
    assert bench.client().sync_once().outcome == "ok"  # yesterday's sync installed v1
    app = BenchApp(bench.home, store=bench.store, start_services=True)  # its triage follows the policy
    app.wedge_enabled = False  # keys straight to the screens; scans through the dispatcher
    async with app.run_test(size=(100, 30)) as pilot:
        await wait(pilot, lambda: app.slots["sync"].level == "ok", "a sync with HQ")
        assert app.config_version == v1 and not any("from HQ" in n for n in notices(app))  # nothing new

        await scan(pilot, app, "OP-9001")
        await scan(pilot, app, "RMA-2026-000001")
        first = app.current_lpn
        assert first is not None and sla_hours(bench.store, first) == 8  # express under policy 2026.11-1
        await scan(pilot, app, first)
        await wait(pilot, lambda: isinstance(app.screen, InspectScreen) and app.screen.view is not None, "inspect")
        screen = app.screen
        await pilot.press("1")  # item in parcel: pass
        await wait(pilot, lambda: screen.view.step_index == 1, "step 1 answered")

        # HQ changes codes, policy (express lane 8 h -> 6 h) and the phones checklist
        edit(hq_config / "codes.toml", ('version = "2026.11-1"', 'version = "2026.12-1"'),
             ("[reason_codes]\n", '[reason_codes]\nprice_match = "Found it cheaper"\n'))
        edit(hq_config / "policy.toml", ('version = "2026.11-1"', 'version = "2026.12-1"'),
             ("sla_hours = 8\n", "sla_hours = 6\n"))
        edit(hq_config / "categories" / "phones.toml", ('version = "2026.11-1"', 'version = "2026.12-1"'),
             ('label = "Item in parcel"', 'label = "Phone in parcel"'))
        v2 = build_bundle(hq_config).version
        await wait(pilot, lambda: st.kv_get(bench.store, st.CONFIG_VERSION) == v2, "v2 installed by the sync client")
        assert policy_for_home(bench.home).version == "2026.12-1"  # on disk already ...
        await pilot.pause(1.5)  # ... several apply attempts later
        # ... but the unit under inspection finishes on the configuration it started with
        assert app.config_version == v1 and app.screen is screen
        assert app.policy.version == "2026.11-1" and app.bench.triage.policy.version == "2026.11-1"
        assert "price_match" not in app.bench.codes.reason_codes
        assert app.checklists.get("phones").version == "2026.11-1" == screen.checklists.get("phones").version
        assert any(f"config v{v2[:12]} from HQ waits" in n and first in n for n in notices(app))
        await pilot.press("2")  # IMEI: not found (a fail, taken): the inspection goes on
        await wait(pilot, lambda: screen.view.step_index == 2, "step 2 answered")
        assert app.config_version == v1

        await pilot.press("escape")  # leave the unit (its inspection stays open): now it applies
        await wait(pilot, lambda: isinstance(app.screen, ReceiveScreen), "back to receiving")
        await wait(pilot, lambda: app.config_version == v2, "config v2 applied")
        await wait(pilot, lambda: f"config v{v2[:12]} from HQ applied" in notices(app), "the notice")
        # every part at once
        assert app.policy.version == "2026.12-1" and app.bench.triage.policy.version == "2026.12-1"
        assert "price_match" in app.bench.codes.reason_codes and app.config.codes is app.bench.codes
        assert app.checklists.get("phones").version == "2026.12-1"
        # the next unit gets the new lanes, the open inspection resumes on the new checklist
        await scan(pilot, app, "RMA-2026-000002")
        second = app.current_lpn
        assert second != first and sla_hours(bench.store, second) == 6
        await scan(pilot, app, first)
        await wait(pilot, lambda: isinstance(app.screen, InspectScreen) and app.screen.view is not None, "resume")
        assert app.screen.view.checklist.version == "2026.12-1" and app.screen.view.step_index == 2


async def test_a_bundle_the_bench_refuses_never_reaches_the_app(hq_served, hq_config, make_bench):
    bench = make_bench(url=hq_served.url)
    # This bench has a checklist of its own for drones; HQ will add a drones.toml of its own: valid
    # at HQ, refused at this bench (two checklists for one category).
    generic = (package_config_dir() / "categories" / "generic.toml").read_text()
    local = bench.home / "config" / "categories"
    local.mkdir()
    (local / "gadgets.toml").write_text(generic.replace('title = "Generic"', 'title = "Gadgets"')
                                        .replace('categories = ["other"]', 'categories = ["drones"]'))
    app = BenchApp(bench.home, store=bench.store, start_services=True)
    v1 = build_bundle(hq_config).version
    async with app.run_test(size=(100, 30)) as pilot:
        # the first pull of this bench (it had no HQ layer yet) is applied like any other
        await wait(pilot, lambda: app.config_version == v1, "config v1 applied")
        await wait(pilot, lambda: f"config v{v1[:12]} from HQ applied" in notices(app), "the notice")
        before: dict[str, Any] = {"policy": app.policy, "bench": app.bench, "checklists": app.checklists}
        edit(hq_config / "policy.toml", ('version = "2026.11-1"', 'version = "2026.12-1"'))
        (hq_config / "categories" / "drones.toml").write_text(
            generic.replace('title = "Generic"', 'title = "Drones"').replace('categories = ["other"]', "categories = []"))
        await wait(pilot, lambda: "HQ config refused" in app.slots["sync"].text, "the header says refused")
        assert "drones" in st.kv_get(bench.store, st.CONFIG_ERROR)
        await pilot.pause(1.0)
        assert app.config_version == v1 and st.kv_get(bench.store, st.CONFIG_VERSION) == v1
        assert app.policy is before["policy"] and app.bench is before["bench"]
        assert app.checklists is before["checklists"] and app.policy.version == "2026.11-1"
        assert policy_for_home(bench.home).version == "2026.11-1"  # the last good layer stays on disk too
        assert sum("from HQ applied" in n for n in notices(app)) == 1  # only v1's


async def test_a_config_installed_by_dockstation_sync_while_the_tui_runs_is_applied(hq_served, hq_config, make_bench):
    bench = make_bench(url=hq_served.url)
    (bench.home / "config" / "station.toml").write_text(  # the TUI's loop: once at start, then an hour
        f'station_id = "B07"\n[hq]\nurl = "{hq_served.url}"\ntoken = "{bench.token}"\ninterval_seconds = 3600\n')
    app = BenchApp(bench.home, store=bench.store, start_services=True)
    v1 = build_bundle(hq_config).version
    async with app.run_test(size=(100, 30)) as pilot:
        await wait(pilot, lambda: app.config_version == v1, "config v1 applied")
        edit(hq_config / "policy.toml", ('version = "2026.11-1"', 'version = "2026.12-1"'))
        v2 = build_bundle(hq_config).version
        # `dockstation sync --full` from cron, in its own process: its own client, no TUI callback
        assert (await app.in_thread(lambda: bench.client().sync_once(full=True))).config_updated
        await wait(pilot, lambda: app.config_version == v2, "config v2 applied by the running TUI")
        await wait(pilot, lambda: f"config v{v2[:12]} from HQ applied" in notices(app), "the notice")
        assert app.policy.version == "2026.12-1"
