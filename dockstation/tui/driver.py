"""The bench's terminal driver: Textual's Linux driver, with input that can never kill the bench.

Textual's input thread decodes the terminal's bytes as strict UTF-8: one byte that is not UTF-8
(0xE9 from a latin-1 terminal, or a wedge scanner typing `RMA-é` in latin-1) raised
UnicodeDecodeError in that thread, Textual printed a traceback and the app ended with exit code
0 — so `Restart=on-failure` did not even restart it (issue 14).

`BenchDriver` changes six things, nothing else:
- the decoder is lenient (`backslashreplace`): a byte that is not UTF-8 reaches the app as the
  four characters `\\xe9`. Inside a scanner burst they become part of the code, which the
  receiving core records as an invalid code with its bytes shown escaped; typed alone, they are
  plain characters. Valid UTF-8 split across two reads is still joined (incremental decoder).
- the input thread is supervised: any other error in it is logged and the reading starts again;
  only when it keeps failing (`MAX_FAILURES` within `FAILURE_WINDOW_S`) does the app exit, with
  a non-zero code, so a service manager restarts it.
- the keys parsed from one read are posted as one `KeyBurst` event (tui/messages.py), not one
  event each: a scanner's whole code is one message on the event loop instead of ~19 (each of
  them a task, a queue put and a dispatch), the app feeds them to the wedge detector one by one.
- `scroll_up` has the terminal itself move a band of full-width rows up (DECSTBM margins, SU,
  margins reset) at the start of the next write: the scan log, full, moves its rows up one line
  per scan, which Textual could only redraw row by row (bench_scan.py --pty: most of a scan's
  bytes). The next frame then paints the new bottom row (widgets/scan_log.py).
- a frame is written from the event loop when nothing is waiting to be written (tui/writer.py),
  not handed to Textual's writer thread: it reaches the terminal ~0.3 ms sooner.
- reads of plain characters become keys without Textual's parser (tui/keyread.py: the same
  events, ~0.3 ms sooner for a scanner's code).

`run_input_thread` is Textual 8.2's own loop with the decoder and the parser's front changed
(Textual has no hook for either); tests/tui/test_driver.py notices when Textual's loop changes, to look at this again.
"""

from __future__ import annotations

import logging
import os
import selectors
import time
from codecs import getincrementaldecoder
from collections import deque
from collections.abc import Iterable

from textual import events
from textual._ansi_sequences import SYNC_START  # a synchronized update begins (written alone)
from textual._loop import loop_last
from textual._parser import ParseError
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver
from textual.message import Message

from dockstation.tui.keyread import KeyReader
from dockstation.tui.messages import KeyBurst
from dockstation.tui.writer import LoopWriter

log = logging.getLogger("dockstation.tui")

DECODE_ERRORS = "backslashreplace"
MAX_FAILURES = 5
FAILURE_WINDOW_S = 10.0
EXIT_INPUT_FAILED = 1


class BenchDriver(LinuxDriver):
    """LinuxDriver whose input thread survives any byte and restarts after an error."""

    _before_next_write = ""  # terminal commands that go before the next frame (event loop only)

    def scroll_up(self, top: int, bottom: int, lines: int = 1) -> None:
        """Move screen rows top..bottom (0-based, inclusive, full width) up by `lines`, before
        whatever is written next; the rows left at the bottom are blank until painted."""
        self._before_next_write += f"\x1b[{top + 1};{bottom + 1}r\x1b[{lines}S\x1b[r"

    def start_application_mode(self) -> None:
        super().start_application_mode()
        # Textual's writer thread, once it has written what the start queued, is replaced by one
        # the event loop can write past when it is idle (tui/writer.py).
        if self._writer_thread is not None and not isinstance(self._writer_thread, LoopWriter):
            self._writer_thread.stop()
            self._writer_thread = LoopWriter(self._file)
            self._writer_thread.start()

    def write(self, data: str) -> None:
        # After the start of a synchronized update (if the terminal has them): moved and painted
        # in one go, never the rows moved up and the bottom row not yet painted.
        if self._before_next_write and data != SYNC_START:
            data, self._before_next_write = self._before_next_write + data, ""
        super().write(data)

    def _run_input_thread(self) -> None:
        failures: deque[float] = deque()
        while True:
            try:
                self.run_input_thread()
                return
            except Exception as exc:  # noqa: BLE001 - nothing on the terminal may end the bench
                if self.exit_event.is_set():
                    return
                now = time.monotonic()
                failures.append(now)
                while now - failures[0] > FAILURE_WINDOW_S:
                    failures.popleft()
                log.exception("terminal input failed (%d in %.0f s); reading on", len(failures), FAILURE_WINDOW_S)
                if len(failures) >= MAX_FAILURES:
                    self._give_up(exc)
                    return

    def _give_up(self, exc: BaseException) -> None:
        log.critical("terminal input keeps failing: the bench exits (code %d) to be restarted", EXIT_INPUT_FAILED)
        message = f"dockstation: terminal input keeps failing ({type(exc).__name__}: {exc}); exiting"
        self._app.call_later(self._app.exit, None, EXIT_INPUT_FAILED, message)

    def _post_read(self, parsed: Iterable[Message]) -> None:
        """The events parsed from one read, in order; two or more keys in a row as one KeyBurst
        (tui/messages.py: a scanner's code is one message on the event loop, not ~19)."""
        keys: list[events.Key] = []
        for event in parsed:
            if isinstance(event, events.Key):
                keys.append(event)
                continue
            if keys:
                self._post_keys(keys)
                keys = []
            self.process_message(event)
        if keys:
            self._post_keys(keys)

    def _post_keys(self, keys: list[events.Key]) -> None:
        if len(keys) == 1:
            self.process_message(keys[0])
            return
        for key in keys:
            key.set_sender(self._app)  # as Driver.process_message does for each event it sends
        self.process_message(KeyBurst(tuple(keys)))

    def send_message(self, message: Message) -> None:
        # Straight onto the app's queue (App.post_message is thread-safe: call_soon_threadsafe
        # of the queue's put). Textual's Driver.send_message makes a task on the event loop to
        # do the same put, one more turn of the loop per event. Every event the input thread
        # reads goes this one way, so they stay in the order they were read.
        self._app.post_message(message)

    def run_input_thread(self) -> None:
        """Wait for input and dispatch events (Textual's loop; the decoder differs, and the keys
        of one read go as one KeyBurst)."""
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)

        fileno = self.fileno
        EVENT_READ = selectors.EVENT_READ

        parser = KeyReader(XTermParser(self._debug))  # plain characters without the parser
        feed = parser.feed
        tick = parser.tick

        decode = getincrementaldecoder("utf-8")(errors=DECODE_ERRORS).decode
        read = os.read

        def process_selector_events(
            selector_events: list[tuple[selectors.SelectorKey, int]],
            final: bool = False,
        ) -> None:
            for last, (_selector_key, mask) in loop_last(selector_events):
                if mask & EVENT_READ:
                    unicode_data = decode(read(fileno, 1024 * 4), final=final and last)
                    if not unicode_data:
                        # This can occur if the stdin is piped
                        break
                    self._post_read(feed(unicode_data))
            for event in tick():
                self.process_message(event)

        try:
            while not self.exit_event.is_set():
                process_selector_events(selector.select(0.1))
            selector.unregister(self.fileno)
            process_selector_events(selector.select(0.1), final=True)

        finally:
            selector.close()
            try:
                for event in parser.parser.feed(""):
                    pass
            except (EOFError, ParseError):
                pass
