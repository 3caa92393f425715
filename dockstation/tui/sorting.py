"""Sorting at the bench (docs/containers.md): after a disposition, into the container that takes it.

The unit to sort (`to_sort`) is the one just disposed at this bench, or a disposed unit whose LPN
was scanned. A container scan (`CT-…`, or a site's preprinted pattern) then puts it in:
- on the disposition screen, the decision shown is settled first (moving on accepts), then put;
- a container of another path or vendor, a full or closed one, is refused with the error sound
  before anything is stored (dockstation.containers.put raises, nothing is written);
- the same unit scanned, then another container: moved;
- `CMD:CLOSE` then a container closes it (an RTV box asks for the vendor's return authorisation:
  the next scan or typed code is taken as the RA number);
- an unknown preprinted container: scan it again to open it for the unit's path (and put it in).
Every result is shown only after its transaction committed; the core does the work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dockstation.scan import Classified, CodeKind, ScanEvent
from dockstation.text import clean

if TYPE_CHECKING:
    from dockstation.policy.dispose import DisposeOutcome


# What is never a return authorisation number while an RTV box waits for one (scan.py kinds).
NOT_AN_RA = (CodeKind.LPN, CodeKind.RMA, CodeKind.BADGE, CodeKind.COMMAND, CodeKind.INVALID)


class SortingMixin:
    """Mixed into BenchApp: the container scans and CMD:CLOSE (dispatch calls `container_scan`)."""

    to_sort: str | None = None  # the unit a container scan puts away
    closing: str | None = None  # "armed" after CMD:CLOSE; an RTV box's id while its RA is awaited
    offered: str | None = None  # an unknown preprinted container scanned once: again opens it

    # -- hooks --------------------------------------------------------------------------------
    def after_disposition(self, out: DisposeOutcome) -> str:
        """The disposition screen carried out a decision: remember the unit, and name the open
        container that takes it (a suffix for the screen's message), or say none is open."""
        if not out.ok:
            return ""
        self.to_sort, self.offered = out.lpn, None
        setattr(self, "current_lpn", out.lpn)  # the unit in hand (reprint, sorting)
        # settle read it in its transaction (policy/awaiting.py); other ways here (a lead's) did not
        c = out.extra["container"] if "container" in out.extra else self._suggestion(out.lpn)
        if c is None:
            return f"→ no open container for {(out.path or '').replace('_', ' ')} (lead screen: open one) · "
        return f"→ {c.id} {c.destination or ''} ({c.units}/{c.capacity}) · "

    def unit_scanned(self, lpn: str, state: str) -> None:
        """A unit's LPN was scanned: a disposed one is the unit a container scan sorts (or moves)."""
        self.to_sort = lpn if state in ("disposed", "quarantined") else None

    def _suggestion(self, lpn: str) -> Any:
        from dockstation.containers import suggest
        from dockstation.models import Unit

        app: Any = self
        with app.store.read() as s:
            unit = s.get(Unit, lpn)
            return suggest(s, self._policy(), unit) if unit is not None else None

    def _policy(self) -> Any:
        app: Any = self
        from dockstation.tui.grading import required_policy

        return required_policy(app)

    # -- scans --------------------------------------------------------------------------------
    async def container_scan(self, scan: ScanEvent, c: Classified) -> bool:
        """CMD:CLOSE, a container, or (while an RTV close waits for it) the RA number. True if taken."""
        app: Any = self
        if c.kind is CodeKind.COMMAND and c.value == "CLOSE":
            self.closing = "armed"
            app.show_result("info", "CLOSE", "Scan the container to close")
            return True
        if self.closing not in (None, "armed") and c.kind is not CodeKind.CONTAINER:
            if c.kind in NOT_AN_RA:  # a unit, a parcel, a command: the close is off, the scan goes on
                waiting, self.closing = self.closing, None
                if c.kind is CodeKind.COMMAND and c.value == "CANCEL":
                    app.show_result("info", "CLOSE", f"{waiting} not closed")
                    return True
                return False
            await self._close(self.closing, authorisation=scan.code)
            return True
        if c.kind is not CodeKind.CONTAINER:
            self.closing = None  # CMD:CLOSE, then something else: the close is off
            return False
        if self.closing is not None:
            self.closing = None
            await self._close(c.value)
            return True
        from dockstation.tui.disposition import DispositionScreen

        screen = app.screen
        settle, lpn_on_screen = getattr(screen, "settle", None), getattr(screen, "lpn", None)
        # The disposition shown: moving on accepts it first, then the unit goes in.
        if isinstance(screen, DispositionScreen) and callable(settle) and lpn_on_screen:
            await settle()
            out = getattr(app.screen, "outcome", None)
            if out is not None and out.ok:
                self.to_sort = out.lpn
            elif out is not None and out.status == "unchanged":
                self.to_sort = lpn_on_screen  # a disposed unit shown again (a lead): a move
            else:
                await app.go_to_receive()
                app.show_result("error", "NOT SORTED", f"{lpn_on_screen} has no disposition yet: nothing put away")
                return True
            app.current_lpn = self.to_sort
            await app.go_to_receive()
        await self._put(c.value)
        return True

    async def _put(self, container_id: str) -> None:
        from dockstation.containers import ContainerError, get, put

        app: Any = self
        lpn, op = self.to_sort, app.operator
        if lpn is not None and getattr(app, "current_lpn", lpn) != lpn:
            lpn = self.to_sort = None  # another unit was received or opened since: not this one
        if lpn is None:
            known = await app.in_thread(get, app.store, container_id)
            if known is None:
                app.show_result("warn", "CONTAINER", f"No container {clean(container_id)} at this bench: "
                                "dispose a unit, then scan it to open it for that unit's path")
            else:
                app.show_result("info", known.id, f"{known.state} · {'+'.join(known.paths)} · "
                                f"{known.units}/{known.capacity} · value {known.value}: scan a disposed "
                                "unit's LPN first, then the container")
            return
        try:
            # One transaction: on the event loop when the database is free (tui/inline_store.py).
            run = app.inline_store.call if getattr(app, "inline_store", None) is not None else app.in_thread
            out = await run(put, app.store, app.bench.station_id, op.badge, lpn, container_id,
                            policy=self._policy())
        except ContainerError as exc:
            if exc.code == "unknown" and await self._offer(container_id, lpn):
                return
            app.show_result("error", "REFUSED", f"{exc}: nothing stored")
            return
        self.offered = None
        state = "info" if out.status == "already" else "ok"
        app.show_result(state, "MOVED" if out.status == "moved" else "SORTED", out.message)

    async def _offer(self, container_id: str, lpn: str) -> bool:
        """An unknown container: the bench's own pattern is never opened by a scan (its label came
        from a bench); a preprinted one is opened on the second scan, for the unit's path."""
        from dockstation.containers import open_container, put
        from dockstation.models import Unit

        app: Any = self
        pattern = app.config.codes.patterns.container_preprinted
        from dockstation.scan import _rx

        if not pattern or not _rx(pattern).match(container_id):
            return False
        if self.offered != container_id:
            self.offered = container_id
            app.show_result("warn", "NEW CONTAINER?", f"{clean(container_id)} is not open at this bench: "
                            "scan it again to open it for this unit's path")
            return True
        self.offered = None

        def work() -> Any:
            with app.store.read() as s:
                unit = s.get(Unit, lpn)
                path = unit.disposition if unit is not None else None
            if path is None:
                return None
            policy = self._policy()
            vendor = None
            if path == "vendor_return":
                from dockstation.policy.vendors import vendor_of

                vendor = vendor_of(policy, unit.category, unit.sku)  # type: ignore[union-attr]
            open_container(app.store, app.bench.station_id, app.operator.badge, policy=policy, paths=[path],
                           vendor=vendor, container_id=container_id)
            return put(app.store, app.bench.station_id, app.operator.badge, lpn, container_id, policy=policy)

        out = await app.in_thread(work)
        if out is None:
            return False
        app.show_result("ok", "OPENED", f"{container_id} opened; {out.message}")
        return True

    async def _close(self, container_id: str, authorisation: str | None = None) -> None:
        from dockstation.containers import ContainerError, close
        from dockstation.containers import manifest as mf

        app: Any = self
        grades = [g.code for g in app.config.codes.grades]

        def work() -> Any:
            c = close(app.store, app.bench.station_id, app.operator, container_id, authorisation=authorisation,
                      grade_order=grades)
            m = mf.load(app.store, c.id)
            if m is not None:  # the manifest can be written again any time (`containers manifest`)
                mf.write_files(m, app.home / "containers")
            return c

        try:
            c = await app.in_thread(work)
        except ContainerError as exc:
            if exc.code == "needs_authorisation":
                self.closing = container_id
                app.show_result("warn", "RA NEEDED", f"{exc}: scan or type it now (CMD:CANCEL: not closed)")
                return
            self.closing = None
            app.show_result("error", "NOT CLOSED", str(exc))
            return
        self.closing = None
        app.show_result("ok", "CLOSED", f"{c.id}: {c.units} units, value {c.value}, lot grade "
                        f"{c.lot_grade or '-'}; label queued, manifest written")
