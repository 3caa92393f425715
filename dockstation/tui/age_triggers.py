"""Age triggers at the bench (policy/triggers.py): on a timer and when the lead screen refreshes.

A pass never holds a scan up: its read half (`due`, one read transaction, WAL) runs in a thread
worker; what it found is applied by jobs of the app's one scan dispatcher, one short batch per
job (`triggers.BATCH` units, its own write transaction, in a thread), each batch queued only
after the last one ran, so scans that arrive meanwhile go in between. Between two scans is also
when the units open on a screen are known for sure (nothing opens a unit but the dispatcher):
those, and units mid-inspection, are left alone — the trigger applies after (`deferred`).

Mixed into BenchApp, which provides store, bench, clock, home, screen_stack, enqueue_job, in_thread.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dockstation.policy.config import PolicyConfig
    from dockstation.policy.triggers import Due, PassResult
    from dockstation.tui.app import BenchApp

log = logging.getLogger("dockstation.tui")


class AgeTriggerMixin:
    age_running: bool = False
    age_passes: int = 0  # passes finished (tests wait on it)
    age_last: PassResult | None = None

    def start_age_triggers(self: BenchApp) -> None:
        policy = self.age_policy()
        minutes = policy.age_check_minutes if policy is not None else 5.0
        self.set_interval(minutes * 60, self.run_age_triggers, name="age-triggers")

    def age_policy(self: BenchApp) -> PolicyConfig | None:
        from dockstation.config import ConfigError
        from dockstation.policy.config import policy_for_home

        pinned = getattr(self, "policy", None)  # pinned with HQ (services.py)
        if pinned is not None:
            return pinned  # type: ignore[no-any-return]
        try:
            return policy_for_home(self.home)
        except ConfigError as exc:  # no good policy at all: the screens say so; nothing to apply
            log.warning("age triggers: no policy: %s", exc)
            return None

    def busy_lpns(self: BenchApp) -> frozenset[str]:
        """The units open on a screen now (inspection, disposition): not to be changed under them."""
        return frozenset(lpn for s in self.screen_stack if isinstance(lpn := getattr(s, "lpn", None), str))

    def run_age_triggers(self: BenchApp) -> None:
        """Start a pass unless one is running (the timer, the lead screen's refresh)."""
        if self.age_running or not self._core_ready.is_set():
            return
        policy = self.age_policy()
        if policy is None or not policy.age_triggers:
            return
        self.age_running = True
        now = self.clock()
        self.run_worker(lambda: self._age_read(policy, now), name="age-triggers", group="age-triggers",
                        thread=True, exit_on_error=False)

    def _age_read(self: BenchApp, policy: PolicyConfig, now: datetime) -> None:  # a worker thread
        from dockstation.policy.triggers import due, load_cursors

        try:
            _seen, dues, cursors = due(self.store, policy, now, load_cursors(self.store))
        except Exception:  # noqa: BLE001 - the next pass tries again; the bench goes on
            log.exception("age triggers: reading the waiting units failed")
            self.call_from_thread(self._age_done, None, None)
            return
        self.call_from_thread(self.enqueue_job, lambda: self._age_batch(policy, now, dues, cursors, 0, None))

    async def _age_batch(self: BenchApp, policy: PolicyConfig, now: datetime, dues: list[Due],
                         cursors: dict[str, Any], start: int, result: PassResult | None) -> None:
        from dockstation.policy.triggers import BATCH, apply, retry_deferred

        try:
            busy = self.busy_lpns()
            station = self.bench.station_id
            if result is None:  # the first job: what waited for its unit to be free goes first
                result = await self.in_thread(retry_deferred, self.store, station, policy, now=now, busy=busy)
            chunk = dues[start:start + BATCH]
            if chunk:
                await self.in_thread(apply, self.store, station, policy, chunk, now=now, busy=busy, result=result)
        except Exception:  # noqa: BLE001 - logged; nothing half-applied (one transaction a batch)
            log.exception("age triggers: applying failed")
            self._age_done(None, None)
            return
        if start + BATCH < len(dues):  # behind any scan that came meanwhile
            self.enqueue_job(lambda: self._age_batch(policy, now, dues, cursors, start + BATCH, result))
        else:
            self._age_done(result, cursors)

    def _age_done(self: BenchApp, result: PassResult | None, cursors: dict[str, Any] | None) -> None:
        from dockstation.policy.triggers import save_cursors

        if cursors is not None:
            save_cursors(self.store, cursors)
        self.age_running = False
        self.age_passes += 1
        self.age_last = result
        if result is not None and result.fired:
            log.info("age triggers: %d fired, %d deferred", len(result.fired), result.deferred)
            screen = self.screen
            if getattr(screen, "id", None) == "lead":  # the lead sees what moved now
                screen.action_refresh()  # type: ignore[attr-defined]
