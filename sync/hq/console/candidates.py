"""Candidate policies: check an uploaded policy.toml the way `dockstation policy check` does, with
the codes of the bundle HQ serves; replay HQ's history through it beside the policy in force
(dockstation.policy.simulate.replay over sync/hq/policy_history.py) and both policies' age
triggers over the units' waits (dockstation.policy.trigger_sim over sync/hq/trigger_history.py); keep both in
`hq_policy_candidate` so any worker shows it, and publishing reads it back from there.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from dockstation.config import ConfigError
from dockstation.policy.config import PolicyConfig, load_policy_file
from dockstation.policy.simulate import replay
from dockstation.types import utcnow
from sync.bundle import BundleRefused, bundle_of, check_bundle
from sync.hq.console.models import HqAudit, HqPolicyCandidate
from sync.hq.db import HQDatabase
from sync.hq.policy_history import hq_history
from sync.hq.published import POLICY_FILE, Publication, label, policy_in_force, served_bundle
from sync.hq.trigger_history import replay_hq_triggers

CANDIDATES = HqPolicyCandidate.__table__
MAX_FILE = 1 << 20
KEEP_CHANGES = 5000  # changed units kept with a simulation (the largest deltas first)


class Refused(Exception):
    """The upload is not a policy HQ could publish: the message names the file, key and reason."""


@dataclass(frozen=True)
class InForce:
    version: str  # the bundle's version (the ETag benches see)
    policy: PolicyConfig
    publication: Publication | None
    codes: Any
    files: dict[str, str]  # the bundle's files


def in_force(db: HQDatabase, config_dir: Path) -> InForce:
    bundle, publication = served_bundle(db, config_dir)
    codes, policy = policy_in_force(bundle, label(config_dir, publication))
    return InForce(bundle.version, policy, publication, codes, bundle.files)


def check(content: bytes, filename: str, now: InForce, config_dir: Path) -> tuple[str, PolicyConfig]:
    """The upload as text and as a policy, checked whole and inside the bundle (Refused)."""
    name = Path(filename or POLICY_FILE).name or POLICY_FILE
    if len(content) > MAX_FILE:
        raise Refused(f"{name}: larger than {MAX_FILE} bytes")
    try:
        body = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = content.count(b"\n", 0, exc.start) + 1
        raise Refused(f"{name}: not UTF-8 text (byte 0x{content[exc.start]:02X} on line {line}): save it as UTF-8") from None
    with tempfile.TemporaryDirectory(prefix="dockstation-hq-policy-") as tmp:
        path = Path(tmp) / "upload.toml"
        path.write_text(body, encoding="utf-8")
        try:
            policy = load_policy_file(path, now.codes)  # what `dockstation policy check FILE` runs
        except ConfigError as exc:
            raise Refused(str(exc).replace(str(path), name)) from None
    try:  # and as the benches would load it: over the package defaults, with the bundle's codes
        check_bundle(bundle_of({**now.files, POLICY_FILE: body}), f"{label(config_dir, now.publication)} with {name}")
    except BundleRefused as exc:
        raise Refused(str(exc)) from None
    return body, policy


def simulation_json(sim: Any) -> dict[str, Any]:
    """The simulation as stored: totals, by path and category, and the largest changes."""
    out = sim.as_json()
    changed = sorted(sim.changed, key=lambda c: (-abs(c.delta), c.lpn))
    out["changed_units"] = len(changed)
    out["changed"] = [c.as_json() for c in changed[:KEEP_CHANGES]]
    paths = sorted(set(sim.in_force.mix) | set(sim.candidate.mix))
    out["by_path"] = {p: {"in_force_units": sim.in_force.mix.get(p, [0, 0])[0],
                          "in_force": str(sim.in_force.mix.get(p, [0, Decimal("0.00")])[1]),
                          "candidate_units": sim.candidate.mix.get(p, [0, 0])[0],
                          "candidate": str(sim.candidate.mix.get(p, [0, Decimal("0.00")])[1]),
                          "delta": str(sim.candidate.mix.get(p, [0, Decimal("0.00")])[1]
                                       - sim.in_force.mix.get(p, [0, Decimal("0.00")])[1])} for p in paths}
    return out


def simulate(db: HQDatabase, now: InForce, candidate: PolicyConfig, since: datetime | None) -> tuple[dict[str, Any], int]:
    began = time.perf_counter()
    sim = replay(hq_history(db, now.policy, since), now.policy, candidate, since)
    out = simulation_json(sim)
    if now.policy.age_triggers or candidate.age_triggers:  # what each side's age triggers would have done
        out["triggers"] = replay_hq_triggers(db, now.policy, candidate, since, utcnow())
    return out, int((time.perf_counter() - began) * 1000)


def trigger_rows(sim: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per trigger id of either side, for the page: units in force and with the candidate,
    and what the candidate's re-routes would have recovered or lost."""
    trig = sim.get("triggers") or {}
    old, new = (trig.get("in_force") or {}).get("by_trigger", {}), (trig.get("candidate") or {}).get("by_trigger", {})
    rows = []
    for tid in [*new, *(t for t in old if t not in new)]:
        t = new.get(tid) or old[tid]
        rows.append({"id": tid, "state": t["state"], "action": t["action"], "target": t.get("target"),
                     "in_force_units": old[tid]["units"] if tid in old else None,
                     "candidate_units": new[tid]["units"] if tid in new else None,
                     "recovered": new[tid]["recovered"] if tid in new else None,
                     "lost": new[tid]["lost"] if tid in new else None,
                     "delta": new[tid]["delta"] if tid in new else None})
    return rows


