"""The bench starts its background services: the print queue prints, the header shows it."""

from __future__ import annotations

from tui_helpers import burst, wait_for

from dockstation.models import Unit
from dockstation.types import utcnow
from labels.queue import enqueue_label


async def test_print_queue_runs_in_the_app_and_cmd_reprint_reprints(make_app, manifest, home):
    app = make_app(start_services=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.slots["printer"].text == "ok", "printer slot ok")
        burst(app, "OP-9001\rRMA-2026-000001\r")
        await wait_for(pilot, lambda: app.current_lpn is not None, "a received unit")
        lpn = app.current_lpn
        with app.store.write() as s:  # the policy feature disposes; here only the label matters
            unit = s.get(Unit, lpn)
            unit.disposition, unit.state, unit.disposed_at = "restock", "disposed", utcnow()
            enqueue_label(s, unit)
        spool = home / "spool"  # the receipt label (queued at receipt), then the disposition label
        await wait_for(pilot, lambda: len(list(spool.glob("*.zpl"))) == 2, "labels in the spool")
        burst(app, "CMD:REPRINT\r")
        await wait_for(pilot, lambda: len(list(spool.glob("*.zpl"))) == 3, "reprint in the spool")
    with app.store.read() as s:
        assert s.get(Unit, lpn).reprints == 1
    files = {p.name: p.read_bytes() for p in spool.glob("*.zpl")}
    reprinted = [data for data in files.values() if b"REPRINT" in data]
    assert len(reprinted) == 1 and lpn.encode() in reprinted[0]
    assert b"^FDRESTOCK^FS" in reprinted[0]  # the unit's latest label: its disposition label
    assert sum(b"^FDSTANDARD^FS" in data and b"RECEIVED" in data for data in files.values()) == 1  # the receipt
