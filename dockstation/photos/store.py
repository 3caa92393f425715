"""Photos on the bench's disk and in its store: naming, writing, recording, reading back.

Files live under the home: `photos/<LPN>/<YYYYmmdd-HHMMSS>-<step>-<sha256[:12]>.jpg`. A file is
written (to a temporary name, fsynced, renamed, its folder fsynced) *before* the transaction that
records it: a crash in between leaves an orphan file (harmless: nothing refers to it), never a
row without its file. The same picture twice for one unit (same bytes) is stored once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlmodel import Session, select

from dockstation import events
from dockstation import rows as plain
from dockstation.models import Photo
from dockstation.photos.image import Processed, sha256_of
from dockstation.photos.rules import UNIT, PhotoState
from dockstation.store import Store

FOLDER = "photos"
_SAFE = re.compile(r"[^A-Za-z0-9_-]+")


def home_of(store: Store) -> Path:
    """The home a store lives in (its photos folder is beside the database)."""
    return store.path.parent


def file_name(lpn: str, step: str, sha256: str, at: datetime) -> str:
    """The photo's path relative to the home. LPN and step are checked names, cleaned anyway."""
    folder = _SAFE.sub("_", lpn) or "unit"
    label = _SAFE.sub("_", step) or "unit"
    return f"{FOLDER}/{folder}/{at:%Y%m%d-%H%M%S}-{label}-{sha256[:12]}.jpg"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(home: Path, rel: str, data: bytes) -> Path:
    """Write `data` at home/rel durably: temporary file, fsync, rename, fsync of the folder."""
    path = home / rel
    folder = path.parent
    new_folder = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{path.name}.{os.getpid()}.part"
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(folder)
    if new_folder:
        _fsync_dir(folder.parent)
    return path


@dataclass(frozen=True)
class Stored:
    photo: Photo
    new: bool  # False: this unit had this very picture already


def find(session: Session, lpn: str, sha256: str) -> Photo | None:
    return session.exec(select(Photo).where(Photo.lpn == lpn, Photo.sha256 == sha256)).first()


def record(session: Session, station_id: str, *, lpn: str, rma_id: str | None, processed: Processed, rel: str,
           step: str, inspection_id: int | None, camera: str, badge: str, at: datetime) -> Photo:
    """The photo's row and its `photo_taken` event, in the caller's write transaction (the file
    is on disk already)."""
    ev = events.record(session, station_id, "photo_taken", operator=badge, lpn=lpn, rma_id=rma_id, at=at,
                       payload={"sha256": processed.sha256, "step": step or None, "inspection_id": inspection_id,
                                "camera": camera, "file": rel, "bytes": processed.size,
                                "width": processed.width, "height": processed.height})
    photo = Photo(lpn=lpn, sha256=processed.sha256, step=step, inspection_id=inspection_id, file=rel,
                  bytes=processed.size, width=processed.width, height=processed.height, camera=camera,
                  taken_at=at, taken_by=badge, event_seq=ev.seq)
    session.add(photo)
    session.flush()
    return photo


# One plain query for both (the inspection's use cases read it on every step): the unit's photos
# per step, and the steps a lead waived in this inspection (`n` NULL).
# On the session's own connection (dockstation/rows.py): past SQLAlchemy's per-statement work.
_STATE = ("SELECT step, count(*) AS n, max(id) AS last FROM photo WHERE lpn = ? GROUP BY step "
          "UNION ALL SELECT step, NULL, NULL FROM photo_waiver WHERE inspection_id = ?")


def state_of(session: Session, lpn: str, inspection_id: int | None) -> PhotoState:
    """The unit's photos per step, the steps a lead waived in this inspection, the latest file."""
    session.flush()  # photos or waivers added in this transaction count (what autoflush did)
    rows = plain.execute(session, _STATE, (lpn, inspection_id)).fetchall()
    taken = [(step, n, last) for step, n, last in rows if n is not None]
    if not taken and inspection_id is None:
        return PhotoState()
    counts = {step or UNIT: n for step, n, _ in taken}
    last_file = last_step = None
    if taken:
        last = session.get(Photo, max(r[2] for r in taken))
        if last is not None:
            last_file, last_step = last.file, last.step
    waived = frozenset(step for step, n, _ in rows if n is None)
    return PhotoState(counts, waived, last_file, last_step)


# -- checking the files (dockstation doctor) ----------------------------------------------------
@dataclass(frozen=True)
class FileProblem:
    lpn: str
    file: str
    problem: str  # "missing" | "changed" | "unreadable"


def check_files(store: Store, home: Path | None = None) -> Iterator[tuple[Photo, str | None]]:
    """Every photo row with its file's problem (None: the file is there with its hash)."""
    root = home or home_of(store)
    with store.read() as session:
        photos = list(session.exec(select(Photo).order_by(Photo.id)).all())
    for photo in photos:
        path = root / photo.file
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            yield photo, "missing"
            continue
        except OSError as exc:
            yield photo, f"unreadable ({exc.strerror or exc})"
            continue
        yield photo, None if sha256_of(data) == photo.sha256 else "changed"


def orphans(store: Store, home: Path | None = None) -> list[Path]:
    """Files under photos/ that no row refers to (a crash between the file and its commit)."""
    root = home or home_of(store)
    folder = root / FOLDER
    if not folder.is_dir():
        return []
    with store.read() as session:
        known = set(session.exec(select(Photo.file)).all())
    return [p for p in sorted(folder.glob("*/*.jpg")) if p.relative_to(root).as_posix() not in known]