def upload(db: HQDatabase, config_dir: Path, *, content: bytes, filename: str, since: datetime | None, by: str) -> int:
    """Check, simulate and keep a candidate; its id (Refused if it is no policy HQ could publish)."""
    now = in_force(db, config_dir)
    body, policy = check(content, filename, now, config_dir)
    result, ms = simulate(db, now, policy, since)
    at = utcnow()
    with db.write() as conn:
        new_id = int(conn.execute(CANDIDATES.insert().values(
            uploaded_by=by, uploaded_at=at, filename=Path(filename or POLICY_FILE).name[:200], content=body,
            sha256=hashlib.sha256(body.encode()).hexdigest(), policy_version=policy.version, base_version=now.version,
            since=since, simulation=result, simulated_at=at, simulate_ms=ms).returning(CANDIDATES.c.id)).scalar_one())
        conn.execute(HqAudit.__table__.insert().values(at=at, actor=by, action="policy_uploaded", target=policy.version,
                                                       detail={"candidate": new_id, "changed": result["changed_units"]}))
    return new_id


def resimulate(db: HQDatabase, config_dir: Path, candidate_id: int, by: str) -> None:
    row = get(db, candidate_id)
    if row is None:
        raise KeyError(candidate_id)
    now = in_force(db, config_dir)
    _, policy = check(row["content"].encode(), row["filename"], now, config_dir)
    result, ms = simulate(db, now, policy, row["since"])
    with db.write() as conn:
        conn.execute(CANDIDATES.update().where(CANDIDATES.c.id == candidate_id).values(
            base_version=now.version, simulation=result, simulated_at=utcnow(), simulate_ms=ms))


def get(db: HQDatabase, candidate_id: int) -> dict[str, Any] | None:
    with db.read() as conn:
        row = conn.execute(select(CANDIDATES).where(CANDIDATES.c.id == candidate_id)).first()
    return None if row is None else dict(row._mapping)


def recent(db: HQDatabase, limit: int = 20) -> list[dict[str, Any]]:
    c = CANDIDATES.c
    with db.read() as conn:
        rows = conn.execute(select(c.id, c.filename, c.policy_version, c.uploaded_by, c.uploaded_at, c.simulation)
                            .order_by(c.id.desc()).limit(limit)).all()
    out = []
    for r in rows:
        sim = r.simulation or {}
        out.append({"id": r.id, "filename": r.filename, "policy_version": r.policy_version, "uploaded_by": r.uploaded_by,
                    "uploaded_at": r.uploaded_at, "changed": sim.get("changed_units"), "delta": sim.get("delta_recovery"),
                    "units": sim.get("units")})
    return out
