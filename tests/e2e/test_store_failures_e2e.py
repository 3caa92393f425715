"""A real read-only home and a real full disk (issue 14, item 8), through the real command.

Read-only: for a user that is not root, the home's permissions; root ignores those, so for root
the home is bind-mounted read-only in a private mount namespace (`unshare -m`) — the same
EROFS a read-only mount gives. Full disk: the home on a tmpfs of a few MB in a private mount
namespace (the bench's own files copied in), filled from outside through /proc/PID/root. Where
the machine allows neither (no unshare, mounts refused), those tests skip and say why.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from test_pty_receive import DEADLINE_S, SCRIPT, BenchTerminal, terminal, wait_for_unit  # noqa: F401

from dockstation.store import DB_NAME

UNSHARE = shutil.which("unshare")


def _namespace_prefix() -> list[str]:
    return ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-Urm"]


def _mounts_allowed(tmp_path: Path) -> str | None:
    """Why a private mount namespace cannot be made here, or None."""
    if UNSHARE is None or not Path("/proc/self/ns/mnt").exists():
        return "no unshare(1) / mount namespaces on this machine"
    probe = tmp_path / "probe"
    probe.mkdir()
    done = subprocess.run([*_namespace_prefix(), "sh", "-c", 'mount -t tmpfs -o size=1m tmpfs "$1"', "sh",
                           str(probe)], capture_output=True, text=True, timeout=DEADLINE_S)
    if done.returncode != 0:
        return f"mounts in a private namespace are refused here: {done.stderr.strip()[:120]}"
    return None


def test_the_bench_refuses_to_start_in_a_read_only_home(home, manifest, tmp_path):
    manifest.checkpoint()
    argv = [str(SCRIPT), "--home", str(home), "run"]
    if os.geteuid() != 0:
        os.chmod(home, 0o555)
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=DEADLINE_S)
        finally:
            os.chmod(home, 0o755)
    else:
        if (why := _mounts_allowed(tmp_path)) is not None:
            pytest.skip(why)
        script = 'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" "$1" && shift && exec "$@"'
        out = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", str(home), *argv],
                             capture_output=True, text=True, timeout=DEADLINE_S)
    assert out.returncode == 1
    line = out.stderr.strip()
    assert len(line.splitlines()) == 1, out.stderr
    assert f"the bench's data folder {home} cannot be written" in line
    assert "nothing could be recorded" in line and "Traceback" not in out.stderr


def test_a_full_disk_says_so_records_nothing_and_the_bench_goes_on_once_space_is_freed(terminal, home, manifest,
                                                                                        tmp_path):
    if (why := _mounts_allowed(tmp_path)) is not None:
        pytest.skip(why)
    manifest.checkpoint()
    mnt = tmp_path / "tmpfs-home"
    mnt.mkdir()
    script = 'mount -t tmpfs -o size=6m tmpfs "$1" && cp -a "$2"/. "$1"/ && shift 2 && exec "$@"'
    term = terminal(home=mnt, prefix=(*_namespace_prefix(), "sh", "-c", script, "sh", str(mnt), str(home)))
    term.wait_for_text("Scan your badge")
    term.write(b"OP-1001\r")
    term.wait_for_text("Casey Clerk")

    inside = Path(f"/proc/{term.proc.pid}/root{mnt}")  # the bench's home, as the bench sees it
    filler = inside / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:  # fill the disk to the last byte
        for size in (1 << 16, 4096, 512, 1):
            try:
                while os.write(fd, b"\0" * size):
                    pass
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    since = len(term.text())
    term.write(b"RMA-2026-000001\r")
    term.wait_for_new_text("nothing was recorded; free space or call IT", since)

    filler.unlink()  # IT frees space
    term.write(b"RMA-2026-000001\r")
    term.wait_for_text("Received B07-00000001")  # the first unit: the failed scan left nothing
    # A copy to read: SQLite resolves /proc/PID/root itself (to this process's root), so it
    # cannot open the file through that path; the kernel's open() can.
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in (DB_NAME, f"{DB_NAME}-wal"):
        if (inside / name).exists():
            shutil.copyfile(inside / name, copy / name)
    conn = sqlite3.connect(copy / DB_NAME, timeout=5)
    try:
        assert conn.execute("SELECT lpn FROM unit").fetchall() == [("B07-00000001",)]
        assert conn.execute("SELECT count(*) FROM scan_exception").fetchone()[0] == 0
        kinds = [k for (k,) in conn.execute("SELECT kind FROM event ORDER BY seq")]
    finally:
        conn.close()
    # the receipt label's job commits with the unit; the print worker may have printed it since
    assert [k for k in kinds if k != "label_printed"] == ["operator_signed_in", "unit_received", "label_queued"]
    assert term.quit() == 0
