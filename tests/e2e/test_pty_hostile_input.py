"""Hostile bytes on the bench's real terminal (issue 14, items 1 and 2).

The real `dockstation run` on a pty, bytes written to the master as a keyboard-wedge scanner
(or a latin-1 terminal) sends them. The bench must never die on input, and no burst of a scanner
can quit it.
"""

from __future__ import annotations

import random
import sqlite3
import time

from test_pty_receive import DEADLINE_S, BenchTerminal, terminal, wait_for_unit  # noqa: F401  (fixture)

from dockstation.store import DB_NAME


def exceptions(home) -> list[tuple[str, str]]:
    conn = sqlite3.connect(home / DB_NAME, timeout=5)
    try:
        return conn.execute("SELECT kind, code FROM scan_exception ORDER BY id").fetchall()
    finally:
        conn.close()


def wait_for_exceptions(term: BenchTerminal, home, count: int) -> list[tuple[str, str]]:
    deadline = time.monotonic() + DEADLINE_S
    while len(rows := exceptions(home)) < count:
        if term.proc.poll() is not None:
            raise AssertionError(f"app exited ({term.proc.returncode}):\n{term.text()[-2000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{count} exception(s) never recorded; have {rows}")
        time.sleep(0.05)
    return rows


def signed_in(terminal) -> BenchTerminal:  # noqa: F811
    term = terminal()
    term.wait_for_text("Scan your badge")
    term.write(b"OP-1001\r")
    term.wait_for_text("Casey Clerk")
    return term


def still_works(term: BenchTerminal, home, lpn: str = "B07-00000001") -> None:
    """The bench still receives a parcel: it is alive and its input still works."""
    term.write(b"RMA-2026-000001\r")
    wait_for_unit(home, lpn)
    term.wait_for_text(f"Received {lpn}")
    assert term.proc.poll() is None


def quit_deliberately(term: BenchTerminal) -> int:
    return term.quit()


def pause_between_bursts() -> None:
    # Part of the input, not a wait for a result: two scans are apart by more than the wedge's gap.
    time.sleep(0.3)


# -- item 1: bytes that are not UTF-8 --------------------------------------------------------
def test_a_latin1_byte_from_a_wedge_scanner_is_recorded_and_the_bench_lives_on(terminal, home, manifest):  # noqa: F811
    term = signed_in(terminal)
    term.write(b"RMA-\xe9\r")  # `RMA-é` from a scanner set to latin-1
    rows = wait_for_exceptions(term, home, 1)
    assert rows == [("invalid_code", "RMA-\\xe9")]  # its bytes shown escaped
    term.wait_for_text("RMA-\\xe9")
    still_works(term, home)
    assert quit_deliberately(term) == 0


def test_random_bytes_on_the_terminal_never_kill_the_bench(terminal, home, manifest):  # noqa: F811
    term = signed_in(terminal)
    rng = random.Random(1414)
    for _ in range(40):
        noise = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 24)))
        term.write(noise + b"\r")
    # The noise may have opened a screen, or signed out (an F-key's escape sequence): Escape
    # back, sign in again, then scan. A lone ESC is told from a sequence by a pause.
    for _ in range(2):
        time.sleep(0.3)
        term.write(b"\x1b")
    time.sleep(0.3)
    term.write(b"OP-1001\r")
    still_works(term, home)
    assert quit_deliberately(term) == 0


# -- item 2: a scanner burst holding DC1 (ctrl+q) ----------------------------------------------
def test_bursts_holding_ctrl_q_do_not_quit_the_bench(terminal, home, manifest):  # noqa: F811
    term = signed_in(terminal)
    term.write(b"ab\x11")  # a short burst: replayed as keys once, it hit the quit binding
    pause_between_bursts()
    term.write(b"\x11RMA-2026-000002\r")  # a code that starts with DC1: recorded, not a key
    rows = wait_for_exceptions(term, home, 1)
    assert rows == [("invalid_code", "\x11RMA-2026-000002")]
    pause_between_bursts()
    term.write(b"\x11y\r")  # one burst that would open the question and answer it
    pause_between_bursts()
    term.ask_to_quit()
    term.write(b"y\r")  # a scanner's answer: a Y in a burst, not a person's
    pause_between_bursts()
    still_works(term, home)  # the scan closes the question, the bench receives
    assert quit_deliberately(term) == 0


def test_quit_asks_and_stays_on_no(terminal, home, manifest):  # noqa: F811
    term = signed_in(terminal)
    term.ask_to_quit()
    term.write(b"n")
    term.wait_for_text("Still here")
    still_works(term, home)
    assert quit_deliberately(term) == 0
    conn = sqlite3.connect(home / DB_NAME)
    kinds = [k for (k,) in conn.execute("SELECT kind FROM event ORDER BY seq")]
    conn.close()
    assert kinds[-1] == "operator_signed_out"  # quitting ends the shift in the audit trail


def test_an_escape_sequence_in_a_burst_is_never_an_f_key(terminal, home, manifest):  # noqa: F811
    # ESC O S is F4 (sign out) to the terminal's parser; a QR code can hold it.
    term = signed_in(terminal)
    term.write(b"RMA-2026-000002\x1bOS\r")
    rows = wait_for_exceptions(term, home, 1)
    assert rows == [("invalid_code", "RMA-2026-000002\x1b")]
    pause_between_bursts()
    term.write(b"\x1bOS\r")  # on its own, but with its terminator: a burst
    pause_between_bursts()
    still_works(term, home)  # still signed in: F4 never reached the bench
    conn = sqlite3.connect(home / DB_NAME)
    kinds = [k for (k,) in conn.execute("SELECT kind FROM event ORDER BY seq")]
    conn.close()
    assert "operator_signed_out" not in kinds
    assert quit_deliberately(term) == 0

