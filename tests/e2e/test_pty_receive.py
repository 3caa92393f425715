"""The real `dockstation --home H run` in a real pseudo-terminal: a scanner burst receives a unit.

Nothing is faked: the console script from the venv, a pty of 80x24 with TERM=xterm-256color,
bytes written to the pty master as one burst (as a keyboard-wedge scanner types them), the
SQLite file polled from outside. Deadlines only guard against hanging; nothing asserts on time.
"""

from __future__ import annotations

import fcntl
import os
import re
import signal
import sqlite3
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

from dockstation.store import DB_NAME

DEADLINE_S = 30.0
SCRIPT = Path(sys.executable).parent / "dockstation"
# CSI, OSC (to BEL or ST), and other ESC sequences: removed to search the screen's text.
_ANSI = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[PX^_][^\x1b]*\x1b\\|\x1b.")

pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason=f"console script {SCRIPT} not installed")


def _own_terminal() -> None:
    # In the child: a new session whose controlling terminal is the pty (like a real login).
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class BenchTerminal:
    """`dockstation --home HOME run` on a pty; everything it writes is collected."""

    def __init__(self, home: Path | None, *args: str, cwd: Path | None = None, prefix: tuple[str, ...] = ()) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        env = {k: v for k, v in os.environ.items() if k != "DOCKSTATION_HOME"}
        env.update(TERM="xterm-256color", COLUMNS="80", LINES="24", LANG="C.UTF-8", LC_ALL="C.UTF-8")
        home_args = ["--home", str(home)] if home is not None else []
        self.proc = subprocess.Popen(
            [*prefix, str(SCRIPT), *home_args, *(args or ("run",))], cwd=cwd,
            stdin=slave, stdout=slave, stderr=slave, env=env, preexec_fn=_own_terminal, close_fds=True,
        )
        os.close(slave)
        self.master = master
        self._out = bytearray()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:  # keep draining: a full pty buffer would block the app's writes
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: the child closed its side
                return
            if not data:
                return
            with self._lock:
                self._out += data

    @property
    def raw(self) -> bytes:
        with self._lock:
            return bytes(self._out)

    def text(self) -> str:
        return _ANSI.sub(b"", self.raw).decode("utf-8", "replace")

    def wait_for_text(self, needle: str) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while needle not in self.text():
            if self.proc.poll() is not None:
                raise AssertionError(f"app exited ({self.proc.returncode}) before {needle!r}:\n{self.text()[-2000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {needle!r} on screen; last output:\n{self.text()[-2000:]}")
            time.sleep(0.02)

    def wait_for_new_text(self, needle: str, since: int) -> None:
        """`wait_for_text` on what the app wrote after the first `since` characters of text."""
        deadline = time.monotonic() + DEADLINE_S
        while needle not in self.text()[since:]:
            if self.proc.poll() is not None:
                raise AssertionError(f"app exited ({self.proc.returncode}) before {needle!r}:\n{self.text()[-2000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {needle!r} on screen; last output:\n{self.text()[-2000:]}")
            time.sleep(0.02)

    def write(self, data: bytes) -> None:
        os.write(self.master, data)  # one write: the burst reaches the app in one read

    def ask_to_quit(self) -> None:
        since = len(self.text())
        self.write(b"\x11")  # ctrl+q asks (dockstation/tui/quit.py) ...
        self.wait_for_new_text("Press Y to quit", since)  # ... and takes a Y after a pause

    def quit(self) -> int:
        """Quit as a person does: ctrl+q, then Y when the bench asks; the exit code."""
        self.ask_to_quit()
        self.write(b"y")
        return self.wait_exit()

    def wait_exit(self) -> int:
        return self.proc.wait(timeout=DEADLINE_S)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=DEADLINE_S)
        try:
            os.close(self.master)
        except OSError:
            pass


def wait_for_unit(home: Path, lpn: str) -> None:
    """Poll the SQLite file from outside the app until the unit is committed."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        conn = sqlite3.connect(home / DB_NAME, timeout=5)
        try:
            if conn.execute("SELECT count(*) FROM unit WHERE lpn = ?", (lpn,)).fetchone()[0]:
                return
        finally:
            conn.close()
        if time.monotonic() > deadline:
            raise AssertionError(f"unit {lpn} never committed")
        time.sleep(0.05)


@pytest.fixture
def terminal(home, manifest):
    terms: list[BenchTerminal] = []

    def start(*args: str, home: Path | None = home, cwd: Path | None = None,
              prefix: tuple[str, ...] = ()) -> BenchTerminal:
        term = BenchTerminal(home, *args, cwd=cwd, prefix=prefix)
        terms.append(term)
        return term

    yield start
    for term in terms:
        term.close()


def test_badge_and_rma_in_one_burst_receive_a_unit_then_quit(terminal, home, manifest):
    term = terminal()
    term.wait_for_text("Scan your badge")
    term.write(b"OP-1001\rRMA-2026-000001\r")
    wait_for_unit(home, "B07-00000001")
    term.wait_for_text("Received B07-00000001")
    assert "Casey Clerk" in term.text()
    assert term.quit() == 0
    conn = sqlite3.connect(home / DB_NAME)
    kinds = [k for (k,) in conn.execute("SELECT kind FROM event ORDER BY seq")]
    conn.close()
    # the receipt label's job commits with the unit; the print worker may print it any time after
    assert [k for k in kinds if k != "label_printed"] == [
        "operator_signed_in", "unit_received", "label_queued", "operator_signed_out"]
    assert b"\x1b[?1049l" in term.raw  # the terminal was given back (alternate screen left)


def test_run_without_a_station_file_says_what_to_do(tmp_path):
    out = subprocess.run([str(SCRIPT), "--home", str(tmp_path / "nowhere"), "run"],
                         capture_output=True, text=True, timeout=DEADLINE_S)
    assert out.returncode != 0
    assert "station.toml is missing" in out.stderr and "dockstation demo" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_run_with_a_bad_config_names_file_key_and_reason(home):
    (home / "config" / "station.toml").write_text('station_id = "B07"\n[wedge]\nmax_gap_ms = -5\n')
    out = subprocess.run([str(SCRIPT), "--home", str(home), "run"], capture_output=True, text=True,
                         timeout=DEADLINE_S)
    assert out.returncode != 0
    line = out.stderr.strip()
    assert len(line.splitlines()) == 1
    assert "station.toml" in line and "wedge.max_gap_ms" in line and "greater than 0" in line


def test_demo_builds_in_demo_home_and_shows_the_demo_badges(terminal, tmp_path):
    pytest.importorskip("dockstation.demo", reason="the demo builder is not installed")
    term = terminal("demo", "--rmas", "20", home=None, cwd=tmp_path)  # no --home: ./demo-home
    term.wait_for_text("Demo: type OP-1001 (clerk)")
    assert (tmp_path / "demo-home" / "DEMO").is_file()
    assert (tmp_path / "demo-home" / DB_NAME).is_file()
    assert term.quit() == 0
