"""An acknowledged scan survives `kill -9`: the unit and its event are in the store after it.

The real app in a real pty; as soon as the acknowledgement (the LPN) is on the terminal, the
process is killed with SIGKILL — no shutdown code runs. Reopening the store must find both the
unit and its `unit_received` event (the sync outbox), because the screen only ever shows a result
after its transaction committed.
"""

from __future__ import annotations

import signal

from sqlmodel import select
from test_pty_receive import BenchTerminal, terminal  # noqa: F401  (fixture)

from dockstation.models import Event, Unit
from dockstation.store import Store


def test_unit_acknowledged_on_screen_survives_sigkill(terminal, home, manifest):  # noqa: F811
    term: BenchTerminal = terminal()
    term.wait_for_text("Scan your badge")
    term.write(b"OP-2001\r1Z999AA10123456784\r")  # badge, then the parcel's UPS tracking label
    term.wait_for_text("Received B07-00000001")
    term.proc.send_signal(signal.SIGKILL)
    assert term.proc.wait(timeout=30) == -signal.SIGKILL

    store = Store.in_home(home)
    try:
        with store.read() as s:
            unit = s.get(Unit, "B07-00000001")
            assert unit is not None and unit.rma_id == "RMA-2026-000001" and unit.received_by == "2001"
            event = s.exec(select(Event).where(Event.kind == "unit_received")).one()
            assert event.lpn == "B07-00000001" and event.payload["code"] == "1Z999AA10123456784"
            # gap-free; the receipt label's job committed with the unit (the print worker may
            # have printed it before the kill: label_printed)
            kinds = [(e.seq, e.kind) for e in s.exec(select(Event).order_by(Event.seq))]
            assert kinds[:3] == [(1, "operator_signed_in"), (2, "unit_received"), (3, "label_queued")]
            assert [seq for seq, _ in kinds] == list(range(1, len(kinds) + 1))
    finally:
        store.close()
