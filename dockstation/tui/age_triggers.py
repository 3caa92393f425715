"""Age triggers at the bench (policy/triggers.py): on a timer and when the lead screen refreshes.

A pass never holds a scan up: its read half (`due`, one read transaction, WAL) runs in a thread
worker; what it found is applied by jobs of the app's one scan dispatcher, one short batch per
job (`triggers.BATCH` units, its own write transaction, in a thread), each batch queued only
after the last one ran, so scans that arrive meanwhile go in between. Between two scans is also
when the units open on a screen are known for sure (nothing opens a unit but the dispatcher):
those, and units mid-inspection, are left alone — the trigger applies after (`deferred`).

The timer follows the policy in force: it looks at it every `AGE_TICK_S` at most (or sooner,
when the next pass is due sooner), so a changed `age_check_minutes` or new triggers — a policy.toml
edited on the bench, a policy pulled from HQ — apply without a restart; a new policy version
runs a pass at once.

Mixed into BenchApp, which provides store, bench, clock, home, screen_stack, enqueue_job, in_thread.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dockstation.policy.config import PolicyConfig
    from dockstation.policy.triggers import Due, PassResult
    from dockstation.tui.app import BenchApp

log = logging.getLogger("dockstation.tui")
DEFAULT_MINUTES = 5.0
YIELD_S = 0.2  # how long the next batch of a pass gives way to waiting scans, at most  # no policy: the timer still looks now and then (a good one may arrive)


class AgeTriggerMixin:
    AGE_TICK_S = 30.0  # how late a changed age_check_minutes is noticed, at most
    age_running: bool = False
    age_passes: int = 0  # passes finished (tests wait on it)
    age_last: PassResult | None = None
    age_version: str | None = None  # the policy version the timer last ran by
    age_minutes: float = DEFAULT_MINUTES  # its age_check_minutes
    _age_started: float = 0.0  # time.monotonic() of the last pass the timer started

    def start_age_triggers(self: BenchApp) -> None:
        policy = self.age_policy()
        self.age_version = policy.version if policy is not None else None
        self.age_minutes = policy.age_check_minutes if policy is not None else DEFAULT_MINUTES
        self._age_started = time.monotonic()  # the first pass one interval after start, as before
        self._age_schedule()

    def _age_schedule(self: BenchApp) -> None:
        due_in = self._age_started + self.age_minutes * 60 - time.monotonic()
        self.set_timer(max(0.01, min(self.AGE_TICK_S, due_in)), self._age_tick, name="age-triggers")

    def _age_tick(self: BenchApp) -> None:
        """The timer: the policy in force now decides whether a pass is due (a monotonic clock:
        the bench's wall clock may be set back or forward)."""
        if self.age_running:  # the lead's refresh started one: look again next tick
            self._age_schedule()
            return
        policy = self.age_policy()
        version = policy.version if policy is not None else None
        minutes = policy.age_check_minutes if policy is not None else DEFAULT_MINUTES
        changed = version != self.age_version
        if changed or minutes != self.age_minutes:
            log.info("age triggers: policy %s, a pass every %g min", version, minutes)
        self.age_version, self.age_minutes = version, minutes
        if changed or time.monotonic() - self._age_started >= minutes * 60:
            self._age_started = time.monotonic()
            self.run_age_triggers()
        self._age_schedule()

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
            last = start + BATCH >= len(dues)  # the last batch keeps the cursors too (store v14)
            if chunk or last:
                await self.in_thread(apply, self.store, station, policy, chunk, now=now, busy=busy, result=result,
                                     cursors=cursors if last else None)
        except Exception:  # noqa: BLE001 - logged; nothing half-applied (one transaction a batch)
            log.exception("age triggers: applying failed")
            self._age_done(None, None)
            return
        if start + BATCH < len(dues):
            self._age_next(lambda: self._age_batch(policy, now, dues, cursors, start + BATCH, result))
        else:
            self._age_done(result, cursors)

    def _age_next(self: BenchApp, job: Any, waited: float = 0.0) -> None:
        """Queue the next batch once no scan waits in the dispatcher (scans go first: a scan waits
        for one batch at most), or after YIELD_S anyway, so a pass also ends on a bench that
        never stops scanning."""
        if self._queue.empty() or waited >= YIELD_S:
            self.enqueue_job(job)
        else:
            self.set_timer(0.02, lambda: self._age_next(job, waited + 0.02))

    def _age_done(self: BenchApp, result: PassResult | None, cursors: dict[str, Any] | None) -> None:
        # the cursors were saved by the last batch's `apply` (`cursors` not None: the pass ended)
        self.age_running = False
        self.age_passes += 1
        self.age_last = result
        if result is not None and result.fired:
            log.info("age triggers: %d fired, %d deferred", len(result.fired), result.deferred)
            screen = self.screen
            if getattr(screen, "id", None) == "lead":  # the lead sees what moved now
                screen.action_refresh()  # type: ignore[attr-defined]
