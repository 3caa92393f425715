"""The HQ server: a FastAPI app over HQDatabase. Every answer comes from the database.

Run it with `dockstation hq serve`, or under any ASGI server with several workers:
`uvicorn --factory sync.hq.app:app_from_env --workers 4 --no-access-log` (DOCKSTATION_HQ_DB,
DOCKSTATION_HQ_CONFIG_DIR; HQ writes its own request log, docs/sync.md "Logs").
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Path as PathParam, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

import sync.hq.kpis
import sync.hq.photos
from dockstation.config import package_config_dir
from dockstation.types import iso, utcnow
from sync.bundle import BundleRefused, check_bundle
from sync.hq.console import mount_console
from sync.hq.console.web import ConsoleSettings
from sync.hq.backpressure import ENV_QUEUE, ENV_SLOTS, ENV_WAIT, QUEUE, SLOTS, WAIT_S, BatchSlots, Busy
from sync.hq.db import ENV_DB, HQDatabase, HqConfig, HqEvent, HqStation, hash_token
from sync.hq.deps import BEARER, AnyCaller, Db, Station, bearer_token, check_protocol_header, require_protocol
from sync.hq.events import lock_station, store_locked
from sync.hq.ingest import finite, read_batch
from sync.hq.guard import HqGuard
from sync.hq.manifest import CursorAhead, manifest_page
from sync.hq.openapi import BATCH_BODY, errors, exact_openapi, refused
from sync.hq.published import label as bundle_label
from sync.hq.published import served_bundle
from sync.hq.scope import LPN_PATTERN, foreign_unit, lpn_owner, refusal
from sync.hq.photos import DEFAULT_PHOTOS_DIR, ENV_PHOTOS_DIR, PhotoStore, photos_of
from sync.hq.units import unit_view
from sync.protocol import (API, CLOCK_SKEW_HEADER, CURSOR_PATTERN, MAX_PAGE, MAX_SKEW_S, PROTOCOL, SUPPORTED, ConfigBundle, EventAck, EventBatch,
                           EventIn, Health, ManifestPage, ProtocolError, decode_cursor)

log = logging.getLogger("dockstation.hq")
ENV_CONFIG_DIR = "DOCKSTATION_HQ_CONFIG_DIR"
MAX_BODY = 32 << 20  # a 5000-event batch is a few MB
# A batch body holds a slot while it arrives: one that trickles in longer than this is cut (408),
# so a few slow (or deliberately slow) senders cannot keep every slot. The client's 2,000-event
# batch is about 1 MB: seconds even on a slow site link.
BODY_SECONDS = 120.0


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Decimal):
        return str(value)
    return value


def create_app(db: HQDatabase | str | None = None, *, config_dir: Path | None = None,
               batch_slots: int | None = None, batch_queue: int | None = None, max_body: int = MAX_BODY,
               body_seconds: float = BODY_SECONDS, console: ConsoleSettings | None = None,
               photos_dir: Path | str | None = None) -> FastAPI:
    database = db if isinstance(db, HQDatabase) else HQDatabase(db)
    cfg_dir = Path(config_dir) if config_dir is not None else package_config_dir()
    app = FastAPI(title="Dockstation HQ", version=f"protocol {PROTOCOL}",
                  description="Head-office server for Dockstation benches (docs/sync.md).")
    app.state.db = database
    app.state.config_dir = cfg_dir
    # Photos (sync/hq/photos.py): bytes in a folder, by SHA-256; their own upload slots, so a
    # bench's photos never hold up anyone's event pushes.
    app.state.photo_store = PhotoStore(photos_dir or os.environ.get(ENV_PHOTOS_DIR) or default_photos_dir(database))
    app.state.photo_slots = asyncio.Semaphore(4)
    # Batches handled at once by this worker, and how many may wait (sync/hq/backpressure.py):
    # the rest are answered 503 with Retry-After at once. A batch's body is read inside its slot,
    # so one worker holds at most that many bodies.
    slots = BatchSlots(batch_slots or int(os.environ.get(ENV_SLOTS, SLOTS)),
                       int(os.environ.get(ENV_QUEUE, QUEUE)) if batch_queue is None else batch_queue,
                       float(os.environ.get(ENV_WAIT, WAIT_S)))
    app.state.batch_slots = slots
    # Token, Content-Length and body size are checked there, before any body byte is read.
    app.add_middleware(HqGuard, db=database, max_body=max_body)

    @app.get("/healthz", response_model=Health, tags=["ops"],
             responses={503: {"model": Health, "description": "the database does not answer"}})
    def healthz(db: Db) -> Any:
        try:
            with db.read() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # the load balancer takes this worker out
            log.warning("health check: database unreachable: %s", exc)
            return JSONResponse({"status": "database unreachable", "protocol": sorted(SUPPORTED),
                                 "database": db.dialect}, status_code=503)
        return Health(status="ok", protocol=sorted(SUPPORTED), database=db.dialect)

    @app.post(f"{API}/events", response_model=EventAck, tags=["sync"], openapi_extra=BATCH_BODY,
              responses=errors(400, 401, 403, 408, 413, 422, 503,
                               e403="a reader token; or the batch names another station, or another station's "
                                    "unit: refused whole, nothing stored",
                               e503="HQ's database does not answer, or this worker is busy (`Retry-After`: send "
                                    "the batch again after that many seconds)"))
    async def post_events(request: Request, db: Db, station: Station,
                          _p: Annotated[int | None, Depends(check_protocol_header)] = None) -> EventAck:
        """Store a batch of this station's events (idempotent); answer the gap-free high-water mark
        and the station's open conflicts.

        The hot path of HQ: the token was checked from the headers before the body is read
        (sync/hq/guard.py), and again inside the batch's own transaction (the station's row lock,
        so a revocation holds at once); the body is validated once, as bytes.

        A bench may add `X-Dockstation-Clock-Skew: <seconds>`, its clock minus HQ's as it last
        measured it; HQ keeps it for the console's Stations page. A hint, not a parameter: a value
        that is not a finite number within a year is ignored, never refused."""
        token = bearer_token(request.headers.get("authorization"))
        try:
            async with slots.slot():
                try:
                    async with asyncio.timeout(body_seconds):
                        body = await _read_body(request)
                except TimeoutError:
                    raise HTTPException(408, f"the request body did not arrive within {body_seconds:g} s") from None
                return await run_in_threadpool(_post_events, db, token, body,
                                               _skew(request.headers.get(CLOCK_SKEW_HEADER)))
        except Busy as busy:
            # The body is read and dropped first, so the bench hears the answer rather than a
            # connection reset while it is still sending.
            try:
                async with asyncio.timeout(body_seconds):
                    async for _ in request.stream():
                        pass
            except TimeoutError:
                pass
            return JSONResponse({"detail": str(busy)}, status_code=503,  # type: ignore[return-value]
                                headers={"Retry-After": str(busy.retry_after), "Connection": "close"})

    @app.get(f"{API}/manifest", tags=["sync"],
             responses={200: {"model": ManifestPage},
                        **errors(400, 401, 403, 410, 503,
                                 e400="the X-Dockstation-Protocol header is missing or not a version HQ speaks",
                                 e403="a reader token: the manifest is for benches",
                                 e410="the cursor is ahead of HQ's manifest (HQ database replaced): start over")})
    def get_manifest(station: Station, db: Db, _p: Annotated[int, Depends(require_protocol)],
                     after: Annotated[str, Query(json_schema_extra={"pattern": CURSOR_PATTERN},
                                                 description="the `cursor` of the last page")] = "",
                     limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 5000,
                     count: bool = False) -> Response:
        """RMAs changed after the cursor (whole, with all lines), oldest change first."""
        try:  # decodes exactly what the document's pattern allows (sync/protocol.py)
            change_id = decode_cursor(after)
        except ProtocolError as exc:
            raise refused("query", "after", f"{exc}: hand back the `cursor` of the last page, or none") from None
        try:
            body = manifest_page(db, change_id, limit, count=count)
        except CursorAhead:
            raise HTTPException(410, "this cursor is ahead of HQ's manifest (HQ database replaced?): "
                                     "start again without a cursor") from None
        return Response(body, media_type="application/json")

    @app.get(f"{API}/config", tags=["sync"],
             responses={200: {"model": ConfigBundle}, 304: {"description": "unchanged (If-None-Match)"},
                        **errors(400, 401, 403, 503, e403="a reader token: the configuration is for benches")})
    def get_config(station: Station, db: Db, request: Request, _p: Annotated[int, Depends(require_protocol)],
                   if_none_match: Annotated[str | None, Header()] = None) -> Response:
        """The configuration bundle in force: HQ's config directory with the newest policy publication
        over it (the same on every worker); ETag is its version."""
        config_dir = request.app.state.config_dir
        try:
            bundle, publication = served_bundle(db, config_dir)  # cheap: one row, read and hash
            etag = f'"{bundle.version}"'
            if if_none_match and etag in [t.strip() for t in if_none_match.split(",")]:
                return Response(status_code=304, headers={"ETag": etag})
            check_bundle(bundle, bundle_label(config_dir, publication))  # validated before it goes out
        except (BundleRefused, OSError) as exc:
            log.error("config bundle refused at HQ: %s", exc)
            raise HTTPException(503, f"HQ's configuration is invalid, benches keep theirs: {exc}") from None
        _remember(db, bundle)
        return Response(bundle.model_dump_json(), media_type="application/json", headers={"ETag": etag})

    @app.get(f"{API}/units/{{lpn}}", tags=["head office"],
             responses=errors(400, 401, 404, 503, e404="no such unit at HQ; for a station token, also any unit "
                                                       "another station created"))
    def get_unit(lpn: Annotated[str, PathParam(pattern=LPN_PATTERN, description="e.g. B07-00012345")],
                 caller: AnyCaller, db: Db,
                 _p: Annotated[int | None, Depends(check_protocol_header)] = None) -> dict[str, Any]:
        """Latest state of a unit, folded from the events of the station that created it, with its
        photos (`photos`: each with `stored`, whether HQ holds its bytes, and `url` to download it).

        A reader token reads any unit. A station token reads only the units its own station
        created (LPN `<its station>-…`); any other LPN is a 404, the same as a unit HQ does not
        have, so a bench cannot learn what other stations received. Only the creating station's
        events count (no other station may write about its units, sync/hq/scope.py)."""
        owner = lpn_owner(lpn)
        if not caller.is_reader and owner != caller.name:
            raise HTTPException(404, f"no unit {lpn} of station {caller.name} at HQ (a station token reads only its "
                                     "own units; other stations' units need an HQ reader token)")
        t = HqEvent.__table__
        with db.read() as conn:
            rows = [dict(r._mapping) for r in conn.execute(
                select(t.c.station_id, t.c.seq, t.c.kind, t.c.at, t.c.operator, t.c.lpn, t.c.rma_id, t.c.payload)
                .where(t.c.lpn == lpn, t.c.station_id == owner)).all()]
            photos = photos_of(conn, owner or "", lpn, rows) if rows else []
        unit = unit_view(iter(rows), utcnow())
        if unit is None:
            raise HTTPException(404, f"no unit {lpn} at HQ (yet)")
        return {**{k: _plain(v) for k, v in unit.items()}, "photos": photos}

    # Containers (docs/containers.md): GET /api/v1/containers/{id}, folded from their events.
    from sync.hq.containers import install as install_containers

    install_containers(app)
    # The KPI routes (owned by the KPI feature) share the prefix and the dependencies in hq_deps.
    app.include_router(sync.hq.kpis.router)
    sync.hq.photos.install(app)
    # The console: HTML pages at / for reader tokens by session cookie, outside /api/v1 and
    # outside the OpenAPI document (sync/hq/console/).
    mount_console(app, console or ConsoleSettings.from_env())
    # The refund feed and this worker's webhook deliveries (sync/hq/refunds).
    from sync.hq.refunds.routes import install as install_refunds

    install_refunds(app)
    app.openapi = exact_openapi(app, header_required_by=require_protocol)  # type: ignore[method-assign]
    return app


def _skew(value: str | None) -> float | None:
    try:
        skew = float(value) if value is not None and len(value) <= 32 else None
    except ValueError:
        return None
    return skew if skew is not None and abs(skew) <= MAX_SKEW_S else None  # (false for nan too)


async def _read_body(request: Request) -> bytes:
    """The whole body (HqGuard refuses it with 413 past the limit, chunked or not)."""
    return b"".join([chunk async for chunk in request.stream()])


def _read_pydantic(body: bytes) -> EventBatch:
    try:
        batch = EventBatch.model_validate_json(body)
    except ValidationError as exc:  # the shape of FastAPI's own 422; never the input echoed back
        raise RequestValidationError([{"loc": ("body", *e["loc"]), "msg": e["msg"], "type": e["type"]}
                                      for e in exc.errors(include_url=False, include_input=False)]) from None
    if not all(finite(e.payload) for e in batch.events):
        # JSON has no infinity: a number past a double (1e400) reads as one, and so do NaN and
        # Infinity, which are no JSON at all; neither database would store what was sent.
        raise RequestValidationError([{"loc": ("body", "events"), "type": "finite_number",
                                       "msg": "a payload holds a number too large for a 64-bit float (or NaN)"}])
    return batch


def _post_events(db: HQDatabase, token: str, body: bytes, clock_skew: float | None = None) -> EventAck:
    # PostgreSQL: the fast lane reads the usual batch straight into COPY rows (sync/hq/ingest.py);
    # whatever it is not sure of, and every batch on SQLite, pydantic reads.
    now = utcnow()  # HQ's time of receipt, on every row
    wire = read_batch(body, lambda: _read_pydantic(body).events, now) if db.dialect == "postgresql" else None
    batch = _read_pydantic(body) if wire is None else None
    with db.write() as conn:
        station = lock_station(conn, token_hash=hash_token(token))
        if station is None:  # revoked since the guard let it in
            raise HTTPException(401, "unknown or revoked station token", headers=BEARER)
        sid = station.station_id
        if wire is not None:
            named = wire.station_id != sid or not wire.event_stations <= {sid}
            foreign = wire.foreign_unit(sid)
        else:
            assert batch is not None
            named = batch.station_id != sid or any(e.station_id not in (None, sid) for e in batch.events)
            foreign = foreign_unit(sid, batch.events)
        if named:
            raise HTTPException(403, f"this token belongs to station {sid}: it may only write {sid}'s events")
        if foreign is not None:
            raise HTTPException(403, refusal(sid, *foreign))
        # The bench's clock skew goes into the same UPDATE of the station's row (locked above).
        skew = {} if clock_skew is None else {"clock_skew_s": round(clock_skew, 3), "clock_reported_at": utcnow()}
        if wire is not None:
            return store_locked(conn, db, station, wire.rows, skew, now)
        assert batch is not None  # NUL: PostgreSQL text cannot hold one (a scanned control code)
        return store_locked(conn, db, station, [_without_nul(e) for e in batch.events]
                            if b"\\u0000" in body else batch.events, skew, now)


def _clean_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_clean_nul(k): _clean_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_nul(v) for v in value]
    return value


def _without_nul(event: EventIn) -> EventIn:
    """The event with NUL replaced by U+FFFD in every string: the same on every push, so a
    re-sent event still compares equal to the stored one."""
    return event.model_copy(update={k: _clean_nul(getattr(event, k)) for k in ("operator", "lpn", "rma_id", "payload")})


def _remember(db: HQDatabase, bundle: ConfigBundle) -> None:
    """Keep each version HQ has handed out (audit: which rules were in force when)."""
    table = HqConfig.__table__
    stmt = (pg_insert if db.dialect == "postgresql" else sqlite_insert)(table).values(
        version=bundle.version, bundle=bundle.model_dump(mode="json"), created_at=utcnow()
    ).on_conflict_do_nothing(index_elements=["version"])
    try:
        with db.write() as conn:
            conn.execute(stmt)
    except Exception as exc:  # an audit row must not keep a bench from its config
        log.warning("could not record config version %s: %s", bundle.version[:12], exc)


def default_photos_dir(db: HQDatabase) -> Path:
    """`hq-photos/` beside a SQLite database file; in the working folder for PostgreSQL."""
    from sqlalchemy.engine import make_url

    path = make_url(db.url).database if db.dialect == "sqlite" else None
    return Path(path).parent / DEFAULT_PHOTOS_DIR if path and path != ":memory:" else Path(DEFAULT_PHOTOS_DIR)


def app_from_env() -> FastAPI:
    """Factory for ASGI servers running several workers: `uvicorn --factory sync.hq.app:app_from_env`."""
    cfg = os.environ.get(ENV_CONFIG_DIR)
    return create_app(os.environ.get(ENV_DB), config_dir=Path(cfg) if cfg else None)
