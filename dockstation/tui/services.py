"""The bench's background services: serial scanner readers, the print queue, the HQ sync loop.

Each runs a blocking loop in its own daemon thread and reports through thread-safe
`post_message`: scans as `ScanReceived` (into the one dispatcher queue), states as
`ServiceStatus` for the header slots, problems as `BenchWarning`. Daemon threads rather than the
event loop's executor: a loop stuck in a long network call cannot hold up quitting, and its work
is in SQLite transactions, safe to cut off.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dockstation.text import clean
from dockstation.tui.messages import BenchWarning, ScanReceived, ServiceStatus

if TYPE_CHECKING:
    from dockstation.tui.app import BenchApp

log = logging.getLogger("dockstation.tui")
Service = Callable[[threading.Event, Callable[[str, str], None]], None]


class ServicesMixin:
    """Mixed into BenchApp (which provides config, store, bench, home, slots, set_slot)."""

    def _start_printer(self: BenchApp) -> None:
        from labels import PrinterError
        from labels.queue import PrintQueue, spool_url

        printer = self.config.station.printer
        try:
            queue = PrintQueue(self.store, self.bench.station_id, printer.url or spool_url(self.home),
                               printer.template)
        except PrinterError as exc:  # a bad URL: labels wait in the queue until it is fixed
            self.set_slot("printer", clean(exc.reason, limit=40), "error")
            return
        self.start_service("printer", queue.run)

    def _start_sync(self: BenchApp) -> None:
        if not self.config.station.hq.url:
            self.set_slot("sync", "no HQ", "off")
            return
        from sync.client import SyncClient

        self.start_service("sync", SyncClient(self.store, self.home, self.config.station).run)

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

        self.set_slot(name, "starting", "warn")
        threading.Thread(target=run, name=f"service-{name}", daemon=True).start()
        return stop

    def stop_services(self: BenchApp) -> None:
        for stop in self._stops.values():
            stop.set()
        for reader in self._readers:
            reader.request_stop() if hasattr(reader, "request_stop") else reader.stop()

