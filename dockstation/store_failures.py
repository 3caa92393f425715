"""Store failures an operator can act on: what happened, and what to do (issue 14).

A full disk or a read-only home used to reach the bench as `Internal error: OperationalError(...)`.
`explain` turns SQLite's (and the file system's) errors into a headline and one sentence for the
screen — with the error sound, like every refusal — and `home_problem` refuses, at start, a home
where nothing could be recorded at all. Everything here is plain Python (no Textual), used by the
TUI, the CLI and `dockstation doctor`.

"Nothing was recorded" is true by construction: a scan's use case writes in one transaction,
and a failed statement rolls the whole transaction back (store.py).
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

MIN_FREE_BYTES = 1 << 20  # under 1 MB free the bench refuses to start: the first scan would fail
LOW_FREE_BYTES = 200 << 20  # under 200 MB `dockstation doctor` warns


@dataclass(frozen=True)
class StoreFailure:
    title: str  # big and short, for the screen: "DISK FULL"
    message: str  # what happened and what to do
    kind: str  # full | read_only | io | damaged | busy | cannot_open

    @property
    def summary(self) -> str:
        return f"{self.title} — {self.message}"


_FULL = StoreFailure("DISK FULL", "nothing was recorded; free space or call IT, then scan again", "full")
_READ_ONLY = StoreFailure("READ-ONLY", "nothing was recorded; the bench's data folder cannot be written — "
                          "call IT, then scan again", "read_only")
_IO = StoreFailure("DISK ERROR", "nothing was recorded; the disk reported an error — call IT, then scan again", "io")
_DAMAGED = StoreFailure("DATABASE DAMAGED", "nothing was recorded; the bench's database is damaged — call IT "
                        "and delete nothing", "damaged")
_BUSY = StoreFailure("DATABASE BUSY", "nothing was recorded; another program holds the database — "
                     "scan again in a moment", "busy")
_CANT_OPEN = StoreFailure("CANNOT OPEN DATABASE", "nothing was recorded; the database file cannot be opened — "
                          "call IT", "cannot_open")

_BY_SQLITE_CODE = {
    sqlite3.SQLITE_FULL: _FULL,
    sqlite3.SQLITE_READONLY: _READ_ONLY,
    sqlite3.SQLITE_PERM: _READ_ONLY,
    sqlite3.SQLITE_IOERR: _IO,
    sqlite3.SQLITE_CORRUPT: _DAMAGED,
    sqlite3.SQLITE_NOTADB: _DAMAGED,
    sqlite3.SQLITE_BUSY: _BUSY,
    sqlite3.SQLITE_LOCKED: _BUSY,
    sqlite3.SQLITE_CANTOPEN: _CANT_OPEN,
}
# Older SQLite builds give no error code: their messages, in the same order of importance.
_BY_MESSAGE = [
    ("database or disk is full", _FULL), ("readonly database", _READ_ONLY), ("disk i/o error", _IO),
    ("malformed", _DAMAGED), ("not a database", _DAMAGED), ("database is locked", _BUSY),
    ("unable to open database", _CANT_OPEN),
]
_BY_ERRNO = {
    errno.ENOSPC: _FULL, errno.EDQUOT: _FULL, errno.EROFS: _READ_ONLY, errno.EACCES: _READ_ONLY,
    errno.EPERM: _READ_ONLY, errno.EIO: _IO,
}


def explain(exc: BaseException) -> StoreFailure | None:
    """The failure behind `exc` (SQLite's, raw or wrapped by SQLAlchemy, or the file system's),
    or None when it is not one an operator can act on (a bug: shown as an internal error)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:  # SQLAlchemy keeps the DBAPI error in .orig
        seen.add(id(current))
        if isinstance(current, sqlite3.Error):
            code = getattr(current, "sqlite_errorcode", None)
            if code is not None and (code & 0xFF) in _BY_SQLITE_CODE:
                return _BY_SQLITE_CODE[code & 0xFF]
            text = str(current).lower()
            return next((f for needle, f in _BY_MESSAGE if needle in text), None)
        if isinstance(current, OSError) and current.errno in _BY_ERRNO:
            return _BY_ERRNO[current.errno]
        current = getattr(current, "orig", None) or current.__cause__
    return None


def home_problem(home: Path, db_name: str = "dockstation.sqlite3") -> str | None:
    """Why nothing could be recorded in `home` (one line), or None. Writes and removes a small
    file there: the only sure test (os.access knows nothing of a read-only mount for root)."""
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot create the bench's data folder {home}: {exc.strerror or exc}"
    if not home.is_dir():
        return f"{home} is not a folder"
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=home)
        try:
            os.write(fd, b"dockstation")
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as exc:
        failure = _BY_ERRNO.get(exc.errno or 0)
        what = "read-only" if failure is _READ_ONLY else "disk full" if failure is _FULL else exc.strerror
        return f"the bench's data folder {home} cannot be written ({what or exc})"
    for name in (db_name, f"{db_name}-wal", f"{db_name}-shm"):
        path = home / name
        if path.exists() and not os.access(path, os.R_OK | os.W_OK):
            return f"{path} cannot be written (read-only file)"
    free = shutil.disk_usage(home).free
    if free < MIN_FREE_BYTES:
        return f"the disk of {home} is full ({free // 1024} kB free)"
    return None


def refusal(home: Path, problem: str) -> str:
    """The one line a command that records refuses to start with."""
    return f"{problem}: nothing could be recorded — fix it (free space, permissions) or call IT"
