"""`dockstation scanners test`: a technician sees each code, with separators made visible."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
import tty
from pathlib import Path

BIN = Path(sys.executable).parent / "dockstation"


def read_until(proc: subprocess.Popen, needle: str, timeout: float = 10.0) -> str:
    out = ""
    deadline = time.monotonic() + timeout
    while needle not in out and time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 4096).decode(errors="replace")
            if not chunk:
                break
            out += chunk
    return out


def test_scanners_test_shows_codes_with_gs_visible(tmp_path):
    master, slave = os.openpty()
    tty.setraw(slave)
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "station.toml").write_text(
        f'station_id = "B07"\n[[scanners]]\nname = "front"\nport = "{os.ttyname(slave)}"\n')
    proc = subprocess.Popen([str(BIN), "--home", str(home), "scanners", "test", "front"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert "connected" in read_until(proc, "connected")
        os.write(master, b"0104006381333931\x1d21SER1\r")
        out = read_until(proc, "SER1")
        assert "<GS>" in out and "0104006381333931" in out
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
        os.close(master)
        os.close(slave)
    assert proc.returncode == 0


def test_scanners_test_unknown_name_fails_in_one_line(tmp_path):
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "station.toml").write_text('station_id = "B07"\n')
    res = subprocess.run([str(BIN), "--home", str(home), "scanners", "test", "nope"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode != 0
    assert res.stderr.strip().count("\n") == 0 and "no scanner named 'nope'" in res.stderr
