"""Photos at HQ (issue 18): benches upload them, head office reads them (docs/photos.md).

`PUT /api/v1/photos/{sha256}?lpn=LPN` (a station token): the JPEG's bytes. Content-addressed and
idempotent: HQ keeps the bytes once, under their SHA-256, and answers 201 the first time, 200
after. It takes a photo only when
- the bytes hash to the path's sha256 (else 422: a photo is verified on arrival, never trusted);
- the LPN is the calling station's own unit (else 403, like events: sync/hq/scope.py);
- a `photo_taken` event of that station about that unit names this sha256 (else 409: the bench
  uploads a photo only after HQ acknowledged its event, so 409 means "push the events first").
A photo has its own body limit (PHOTO_LIMIT, checked from Content-Length before a byte is read,
and while it arrives) and its own slots, so uploads never hold up event pushes.

`GET /api/v1/photos/{sha256}`: the bytes, for a reader token, or for the station that uploaded
it; any other station gets 404 (as for a photo HQ does not have). `GET /api/v1/units/{lpn}` lists
the unit's photos (`photos_of`), each with whether HQ holds its bytes yet.

Storage: `PhotoStore`, a folder by default (`hq serve --photos-dir`, DOCKSTATION_HQ_PHOTOS_DIR):
`<dir>/<sha256[:2]>/<sha256>.jpg`, written to a temporary name, fsynced, renamed, before the row
that names it commits. Several HQ workers or replicas share the folder (NFS, a mounted volume).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path as PathParam, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from starlette.requests import ClientDisconnect

from dockstation.types import iso, utcnow
from sync.hq.db import HQDatabase, HqEvent, HqPhoto
from sync.hq.deps import AnyCaller, Db, Station, check_protocol_header, require_protocol
from sync.hq.openapi import errors, refused
from sync.hq.scope import LPN_PATTERN, lpn_owner
from sync.protocol import API

ENV_PHOTOS_DIR = "DOCKSTATION_HQ_PHOTOS_DIR"
DEFAULT_PHOTOS_DIR = "hq-photos"
PHOTO_LIMIT = 16 << 20  # a 4000 px JPEG is a few MB; the bench's default (1600 px) ~300 KB
PHOTO_SECONDS = 300.0  # a photo body slower than this is cut (408): 16 MB at ~450 kbit/s
SHA_PATTERN = r"^[0-9a-f]{64}$"
JPEG = "image/jpeg"
_SHA = re.compile(SHA_PATTERN)


class PhotoStore:
    """HQ's photo bytes in a folder, by SHA-256. Any process may write the same photo at once:
    each writes its own temporary file and the rename makes one of them the photo."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        assert _SHA.fullmatch(sha256)
        return self.root / sha256[:2] / f"{sha256}.jpg"

    def has(self, sha256: str) -> bool:
        """The photo is here with its hash (a damaged or half-lost file counts as absent)."""
        try:
            data = self.path(sha256).read_bytes()
        except OSError:
            return False
        return hashlib.sha256(data).hexdigest() == sha256

    def put(self, sha256: str, data: bytes) -> None:
        path = self.path(sha256)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{id(data)}.part")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def get(self, sha256: str) -> bytes | None:
        try:
            return self.path(sha256).read_bytes()
        except OSError:
            return None


class PhotoStored(BaseModel):
    """A photo HQ holds now: `created` is false when it had it already (an idempotent repeat)."""

    sha256: str
    lpn: str
    bytes: int
    created: bool


SHA = Annotated[str, PathParam(pattern=SHA_PATTERN, description="the SHA-256 of the JPEG's bytes, lower-case hex")]
PUT_BODY = {"requestBody": {"required": True, "description": "the photo: a JPEG as the bench stored it",
                            "content": {JPEG: {"schema": {"type": "string", "format": "binary"}}}}}


def _store(request: Request) -> PhotoStore:
    return request.app.state.photo_store  # type: ignore[no-any-return]


async def _read_photo(request: Request) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > PHOTO_LIMIT:
        raise HTTPException(413, f"a photo is at most {PHOTO_LIMIT} bytes")
    data = bytearray()
    try:
        async for chunk in request.stream():
            data += chunk
            if len(data) > PHOTO_LIMIT:
                raise HTTPException(413, f"a photo is at most {PHOTO_LIMIT} bytes")
    except ClientDisconnect:  # cut mid-upload: nothing was stored; the bench sends it again
        raise HTTPException(400, "the connection closed before the whole photo arrived") from None
    return bytes(data)


PUT_ROUTE = dict(status_code=201, response_model=PhotoStored, openapi_extra=PUT_BODY,
                 responses={200: {"model": PhotoStored, "description": "HQ had this photo already (idempotent)"},
                            **errors(400, 401, 403, 408, 409, 413, 415, 422, 503,
                                e400="the X-Dockstation-Protocol header is missing or not a version HQ speaks, or "
                                     "the connection closed mid-photo",
                                e403="a reader token; or the LPN is another station's unit",
                                e409="no photo_taken event of this station about this unit names this photo (yet): "
                                     "the bench pushes its events first",
                                e413=f"a photo larger than HQ takes ({PHOTO_LIMIT >> 20} MB)",
                                e415="the body is not image/jpeg",
                                e408=f"the photo did not arrive in time ({PHOTO_SECONDS:g} s): send it again",
                                e422="the bytes do not hash to the path's sha256, or are no JPEG, or a parameter "
                                     "does not match this document")})


