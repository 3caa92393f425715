"""The configuration bundle HQ serves, and the policy publications that change it.

The bundle benches pull (`GET /api/v1/config`) is HQ's config directory (`--config-dir`, deployed
with the release, the same on every worker) with the newest publication's files laid over it.
Publications live in the database (`hq_publication`), so every worker serves the same bundle the
moment one commits, and each records who published what and when. Publishing is the console's
separate, confirmed act after a candidate was simulated (sync/hq/console/policy_page.py).

The bundle is validated as a bench would load it before it is served or published
(sync/bundle.py); a publication that no longer validates over a new config directory makes
`/api/v1/config` answer 503 (benches keep what they have) and `hq serve` refuse to start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from dockstation.config import CodesConfig, load_layered
from dockstation.policy.config import PolicyConfig, load_policy
from dockstation.types import utcnow
from sync.bundle import build_bundle, bundle_of, check_bundle, shadow_home
from sync.hq.console.models import HqAudit, HqPublication
from sync.hq.db import HQDatabase
from sync.protocol import ConfigBundle

PUBLICATIONS = HqPublication.__table__
POLICY_FILE = "policy.toml"


@dataclass(frozen=True)
class Publication:
    id: int
    files: dict[str, str]
    policy_version: str
    bundle_version: str
    published_by: str
    published_at: datetime
    note: str
    candidate_id: int | None


def latest(conn: Connection) -> Publication | None:
    row = conn.execute(select(PUBLICATIONS).order_by(PUBLICATIONS.c.id.desc()).limit(1)).first()
    return None if row is None else _publication(row)


def history(db: HQDatabase, limit: int = 20) -> list[Publication]:
    with db.read() as conn:
        rows = conn.execute(select(PUBLICATIONS).order_by(PUBLICATIONS.c.id.desc()).limit(limit)).all()
    return [_publication(r) for r in rows]


def _publication(row: Any) -> Publication:
    m = row._mapping
    return Publication(m["id"], dict(m["files"] or {}), m["policy_version"], m["bundle_version"], m["published_by"],
                       m["published_at"], m["note"], m["candidate_id"])


def overlay(base: ConfigBundle, publication: Publication | None) -> ConfigBundle:
    return base if publication is None else bundle_of({**base.files, **publication.files})


def served_bundle(db: HQDatabase, config_dir: Path) -> tuple[ConfigBundle, Publication | None]:
    """What benches get now (not yet validated: `check_bundle` before it goes out)."""
    with db.read() as conn:
        publication = latest(conn)
    return overlay(build_bundle(config_dir), publication), publication


def label(config_dir: Path, publication: Publication | None) -> str:
    """How a refusal names the bundle's files."""
    if publication is None:
        return str(config_dir)
    return f"{config_dir} + publication {publication.id} ({publication.policy_version} by {publication.published_by})"


def policy_in_force(bundle: ConfigBundle, where: str) -> tuple[CodesConfig, PolicyConfig]:
    """The codes and policy a bench with no overrides of its own loads from `bundle` (BundleRefused)."""
    with shadow_home(bundle.files, where) as home:
        codes = load_layered("codes.toml", CodesConfig, home, required=True)
        return codes, load_policy(home, codes)


def publish(db: HQDatabase, config_dir: Path, *, candidate_id: int | None, content: str, policy_version: str,
            by: str, note: str = "") -> Publication:
    """Put `content` in force as the bundle's policy.toml (validated whole first: BundleRefused)."""
    base = build_bundle(config_dir)
    files = {POLICY_FILE: content}
    bundle = check_bundle(bundle_of({**base.files, **files}), f"{config_dir} + candidate")
    now = utcnow()
    with db.write() as conn:
        new_id = conn.execute(PUBLICATIONS.insert().values(
            candidate_id=candidate_id, files=files, policy_version=policy_version, bundle_version=bundle.version,
            published_by=by, published_at=now, note=note).returning(PUBLICATIONS.c.id)).scalar_one()
        conn.execute(HqAudit.__table__.insert().values(
            at=now, actor=by, action="policy_published", target=policy_version,
            detail={"publication": new_id, "candidate": candidate_id, "bundle_version": bundle.version, "note": note}))
    return Publication(new_id, files, policy_version, bundle.version, by, now, note, candidate_id)
