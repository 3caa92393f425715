"""A unit's LPN scanned, its label reprinted (CMD:REPRINT, F5), the search (F7), F6 inspect.

A mixin of `BenchApp`. An LPN scan opens the unit where it stands: a grader inspects it (or sees
its disposition, when it is graded already), a lead may change a disposed unit's path, anyone
else is told where the unit goes; a disposed unit becomes the one a container scan sorts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dockstation.scan import Classified, ScanEvent
from dockstation.text import clean

if TYPE_CHECKING:
    from dockstation.receiving.core import UnitView
    from dockstation.tui.app import BenchApp


class UnitsMixin:
    """Mixed into BenchApp."""

    def _load_unit(self: BenchApp, lpn: str) -> UnitView | None:
        from dockstation.models import Unit
        from dockstation.receiving.core import UnitView

        with self.store.read() as session:
            unit = session.get(Unit, lpn)
            return UnitView.of(unit) if unit is not None else None

    async def _open_unit(self: BenchApp, scan: ScanEvent, c: Classified) -> None:
        view = await self.in_thread(self._load_unit, c.value)
        receive = await self.go_to_receive()
        if view is None:
            self.show_result("error", "NO UNIT", f"No unit {clean(c.value)} on this bench")
            return
        self.current_lpn = view.lpn
        self.unit_scanned(view.lpn, view.state)  # a disposed unit: the next container scan sorts it
        if view.state in ("disposed", "quarantined") and self.operator is not None and self.operator.role == "lead":
            from dockstation.tui.disposition import DispositionScreen  # a lead may change its path

            await self.push_screen(DispositionScreen(view.lpn))
            return
        if view.state in ("disposed", "quarantined", "voided"):
            receive.show_unit(scan, view, f"{view.state} — scan a container to sort it; CMD:REPRINT or F5 reprints its label")
            self.sound.play("attention")
        elif self.operator is not None and self.operator.can("grader"):
            if view.state in ("graded", "awaiting_approval"):  # inspected already: its disposition
                await self.push_screen(await self.disposition_for(view.lpn))
                return
            await self.inspect_unit(view.lpn)
        elif view.state == "awaiting_approval":
            receive.show_unit(scan, view, "it waits for a lead's approval: put it on the lead's shelf")
            self.sound.play("attention")
        else:
            receive.show_unit(scan, view, "A grader inspects this unit: put it on the inspection shelf")
            self.sound.play("attention")

    # -- results ---------------------------------------------------------------------------
    async def reprint(self: BenchApp) -> None:
        """Reprint the current unit's label: same LPN, counted and audited (labels.queue)."""
        from labels import LabelError
        from labels.queue import reprint

        lpn, op = self.current_lpn, self.operator
        if lpn is None or op is None:
            self.show_result("warn", "REPRINT", "Scan the unit's LPN first, then reprint")
            return
        try:
            job = await self.in_thread(reprint, self.store, self.bench.station_id, op.badge, lpn)
        except LabelError as exc:
            self.show_result("error", "NO LABEL", str(exc))
            return
        self.show_result("ok", "REPRINT", f"{lpn}: label reprint #{job.reprint} queued")

    def action_reprint(self: BenchApp) -> None:
        self.enqueue_job(self.reprint)

    async def open_search(self: BenchApp) -> None:
        """The search screen (tui/search.py), with the code of the exception just raised, if any."""
        from dockstation.tui.search import SearchScreen

        if isinstance(self.screen, SearchScreen):
            return
        await self.settle_screens()
        exc = self.last_exception
        text = exc[1] if exc else ""
        await self.push_screen(SearchScreen(text, exception_id=exc[0] if exc else None, code=text))

    def action_search(self: BenchApp) -> None:
        if self.operator is None:
            self.show_result("warn", "SCAN BADGE", "Sign in first, then search")
            return
        self.enqueue_job(self.open_search)

    def action_inspect(self: BenchApp) -> None:
        """Straight from receipt to inspection: open the current unit (as if its LPN was scanned)."""
        lpn = self.current_lpn
        if lpn is None:
            self.show_result("warn", "INSPECT", "Receive or scan a unit first")
            return
        self.enqueue_scan(ScanEvent(lpn, "keyboard", None, self.clock()))

