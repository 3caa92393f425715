"""The bench TUI: `BenchApp` captures scans, runs them one at a time, shows results after commit.

Scans come from three places and all go through ONE dispatcher, strictly in arrival order
(a queue and a single consumer, so two scans of one burst can never interleave):
- keyboard-wedge scanners: keys are captured in `on_event` *before* Textual forwards them to the
  focused widget (a focused `Input` mis-orders bursts, Textual issue #6605) and fed to the pure
  `WedgeDetector`; keys of a scan are swallowed, a person's keys are passed on unchanged;
- serial scanners: a `SerialReader` thread per `[[scanners]]` posts `ScanReceived`;
- the manual entry field (a damaged barcode typed by hand), source "keyboard".

Dispatch: badge → sign in (on any screen); `CMD:LOGOUT` → sign out; otherwise the active
screen's `async handle_scan(scan, classified) -> bool` may take it; if not, an LPN opens the
unit and anything else is received on the receiving screen. Store calls run in a thread
(`asyncio.to_thread`), except a parcel scan's one short transaction, which runs on the event
loop when the database is free (inline_store.py); either way the result is shown — and the
bell rung — only after the call returned, i.e. after the transaction committed.

Start-up: the first screen is drawn from the configuration alone (Textual, pydantic, the
widgets); the store (SQLAlchemy), the receiving core, the policy, the checklists and biip load
in a thread right after it, then the services start (`_load_core`). A scan read meanwhile waits
in the dispatcher's queue; a store or configuration that cannot be used ends the app with exit 1
and its reason (`startup_error`). An app given its store (tests) loads everything at once.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from textual.app import App
from textual.binding import Binding
from textual.driver import Driver
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.timer import Timer

from dockstation.config import BenchConfig, ConfigError, Operator, load_bench_config, operators_problem
from dockstation.scan import Classified, CodeKind, ScanEvent, classify
from dockstation.scanners.wedge import WedgeDetector
from dockstation.text import clean
from dockstation.tui import frames, paint
from dockstation.tui.age_triggers import AgeTriggerMixin
from dockstation.tui.feedback import FeedbackMixin
from dockstation.tui.grading import GradingMixin
from dockstation.tui.keycapture import KeyCaptureMixin
from dockstation.tui.messages import BenchWarning, ScanHandled, ScanReceived, ServiceStatus, Slot
from dockstation.tui.operators import OperatorsMixin
from dockstation.tui.photos import PhotosMixin
from dockstation.tui.receive import ReceiveScreen
from dockstation.tui.services import ServicesMixin
from dockstation.tui.sorting import SortingMixin
from dockstation.tui.sound import Sounder
from dockstation.tui.startup import IdleGC, load_triage  # noqa: F401 — load_triage: re-exported
from dockstation.tui.units import UnitsMixin

if TYPE_CHECKING:  # loaded after the first screen (see the module doc)
    from dockstation.inspection import Checklists
    from dockstation.receiving.core import Bench, Outcome, Triage
    from dockstation.store import Store
    from dockstation.tui.inline_store import InlineStore

log = logging.getLogger("dockstation.tui")
T = TypeVar("T")
Job = Callable[[], Awaitable[None]]
SLOT_LABELS = {"printer": "print", "sync": "sync", "photos": "photos"}


def utcnow() -> datetime:  # dockstation.types.utcnow, without importing SQLAlchemy's types
    return datetime.now(UTC)


class BenchApp(KeyCaptureMixin, OperatorsMixin, UnitsMixin, GradingMixin, FeedbackMixin, ServicesMixin,
               PhotosMixin, SortingMixin, AgeTriggerMixin, App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "Dockstation"
    ENABLE_COMMAND_PALETTE = False  # a bench has no use for it; one fewer thing to stumble into
    # Screens get -wide (120 columns and up) and -tall (40 rows and up): big text grows there
    # (app.tcss; widgets/bigtext.py picks the largest font that fits).
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (40, "-tall")]
    # F-keys: no wedge scanner sends these, so they never clash with a code. ctrl+q only asks
    # (tui/quit.py): a scanner can send DC1, and no burst can answer the question.
    BINDINGS = [
        Binding("f1", "help", "Help", id="bench.help"),
        Binding("f2", "focus_entry", "Type", id="bench.entry"),
        Binding("f3", "lead_view", "Lead", id="bench.lead"),
        Binding("f4", "sign_out", "Sign out", id="bench.sign_out"),
        Binding("f5", "reprint", "Reprint", id="bench.reprint"),
        Binding("f6", "inspect", "Inspect", id="bench.inspect"),
        Binding("f7", "search", "Search", id="bench.search"),
        Binding("escape", "back", "Back", show=False, id="bench.back"),
        Binding("ctrl+q", "quit", "Quit", priority=True, id="bench.quit"),
    ]

    operator: reactive[Operator | None] = reactive(None, init=False)
    status_rev: reactive[int] = reactive(0, init=False)

    def __init__(self, home: Path, *, config: BenchConfig | None = None, store: Store | None = None,
                 triage: Triage | None = None, clock: Callable[[], Any] = utcnow,
                 start_services: bool = True) -> None:
        super().__init__()
        frames.install()  # partial frames from where the change starts (tui/frames.py)
        self.home = Path(home)
        self.config = config or load_bench_config(self.home)
        self.idle_gc = IdleGC()
        st = self.config.station
        self.store: Store
        self.inline_store: InlineStore
        self.bench: Bench
        self.checklists: Checklists
        self.startup_error: str | None = None  # why the app ended at start, if it did
        self._core_ready = asyncio.Event()
        self.clock = clock
        # The bell until mounted (headless or not is known then): on_mount picks audio if it can.
        self.sound = Sounder(lambda: self.bell(), self.set_timer, enabled=st.sound != "off")
        self.wedge = WedgeDetector(st.wedge)
        self.wedge_enabled = True
        self.scans_done = 0
        self.slots: dict[str, Slot] = {"scanner:keys": Slot("scan", "keys", "ok")}
        for sc in st.scanners:
            self.slots[f"scanner:{sc.name}"] = Slot("scan", sc.name, "off")
        for cam in st.cameras:  # shown from the start (tui/photos.py probes them)
            self.slots[f"camera:{cam.name}"] = Slot("cam", cam.name, "off")
        # What the services report when all is well, so the first screen is the settled one:
        # an empty print queue reports "ok" without contacting the printer (labels/queue.py).
        self.slots["printer"] = Slot("print", "ok", "ok") if start_services else Slot("print", "off", "off")
        self.slots["sync"] = Slot("sync", "no HQ" if start_services and not st.hq.url else "off", "off")
        self._start_services = start_services
        self._queue: asyncio.Queue[ScanEvent | Job] = asyncio.Queue()
        self._flush_timer: Timer | None = None
        self._stops: dict[str, threading.Event] = {}
        self._readers: list[Any] = []
        self._outcome: Outcome | None = None
        self.receive_screen = ReceiveScreen()
        if store is not None:  # given (tests, benchmarks): everything now, as before
            self._core_loaded(self._load_core(store, triage))
        else:
            self._triage = triage
        self.current_lpn: str | None = None  # the unit CMD:REPRINT / F5 reprints
        self.in_hand: str | None = None  # the unit a grader just received (grading.py)
        self.last_exception: tuple[int, str] | None = None  # (id, code) of the last parcel refused
        self._load_station_keymap()  # station.toml [keys]: refused at start if bad

    def get_driver_class(self) -> type[Driver]:
        """Textual's Linux driver, with input that no byte can kill (tui/driver.py)."""
        driver = super().get_driver_class()
        if sys.platform != "win32":
            from textual.drivers.linux_driver import LinuxDriver

            if driver is LinuxDriver:
                from dockstation.tui.driver import BenchDriver

                return BenchDriver
        return driver

    # -- screens ---------------------------------------------------------------------------
    def get_default_screen(self) -> ReceiveScreen:
        return self.receive_screen

    def is_demo(self) -> bool:
        """A home made by `dockstation demo`: it has a DEMO file and the demo badges."""
        return (self.home / "DEMO").exists() and self.config.operators.by_badge("1001") is not None

    async def go_to_receive(self) -> ReceiveScreen:
        await self.settle_screens()
        while len(self.screen_stack) > 1:
            await self.pop_screen()
        return self.receive_screen

    async def settle_screens(self) -> None:
        """Moving on never leaves work half-done: before the app leaves its screens (a scan for
        another unit or parcel, a sign-out, another badge, quitting), each screen with a `settle`
        method finishes or parks what it shows (the disposition screen: docs/tui.md)."""
        for screen in reversed(self.screen_stack):
            settle = getattr(screen, "settle", None)
            if callable(settle):
                await settle()

    def on_mount(self) -> None:
        self._apply_station_keymap()
        self._choose_sound()
        self.run_worker(self._consume(), name="scan-dispatcher", group="scans")
        if problem := operators_problem(self.config):  # a bench nobody can sign in to: say so
            log.warning("%s", problem)
            self.notify(problem, title="NO OPERATORS", severity="error", timeout=3600, markup=False)
        if self._core_ready.is_set():
            self._start_all_services()
        else:  # the first screen first; then what the scans need, in a thread
            self.call_after_refresh(self.run_worker, self._load_in_thread, name="load-core",
                                    thread=True, exit_on_error=False)

    def _load_core(self, store: Store | None, triage: Triage | None) -> tuple[Any, ...]:
        """What scans need (any thread): the store, the bench's rules, the checklists (a bad
        file is refused here: StoreError, ConfigError)."""
        import biip  # noqa: F401 — loaded now rather than on the first GS1 scan

        from dockstation.inspection import load_checklists
        from dockstation.receiving.core import Bench
        from dockstation.store import Store
        from dockstation.tui.inline_store import InlineStore

        st = self.config.station
        store = store or Store.in_home(self.home)
        bench = Bench(station_id=st.station_id, codes=self.config.codes, operators=self.config.operators,
                      grace_days=st.return_grace_days, triage=triage or load_triage(self.home, self.config),
                      receipt_label=st.printer.receipt_label)
        return store, InlineStore(store), bench, load_checklists(self.home, self.config.codes)

    def _core_loaded(self, core: tuple[Any, ...]) -> None:
        self.store, self.inline_store, self.bench, self.checklists = core
        self._core_ready.set()

    def _load_in_thread(self) -> None:
        from dockstation.store import StoreError

        reason = None
        try:
            core = self._load_core(None, self._triage)
        except ConfigError as exc:
            reason = f"configuration refused: {exc}"
        except (StoreError, OSError) as exc:
            reason = f"cannot open the bench database in {self.home}: {exc}"

        def done() -> None:
            if reason is not None:
                self._start_failed(reason)
            else:
                self._core_loaded(core)
                self._start_all_services()

        try:
            self.call_from_thread(done)
        except RuntimeError:  # the app has already ended (quit during start-up)
            pass

    def _start_failed(self, reason: str) -> None:
        self.startup_error = reason
        self.exit(return_code=1)

    def _start_all_services(self) -> None:
        self._start_cameras()  # a camera that fails shows in the header; nothing waits for it
        self.start_age_triggers()  # on a timer, off the scan path (tui/age_triggers.py)
        if self._start_services:
            self._start_serial_readers()
            self._start_printer()
            self._start_sync()

    def on_ready(self) -> None:
        self.idle_gc.start()
        self.set_interval(IdleGC.TICK_S, self.idle_gc.tick, name="idle-gc")

    async def on_unmount(self) -> None:
        self.idle_gc.stop()
        self.stop_services()
        self.sound.close()

    # -- the one dispatcher ------------------------------------------------------------------
    def enqueue_scan(self, scan: ScanEvent) -> None:
        self._queue.put_nowait(scan)

    def enqueue_job(self, job: Job) -> None:
        """Run `job` in turn with the scans (e.g. a line picked by key), never in between."""
        self._queue.put_nowait(job)

    def on_scan_received(self, message: ScanReceived) -> None:
        self.enqueue_scan(message.scan)

    async def _consume(self) -> None:
        while not self.receive_screen.is_mounted:  # a scan may arrive before the first screen is up
            await asyncio.sleep(0.01)
        await self._core_ready.wait()  # and before the store is open: it waits in the queue
        while True:
            item = await self._queue.get()
            if isinstance(item, ScanEvent):
                await self._handle(item)
            else:
                try:
                    await item()
                except Exception as exc:  # one failing job must not stop the bench
                    self.show_failure(exc, "a job")

    async def _handle(self, scan: ScanEvent) -> None:
        self._outcome = None
        classified: Classified | None = None
        try:
            classified = classify(scan.code, self.config.codes.patterns, scan.symbology, self.config.codes.carriers)
            await self.dispatch(scan, classified)
            paint.paint_now(self)  # the result on the terminal now, not after the idle chain
        except Exception as exc:
            self.show_failure(exc, f"a scan ({scan.source})")  # never the code itself in the log
        finally:
            self.scans_done += 1
            self.post_message(ScanHandled(scan, classified, self._outcome))
            self.call_after_refresh(self.idle_gc.after_scan)  # once the result is painted

    async def dispatch(self, scan: ScanEvent, c: Classified) -> None:
        handler = getattr(self.screen, "handle_scan", None)
        if c.kind is CodeKind.BADGE:
            # A screen awaiting a lead's approval badge (`wants_badge`) gets it first; otherwise
            # a badge always signs in, whatever the screen.
            if getattr(self.screen, "wants_badge", False) and handler is not None and await handler(scan, c):
                return
            await self._sign_in(scan, c)
            return
        if c.kind is CodeKind.COMMAND and c.value == "LOGOUT":
            await self.sign_out()
            return
        if c.kind is CodeKind.COMMAND and c.value == "SEARCH" and self.operator is not None:
            await self.open_search()
            return
        if self.operator is not None:
            if c.kind is CodeKind.COMMAND and c.value == "REPRINT":  # on any screen: the current unit
                await self.reprint()
                return
            if (c.kind is CodeKind.COMMAND and c.value == "PHOTO" and self.screen is self.receive_screen
                    and not self.receive_screen.picking):  # the unit in hand (tui/photos.py)
                await self.photo_of_unit()
                return
            if (c.kind is CodeKind.CONTAINER or self.closing is not None or (c.kind is CodeKind.COMMAND and c.value == "CLOSE")) \
                    and await self.container_scan(scan, c):  # containers: tui/sorting.py
                return
            if self.screen is self.receive_screen and await self.take_for_hand(scan, c):
                return
            if handler is not None and await handler(scan, c):
                return
            if c.kind is CodeKind.LPN:
                await self._open_unit(scan, c)
                return

        receive = await self.go_to_receive()
        await receive.process(scan, c)

    async def in_thread(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking (store) call off the event loop; other screens use this too."""
        return await asyncio.to_thread(fn, *args, **kwargs)

    def may_scroll_terminal(self, widget: Any) -> bool:
        """Whether the terminal itself can move rows of `widget` now (tui/frames.py)."""
        return frames.may_scroll(self, widget)

    def _display(self, screen: Any, renderable: Any) -> None:
        """Every frame passes here (Textual's App._display): the scan log's rows may be moved up
        by the terminal first (tui/frames.py), written just before the frame."""
        frames.before_frame(self, screen, renderable)
        super()._display(screen, renderable)

    # -- header slots, scanners and services --------------------------------------------------
    def header_slots(self) -> list[Slot]:
        return list(self.slots.values())

    def set_slot(self, slot: str, text: str, level: str) -> None:
        label = "scan" if slot.startswith("scanner:") else "cam" if slot.startswith("camera:") \
            else SLOT_LABELS.get(slot, slot)
        if self.slots.get(slot) == Slot(label, text, level):
            return  # what the header shows already: no repaint
        self.slots[slot] = Slot(label, text, level)
        self.status_rev += 1

    def on_service_status(self, message: ServiceStatus) -> None:
        self.set_slot(message.slot, message.text, message.level)

    def on_bench_warning(self, message: BenchWarning) -> None:
        self.notify(clean(message.text), severity="warning", markup=False, timeout=8)

    # -- actions ---------------------------------------------------------------------------
    def get_key_display(self, binding: Binding) -> str:
        """Keys as the docs and the command sheet write them: Enter, Esc, F1 (footer and help)."""
        from dockstation.tui.keymap import key_label

        return binding.key_display or key_label(binding.key)

    def action_focus_entry(self) -> None:
        if self.screen is self.receive_screen:
            self.receive_screen.focus_entry()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys that mean nothing on the screen shown are off there (and out of its footer, which
        must fit 80 columns): the entry field and F6 belong to the receive screen, F3 not to the
        lead view itself. Under a modal (the F1 help), the screen below it decides."""
        base = next((s for s in reversed(self.screen_stack) if not isinstance(s, ModalScreen)), None)
        if action in ("focus_entry", "inspect", "search"):
            return base is self.receive_screen
        if action == "lead_view":
            return base is None or base.id != "lead"
        return True

    def action_lead_view(self) -> None:
        if self.operator is None or self.operator.role != "lead":
            who = "nobody is signed in" if self.operator is None else f"{self.operator.role} {self.operator.name}"
            self.show_result("error", "LEADS ONLY", f"The lead view needs a lead's badge ({who})")
            return
        from dockstation.tui.lead import LeadScreen

        if not isinstance(self.screen, LeadScreen):
            self.push_screen(LeadScreen())

    async def action_back(self) -> None:
        if len(self.screen_stack) > 1:
            await self.pop_screen()