async def put_photo(sha256: SHA, request: Request, response: Response, station: Station, db: Db,
                    _p: Annotated[int, Depends(require_protocol)],
                    lpn: Annotated[str, Query(pattern=LPN_PATTERN, description="the unit the photo is of")]) -> PhotoStored:
    """Store a photo of one of this station's units (content-addressed, idempotent, verified)."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != JPEG:
        raise HTTPException(415, f"a photo is sent as {JPEG}")
    if lpn_owner(lpn) != station:
        raise HTTPException(403, f"this token belongs to station {station}: it may only upload photos of {station}'s "
                                 f"own units (LPN {station}-NNNNNNNN)")
    async with request.app.state.photo_slots:
        try:
            async with asyncio.timeout(PHOTO_SECONDS):
                data = await _read_photo(request)
        except TimeoutError:
            raise HTTPException(408, f"the photo did not arrive within {PHOTO_SECONDS:g} s") from None
        created = await run_in_threadpool(_put, db, _store(request), station, lpn, sha256, data)
    response.status_code = 201 if created else 200
    return PhotoStored(sha256=sha256, lpn=lpn, bytes=len(data), created=created)


def _named(conn: Any, station: str, lpn: str, sha256: str) -> bool:
    """Does a photo_taken event of `station` about `lpn` name this photo? (ix_hq_event_lpn: a unit's
    events are few, their payloads are looked at here.)"""
    t = HqEvent.__table__
    rows = conn.execute(select(t.c.payload).where(t.c.lpn == lpn, t.c.station_id == station,
                                                  t.c.kind == "photo_taken")).all()
    return any(isinstance(r.payload, dict) and r.payload.get("sha256") == sha256 for r in rows)


def _put(db: HQDatabase, photos: PhotoStore, station: str, lpn: str, sha256: str, data: bytes) -> bool:
    if hashlib.sha256(data).hexdigest() != sha256:  # (422s in FastAPI's own shape, as documented)
        raise refused("body", "photo", "the photo's bytes do not hash to the sha256 in its path: nothing stored "
                                       "(a damaged upload, or a file changed on the bench)")
    if data[:3] != b"\xff\xd8\xff":
        raise refused("body", "photo", "not a JPEG: nothing stored")
    t = HqPhoto.__table__
    with db.read() as conn:
        if not _named(conn, station, lpn, sha256):
            raise HTTPException(409, f"no photo_taken event of station {station} about {lpn} names this photo at HQ "
                                     "(yet): push the events first")
        had = conn.execute(select(t.c.sha256).where(t.c.sha256 == sha256, t.c.station_id == station,
                                                    t.c.lpn == lpn)).first() is not None
    if not photos.has(sha256):  # bytes first, then the row that says HQ holds them
        photos.put(sha256, data)
    if had:
        return False
    insert = (pg_insert if db.dialect == "postgresql" else sqlite_insert)(t)
    with db.write() as conn:
        done = conn.execute(insert.values(sha256=sha256, station_id=station, lpn=lpn, bytes=len(data),
                                          stored_at=utcnow()).on_conflict_do_nothing())
    return bool(done.rowcount)


GET_ROUTE = dict(response_class=Response,
                 responses={200: {"description": "the photo (JPEG)",
                                  "content": {JPEG: {"schema": {"type": "string", "format": "binary"}}}},
                            **errors(400, 401, 404, 503, e404="HQ has no such photo; for a station token, also any "
                                                              "photo of another station's unit")})


def get_photo(sha256: SHA, caller: AnyCaller, db: Db, request: Request,
              _p: Annotated[int | None, Depends(check_protocol_header)] = None) -> Response:
    """A photo's bytes: for a reader, or for the station whose unit it is of."""
    t = HqPhoto.__table__
    query = select(t.c.lpn).where(t.c.sha256 == sha256)
    if not caller.is_reader:
        query = query.where(t.c.station_id == caller.name)
    with db.read() as conn:
        row = conn.execute(query.limit(1)).first()
    data = _store(request).get(sha256) if row is not None else None
    if data is None or hashlib.sha256(data).hexdigest() != sha256:
        raise HTTPException(404, f"no photo {sha256[:12]}… here" + ("" if caller.is_reader else
                                 f" of station {caller.name} (a station token reads only its own units' photos)"))
    return Response(data, media_type=JPEG, headers={"ETag": f'"{sha256}"',
                                                     "Cache-Control": "private, max-age=31536000, immutable"})


def install(app: Any) -> None:
    """The photo routes, on the app itself (the OpenAPI document's exactness pass sees them there)."""
    app.add_api_route(f"{API}/photos/{{sha256}}", put_photo, methods=["PUT"], tags=["photos"], **PUT_ROUTE)
    app.add_api_route(f"{API}/photos/{{sha256}}", get_photo, methods=["GET"], tags=["photos"], **GET_ROUTE)


def photos_of(conn: Any, owner: str, lpn: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The unit's photos from its photo_taken events (oldest first), and whether HQ holds each."""
    t = HqPhoto.__table__
    held = {r.sha256 for r in conn.execute(select(t.c.sha256).where(t.c.lpn == lpn, t.c.station_id == owner))}
    out = []
    for ev in sorted((r for r in rows if r["kind"] == "photo_taken"), key=lambda r: r["seq"]):
        p = ev["payload"] if isinstance(ev["payload"], dict) else {}
        sha = p.get("sha256")
        if not isinstance(sha, str) or not _SHA.fullmatch(sha):
            continue
        out.append({"sha256": sha, "step": p.get("step"), "taken_at": iso(ev["at"]), "operator": ev["operator"],
                    "camera": p.get("camera"), "width": p.get("width"), "height": p.get("height"),
                    "bytes": p.get("bytes"), "inspection_id": p.get("inspection_id"), "seq": ev["seq"],
                    "stored": sha in held, "url": f"{API}/photos/{sha}"})
    return out
