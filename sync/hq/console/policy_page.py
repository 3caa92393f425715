"""The Policy page: the policy in force and its publications; upload a candidate policy.toml, see
its simulation on HQ's history; publish it to the benches as a separate, confirmed act (admin).

Publishing is refused for a candidate simulated against another bundle than the one in force now
(someone published meanwhile, or the config directory changed): simulate it again first, so what
was reviewed is what goes out.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import RedirectResponse, Response

from dockstation import csv_out
from dockstation.types import utcnow
from sync.bundle import BundleRefused
from sync.hq.console import candidates
from sync.hq.console.auth import ConsoleUser, checked_form, console_user, require_admin
from sync.hq.console.web import page, secured
from sync.hq.published import history, publish

router = APIRouter(include_in_schema=False)
User = Annotated[ConsoleUser, Depends(console_user)]
DEFAULT_DAYS = 90
SHOWN_CHANGES = 200


def _overview(request: Request) -> dict[str, Any]:
    db, config_dir = request.app.state.db, request.app.state.config_dir
    return {"now": candidates.in_force(db, config_dir), "publications": history(db),
            "candidates": candidates.recent(db)}


def _since_default() -> str:
    return (utcnow() - timedelta(days=DEFAULT_DAYS)).date().isoformat()


@router.get("/policy")
async def policy(request: Request, user: User, published: int | None = None) -> Response:
    try:
        data = await run_in_threadpool(_overview, request)
    except BundleRefused as exc:
        return page(request, "error.html", status=503, title="Configuration refused",
                    reason=f"The bundle HQ would serve does not load: {exc}")
    return page(request, "policy.html", since=_since_default(), error="", published=published, **data)


def _since(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        raise candidates.Refused(f"“{str(value)[:30]}” is not a date (YYYY-MM-DD)") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


@router.post("/policy")
async def upload(request: Request, user: User) -> Response:
    form = await checked_form(request, user, max_part_size=candidates.MAX_FILE + 1024)
    file = form.get("policy")
    try:
        if not isinstance(file, UploadFile) or not file.filename:
            raise candidates.Refused("choose a policy.toml file to upload")
        content = await file.read(candidates.MAX_FILE + 1)
        since = _since(form.get("since"))
        new_id = await run_in_threadpool(candidates.upload, request.app.state.db, request.app.state.config_dir,
                                         content=content, filename=file.filename, since=since, by=user.name)
    except (candidates.Refused, BundleRefused) as exc:
        data = await run_in_threadpool(_overview, request)
        return page(request, "policy.html", status=400, since=str(form.get("since") or _since_default()),
                    error=str(exc), published=None, **data)
    return secured(RedirectResponse(f"/policy/candidates/{new_id}", status_code=303))


def _candidate(request: Request, candidate_id: int) -> tuple[dict[str, Any], candidates.InForce]:
    found = candidates.get(request.app.state.db, candidate_id)
    if found is None:
        raise HTTPException(404, f"no candidate policy {candidate_id}")
    return found, candidates.in_force(request.app.state.db, request.app.state.config_dir)


@router.get("/policy/candidates/{candidate_id}")
async def candidate(request: Request, user: User, candidate_id: int) -> Response:
    found, now = await run_in_threadpool(_candidate, request, candidate_id)
    sim = found["simulation"] or {}
    return page(request, "candidate.html", c=found, sim=sim, now=now, current=found["base_version"] == now.version,
                changes=sim.get("changed", [])[:SHOWN_CHANGES], shown=SHOWN_CHANGES,
                triggers=candidates.trigger_rows(sim), firings=(sim.get("triggers") or {}).get("fired", [])[:SHOWN_CHANGES])


@router.post("/policy/candidates/{candidate_id}/simulate")
async def simulate_again(request: Request, user: User, candidate_id: int) -> Response:
    await checked_form(request, user)
    try:
        await run_in_threadpool(candidates.resimulate, request.app.state.db, request.app.state.config_dir,
                                candidate_id, user.name)
    except KeyError:
        raise HTTPException(404, f"no candidate policy {candidate_id}") from None
    except (candidates.Refused, BundleRefused) as exc:
        return page(request, "error.html", status=400, title="Cannot simulate", reason=str(exc),
                    back=f"/policy/candidates/{candidate_id}")
    return secured(RedirectResponse(f"/policy/candidates/{candidate_id}", status_code=303))


@router.get("/policy/candidates/{candidate_id}/changes.csv")
async def changes_csv(request: Request, user: User, candidate_id: int) -> Response:
    found, _ = await run_in_threadpool(_candidate, request, candidate_id)
    buf = io.StringIO()
    w = csv_out.writer(buf)
    w.writerow(["lpn", "category", "old_path", "new_path", "old_value", "new_value", "delta", "old_rule", "new_rule"])
    for c in (found["simulation"] or {}).get("changed", []):
        w.writerow([c["lpn"], c.get("category", ""), c["old_path"], c["new_path"], c["old_value"], c["new_value"],
                    c["delta"], c["old_rule"], c["new_rule"]])
    return secured(Response(buf.getvalue(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="policy-candidate-{candidate_id}-changes.csv"'}))


@router.get("/policy/candidates/{candidate_id}/publish")
async def confirm_publish(request: Request, user: User, candidate_id: int) -> Response:
    require_admin(user, "Publishing a policy")
    found, now = await run_in_threadpool(_candidate, request, candidate_id)
    return page(request, "publish_confirm.html", c=found, now=now, sim=found["simulation"] or {},
                current=found["base_version"] == now.version, error="")


@router.post("/policy/candidates/{candidate_id}/publish")
async def do_publish(request: Request, user: User, candidate_id: int) -> Response:
    form = await checked_form(request, user)
    require_admin(user, "Publishing a policy")
    found, now = await run_in_threadpool(_candidate, request, candidate_id)
    sim = found["simulation"] or {}
    error = ""
    if found["base_version"] != now.version:
        error = ("The policy in force changed since this candidate was simulated: simulate it again and review the "
                 "changes before publishing.")
    elif form.get("confirm") != "yes":
        error = "Tick the box to confirm you reviewed the simulation."
    if not error:
        try:
            publication = await run_in_threadpool(
                lambda: publish(request.app.state.db, request.app.state.config_dir, candidate_id=candidate_id,
                                content=found["content"], policy_version=found["policy_version"], by=user.name,
                                note=str(form.get("note") or "")[:500]))
        except BundleRefused as exc:
            error = f"HQ refused the bundle with this policy: {exc}"
        else:
            return secured(RedirectResponse(f"/policy?published={publication.id}", status_code=303))
    return page(request, "publish_confirm.html", status=409 if found["base_version"] != now.version else 400, c=found,
                now=now, sim=sim, current=found["base_version"] == now.version, error=error)
