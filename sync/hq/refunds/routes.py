"""`GET /api/v1/refunds`: the refund feed, for reader tokens with the `refunds` scope."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from sync.hq.db import reader_scopes
from sync.hq.deps import Db, Reader, check_protocol_header
from sync.hq.openapi import errors, refused
from sync.hq.refunds import feed
from sync.protocol import API

ENV_WEBHOOKS = "DOCKSTATION_HQ_WEBHOOKS"  # "off": this worker delivers no webhooks
router = APIRouter(prefix=API, tags=["head office"])


class RefundEntry(BaseModel):
    """One RMA's final refund decision, as the bench that closed its parcel made it."""

    id: str  # <station>-<seq> of the deciding event: the entry's id for de-duplication
    rma_id: str
    station_id: str
    refund: Literal["full", "partial", "none"] | None
    amount: str  # decimal, in `currency`
    currency: str | None
    reason: str
    rules: list[str]
    policy_version: str | None
    decided_at: str | None
    expected_value: str | None = None
    withheld: str | None = None
    empty: bool = False
    units: list[dict[str, Any]]
    missing_lines: list[dict[str, Any]]


class RefundPage(BaseModel):
    entries: list[RefundEntry]
    cursor: str  # the next `after`
    more: bool  # ask again now


@router.get("/refunds", response_model=RefundPage,
            responses=errors(400, 401, 403, 503, e403="a station token, or a reader token without the `refunds` "
                                                      "scope (dockstation hq add-reader NAME --scope refunds)"))
def get_refunds(reader: Reader, db: Db,
                after: Annotated[str, Query(json_schema_extra={"pattern": feed.CURSOR_PATTERN},
                                            description="the `cursor` of the last page; none: from the start")] = "",
                limit: Annotated[int, Query(ge=1, le=feed.MAX_LIMIT)] = 100,
                _p: Annotated[int | None, Depends(check_protocol_header)] = None) -> Any:
    """Final refund decisions after the cursor, oldest first: stable (an entry never changes or
    moves) and idempotent (the same cursor gives the same page); page until `more` is false,
    keep the last `cursor`, ask again later from it."""
    with db.read() as conn:
        if "refunds" not in reader_scopes(conn, reader.name):
            raise HTTPException(403, f"reader {reader.name} has no `refunds` scope: "
                                     f"dockstation hq add-reader {reader.name} --rotate --scope refunds")
    try:
        start = feed.decode_cursor(after)
    except feed.CursorError as exc:
        raise refused("query", "after", str(exc)) from None
    feed.project(db)  # whatever the benches pushed since the last pass
    return feed.page(db, start, limit)


def install(app: FastAPI) -> None:
    """The route, and this worker's webhook dispatcher for the app's lifetime (lifespan)."""
    app.include_router(router)
    previous = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        dispatcher = None
        if os.environ.get(ENV_WEBHOOKS, "on") != "off":
            from sync.hq.refunds.webhooks import Dispatcher

            dispatcher = Dispatcher(app.state.db).start()
        try:
            async with previous(a) as state:
                yield state
        finally:
            if dispatcher is not None:
                await run_in_threadpool(dispatcher.stop)

    app.router.lifespan_context = lifespan
