"""The bench's background services: serial scanner readers, the print queue, the HQ sync loop.

Each runs a blocking loop in its own daemon thread and reports through thread-safe
`post_message`: scans as `ScanReceived` (into the one dispatcher queue), states as
`ServiceStatus` for the header slots, problems as `BenchWarning`. Daemon threads rather than the
event loop's executor: a loop stuck in a long network call cannot hold up quitting, and its work
is in SQLite transactions, safe to cut off.

A configuration pulled from HQ is applied without a restart (docs/sync.md, "Configuration from
HQ"): the sync client installs a bundle only after validating it (sync/bundle.py) and then calls
`on_config`; here, still in the sync thread, everything HQ may change — codes, checklists, policy
and the triage lanes from it — is loaded whole into a `PulledConfig`, posted to the app as
`ConfigPulled`, and swapped in by a job of the one scan dispatcher: between two scans, never
while a unit's inspection or disposition is open (it waits for that unit), all parts at once.
With HQ set, the bench runs on that snapshot: the policy and lanes do not follow files changing
under it, so an installed-but-not-yet-applied bundle is never half in force.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.message import Message

from dockstation.config import CodesConfig, ConfigError
from dockstation.text import clean
from dockstation.tui.messages import BenchWarning, ScanReceived, ServiceStatus

if TYPE_CHECKING:
    from dockstation.inspection import Checklists
    from dockstation.policy.config import PolicyConfig
    from dockstation.tui.app import BenchApp

log = logging.getLogger("dockstation.tui")
Service = Callable[[threading.Event, Callable[[str, str], None]], None]
CONFIG_RETRY_S = 0.5  # while a unit's inspection is open, look again this often


@dataclasses.dataclass(frozen=True)
class PulledConfig:
    """Everything a bundle from HQ may change on a running bench, loaded whole."""

    version: str
    codes: CodesConfig
    checklists: Checklists
    policy: PolicyConfig

    @property
    def short(self) -> str:
        return self.version[:12]


def load_pulled(home: Path, version: str) -> PulledConfig:
    """The configuration in force at `home` now (HQ's layer just switched): ConfigError if any
    part does not load — then nothing of it reaches the app."""
    from dockstation.config import load_layered
    from dockstation.inspection import load_checklists
    from dockstation.policy.config import load_policy

    codes = load_layered("codes.toml", CodesConfig, home, required=True)
    return PulledConfig(version, codes, load_checklists(home, codes), load_policy(home, codes))


class ConfigPulled(Message):
    """A bundle from HQ is installed and loaded (sync thread → app); the app applies it between scans."""

    def __init__(self, pulled: PulledConfig) -> None:
        super().__init__()
        self.pulled = pulled


def follows_policy(triage: Any) -> bool:
    """A triage made from the policy (dockstation.policy.triage) follows configuration changes;
    a fixed one handed to the app (tests, a custom build) is kept as it is."""
    return getattr(triage, "__module__", "") == "dockstation.policy.triage"


class ServicesMixin:
    """Mixed into BenchApp (which provides config, store, bench, home, slots, set_slot)."""

    def _start_printer(self: BenchApp) -> None:
        from labels import PrinterError
        from labels.queue import PrintQueue, spool_url

        printer = self.config.station.printer
        try:
            queue = PrintQueue(self.store, self.bench.station_id, printer.url or spool_url(self.home),
                               printer.template, printer.receipt_template)
        except PrinterError as exc:  # a bad URL: labels wait in the queue until it is fixed
            self.set_slot("printer", clean(exc.reason, limit=40), "error")
            return
        self.start_service("printer", queue.run)

    def _start_sync(self: BenchApp) -> None:
        if not self.config.station.hq.url:
            self.set_slot("sync", "no HQ", "off")
            return
        from sync.client import SyncClient

        self._pin_config()
        client = SyncClient(self.store, self.home, self.config.station, on_config=self._config_installed)

        def run(stop: threading.Event, status: Callable[[str, str], None]) -> None:
            def status_and_check(text: str, level: str = "ok") -> None:
                status(text, level)
                self._check_installed()

            client.run(stop, status_and_check)

        self.start_service("sync", run)
        from sync.photos import PhotoUploader  # photos after their events, in a thread of their own

        uploader = PhotoUploader(self.store, self.home, self.config.station)
        self.start_service("photos", uploader.run)

    # -- configuration pulled from HQ --------------------------------------------------------
    def _pin_config(self: BenchApp) -> None:
        """Run on the policy in force now, not on whatever file is on disk at the next unit: a
        pulled bundle then changes it only when it is applied, together with codes and checklists."""
        from dockstation.policy.config import policy_for_home
        from dockstation.policy.triage import make_triage
        from sync import station_store as st

        try:  # the HQ version this app loaded at start (the layer the last sync installed)
            self.config_version = st.kv_get(self.store, st.CONFIG_VERSION) or None
        except Exception as exc:  # noqa: BLE001 - display only
            log.warning("installed config version unknown: %s", exc)
            self.config_version = None
        self._config_seen = self.config_version
        if getattr(self, "policy", None) is None:
            try:
                self.policy = policy_for_home(self.home)
            except ConfigError as exc:  # no good policy here: screens load it as before
                log.warning("policy not pinned: %s", exc)
                return
        if follows_policy(self.bench.triage):
            self.bench = dataclasses.replace(self.bench, triage=make_triage(self.policy))

    def _check_installed(self: BenchApp) -> None:
        """In the sync thread, after each status: a version another process installed (the nightly
        `dockstation sync --full` while the TUI runs) is applied too; this client then sees nothing new."""
        from sync import station_store as st

        try:
            version = st.kv_get(self.store, st.CONFIG_VERSION)
        except Exception:  # noqa: BLE001 - the store is busy: next time
            return
        if version and version != getattr(self, "_config_seen", None):
            self._config_installed(version)

    def _config_installed(self: BenchApp, version: str) -> None:
        """SyncClient's `on_config`, in the sync thread: load the new configuration whole, hand it over."""
        self._config_seen = version
        try:
            pulled = load_pulled(self.home, version)
        except ConfigError as exc:  # validated at install; only a local file changed meanwhile
            log.error("config %s from HQ not applied: %s", version[:12], exc)
            self._post(BenchWarning(f"config v{version[:12]} from HQ not applied, the current one stays: {exc}"))
            return
        self._post(ConfigPulled(pulled))

    def _post(self: BenchApp, message: Message) -> None:
        try:
            self.post_message(message)
        except RuntimeError:  # the app's loop is already closed
            pass

    def on_config_pulled(self: BenchApp, message: ConfigPulled) -> None:
        self._config_pending = message.pulled  # a newer one replaces one still waiting
        self._offer_config()

    def _offer_config(self: BenchApp) -> None:
        """Queue the apply behind the scans already waiting (once; it re-queues itself if it must wait)."""
        if getattr(self, "_config_pending", None) is None or getattr(self, "_config_queued", False):
            return
        self._config_queued = True
        self.enqueue_job(self._apply_pending_config)

    def config_busy(self: BenchApp) -> str | None:
        """What a configuration change must not cut into, or None: an open inspection, or a
        disposition not yet carried out (any screen of the stack, e.g. under the lead view)."""
        from dockstation.tui.disposition import DispositionScreen
        from dockstation.tui.inspect import InspectScreen

        for screen in self.screen_stack:
            if isinstance(screen, InspectScreen):
                return f"the inspection of {screen.lpn}"
            if isinstance(screen, DispositionScreen) and screen.mode not in ("done", "error"):  # open
                return f"the disposition of {screen.lpn}"
        return None

    async def _apply_pending_config(self: BenchApp) -> None:
        """A dispatcher job: no scan runs while it does, and it has no await, so no key either."""
        self._config_queued = False
        pulled: PulledConfig | None = getattr(self, "_config_pending", None)
        if pulled is None:
            return
        busy = self.config_busy()
        if busy is not None:
            if getattr(self, "_config_told", None) != pulled.version:
                self._config_told = pulled.version
                self.notify(clean(f"config v{pulled.short} from HQ waits: it applies when {busy} is done"),
                            markup=False, timeout=6)
            self.set_timer(CONFIG_RETRY_S, self._offer_config)
            return
        self.apply_config(pulled)

    def apply_config(self: BenchApp, pulled: PulledConfig) -> None:
        """Swap every part in at once (plain assignments on the event loop: nothing runs in between)."""
        from dockstation.policy.triage import make_triage

        self._config_pending = None
        triage = make_triage(pulled.policy) if follows_policy(self.bench.triage) else self.bench.triage
        self.config = self.config.model_copy(update={"codes": pulled.codes})
        self.bench = dataclasses.replace(self.bench, codes=pulled.codes, triage=triage)
        self.checklists = pulled.checklists
        self.policy = pulled.policy
        self.config_version = pulled.version
        log.info("config %s from HQ applied (policy %s)", pulled.short, pulled.policy.version)
        self.notify(f"config v{pulled.short} from HQ applied", markup=False, timeout=6)

    def _start_serial_readers(self: BenchApp) -> None:
        from dockstation.scanners.evdev_reader import start_wedge_reader  # [wedge] evdev_device

        evdev = start_wedge_reader(self.config.station.wedge, lambda scan: self.post_message(ScanReceived(scan)),
                                   lambda text, level: self.post_message(ServiceStatus("scanner:evdev", text, level)),
                                   lambda text: self.post_message(BenchWarning(text)))
        self._readers += [evdev] if evdev else []
        scanners = self.config.station.scanners
        if not scanners:
            return
        try:
            from dockstation.scanners import serial_reader as sr
        except ImportError as exc:
            for sc in scanners:
                self.set_slot(f"scanner:{sc.name}", sc.name, "error")
            self.notify(f"Serial scanners unavailable: {clean(exc)}", severity="error", markup=False)
            return
        for sc in scanners:
            slot = f"scanner:{sc.name}"
            was = {"state": "connecting"}

            def on_status(status: Any, slot: str = slot, name: str = sc.name, was: dict = was) -> None:
                level = {"connected": "ok", "connecting": "warn"}.get(status.state, "error")
                self.post_message(ServiceStatus(slot, name, level))
                # One pop-up when a connected scanner is lost, not one per retry (the header keeps
                # showing the state); nothing for the "stopped" at quit.
                if status.state == "disconnected" and was["state"] == "connected" and status.detail != "stopped":
                    self.post_message(BenchWarning(f"scanner {name}: {status.detail}"))
                was["state"] = status.state

            reader = sr.SerialReader(sc, lambda scan: self.post_message(ScanReceived(scan)), on_status,
                                     lambda text: self.post_message(BenchWarning(text)))
            self._readers.append(reader)
            reader.start()

    def start_service(self: BenchApp, name: str, target: Service) -> threading.Event:
        """Run `target(stop, status)` — a blocking loop — in its own thread until the app stops.

        `status(text, level)` (level ok/warn/error/off) shows in the header slot `name`
        ("printer", "sync" or a new slot). The loop should return soon after `stop` is set.
        A daemon thread rather than the event loop's executor: a loop stuck in a long network
        call cannot hold up quitting (its work is in SQLite transactions, safe to cut off).
        """
        stop = threading.Event()
        self._stops[name] = stop

        def status(text: str, level: str = "ok") -> None:
            try:
                self.post_message(ServiceStatus(name, text, level))
            except RuntimeError:  # the app's loop is already closed: nobody to tell
                pass

        def run() -> None:
            try:
                target(stop, status)
            except Exception as exc:  # shown in the header; the bench keeps working
                log.exception("service %s failed", name)
                status(f"stopped: {exc}", "error")
            else:
                if not stop.is_set():
                    status("stopped", "warn")

        if name not in self.slots or self.slots[name].level == "off":  # not already shown as expected
            self.set_slot(name, "starting", "warn")
        threading.Thread(target=run, name=f"service-{name}", daemon=True).start()
        return stop

    def stop_services(self: BenchApp) -> None:
        for stop in self._stops.values():
            stop.set()
        for camera in (getattr(self, "cameras", None) or {}).values():
            camera.close()
        for reader in self._readers:
            reader.request_stop() if hasattr(reader, "request_stop") else reader.stop()

