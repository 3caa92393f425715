"""BenchDriver: the terminal's input can never kill the bench (issue 14, item 1).

The whole path through a real terminal is in tests/e2e/test_pty_hostile_input.py; here, the
pieces a pty cannot reach: the decoder on bytes split across reads, and the supervision of the
input thread when something other than decoding fails.
"""

from __future__ import annotations

import hashlib
import inspect
import sys
import threading
from codecs import getincrementaldecoder

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the Linux driver")

from textual.drivers.linux_driver import LinuxDriver  # noqa: E402

from dockstation.tui import driver as bench_driver  # noqa: E402
from dockstation.tui.driver import DECODE_ERRORS, BenchDriver  # noqa: E402

# Textual's own input loop that BenchDriver.run_input_thread copies (textual 8.2.x).
UPSTREAM_SHA256 = "d796af6d69db337d6fa6bd463984f7d17188d991dbb22f60efb92a8a9619507c"


def test_textual_input_loop_is_the_one_the_bench_driver_adapts():
    source = inspect.getsource(LinuxDriver.run_input_thread)
    assert hashlib.sha256(source.encode()).hexdigest() == UPSTREAM_SHA256, (
        "Textual's LinuxDriver.run_input_thread changed: compare it with "
        "dockstation/tui/driver.py (the decoder line) and update UPSTREAM_SHA256")


def test_the_decoder_escapes_bad_bytes_and_joins_split_characters():
    decode = getincrementaldecoder("utf-8")(errors=DECODE_ERRORS).decode
    assert decode(b"RMA-\xe9\r") == "RMA-\\xe9\r"
    assert decode(b"Caf\xc3") == "Caf" and decode(b"\xa9!") == "é!"  # é split across two reads
    assert decode(b"\xff\xfe\x80") == "\\xff\\xfe\\x80"


class FakeApp:
    def __init__(self) -> None:
        self.exits: list[tuple] = []

    def call_later(self, callback, *args) -> None:
        callback(*args)

    def exit(self, result=None, return_code=0, message=None) -> None:
        self.exits.append((result, return_code, message))


def make_driver(monkeypatch, failures: int) -> tuple[BenchDriver, FakeApp, list[int]]:
    app = FakeApp()
    driver = BenchDriver(app)  # type: ignore[arg-type]  (needs a running loop: async tests)
    calls: list[int] = []

    def run_input_thread() -> None:
        calls.append(1)
        if len(calls) <= failures:
            raise RuntimeError(f"parser bug #{len(calls)}")

    monkeypatch.setattr(driver, "run_input_thread", run_input_thread)
    return driver, app, calls


async def test_an_error_in_the_input_thread_is_logged_and_reading_goes_on(monkeypatch, caplog):
    driver, app, calls = make_driver(monkeypatch, failures=bench_driver.MAX_FAILURES - 1)
    driver._run_input_thread()
    assert len(calls) == bench_driver.MAX_FAILURES  # restarted after each failure, then ran
    assert app.exits == []
    assert "terminal input failed" in caplog.text and "parser bug #1" in caplog.text


async def test_input_that_keeps_failing_exits_non_zero_for_a_restart(monkeypatch):
    driver, app, calls = make_driver(monkeypatch, failures=100)
    thread = threading.Thread(target=driver._run_input_thread)
    thread.start()
    thread.join(10)
    assert not thread.is_alive()
    assert len(calls) == bench_driver.MAX_FAILURES
    [(_, code, message)] = app.exits
    assert code != 0 and "terminal input keeps failing" in message


def test_the_bench_app_runs_on_the_bench_driver(home):
    from dockstation.tui.app import BenchApp

    app = BenchApp(home, start_services=False)  # not run: no store opened (tui/app.py)
    assert app.driver_class is BenchDriver


class PostingApp:
    """What the driver posts to, in the order it posted."""

    def __init__(self) -> None:
        self.posted: list = []

    def post_message(self, message) -> bool:
        self.posted.append(message)
        return True


async def test_the_keys_of_one_read_go_as_one_burst_in_order_and_other_events_keep_their_place():
    from textual import events

    from dockstation.tui.messages import KeyBurst

    app = PostingApp()
    driver = BenchDriver(app)  # type: ignore[arg-type]
    keys = [events.Key(c, c) for c in "RMA1"] + [events.Key("enter", "\r")]
    focus, lone = events.AppFocus(), events.Key("f1", None)
    driver._post_read([*keys[:2], focus, *keys[2:], lone])
    driver._post_read([events.Key("x", "x")])
    first, second, third, fourth = app.posted
    assert isinstance(first, KeyBurst) and first.keys == tuple(keys[:2])
    assert second is focus
    assert isinstance(third, KeyBurst) and third.keys == (*keys[2:], lone)
    assert isinstance(fourth, events.Key) and fourth.key == "x"  # a lone key goes as itself
    assert all(k._sender is app for k in third.keys)


async def test_every_event_the_input_thread_reads_takes_the_same_way_to_the_app():
    """One queue for keys, bursts and the rest: a lone Enter read after a burst never overtakes it."""
    from textual import events

    app = PostingApp()
    driver = BenchDriver(app)  # type: ignore[arg-type]
    driver.process_message(events.Key("enter", "\r"))
    driver._post_read([events.Key("a", "a"), events.Key("b", "b")])
    assert [type(m).__name__ for m in app.posted] == ["Key", "KeyBurst"]
