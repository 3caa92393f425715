"""A container's label in the print queue, and its documents as bytes (label, manifest).

`enqueue` is part of the caller's transaction (open, close) and renders nothing. The print worker
(labels/queue.py) sends container jobs after the units' jobs; `label_bytes` renders one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session

from dockstation import events
from dockstation.models import Container, ContainerPrintJob
from dockstation.types import utcnow


def enqueue(session: Session, c: Container, operator: str | None, what: str = "label") -> ContainerPrintJob | None:
    """Queue the container's label (`what` = "label"); a manifest is written, not printed on the
    label printer (`manifest_bytes`, the CLI and the close at the bench write it to a file)."""
    if what != "label":
        return None
    now = utcnow()
    job = ContainerPrintJob(container_id=c.id, created_at=now, next_attempt_at=now)
    session.add(job)
    session.flush()
    events.record(session, c.station_id, "container_label_queued", operator=operator,
                  payload={"container": c.id, "job_id": job.id, "state": c.state})
    return job


def label_of(c: Container, unit_grades: Sequence[str | None] = (), when: datetime | None = None):  # type: ignore[no-untyped-def]
    from labels.container import ContainerLabel

    return ContainerLabel(
        container_id=c.id, kind=c.kind, paths=tuple(c.paths), destination=c.destination, vendor=c.vendor,
        units=c.units, value=str(c.value), lot_grade=c.lot_grade, authorisation=c.authorisation,
        station_id=c.station_id, state=c.state, date=when or c.closed_at or c.opened_at,
    )


def label_bytes(c: Container, fmt: str, template: str = "4x6-203") -> bytes:
    from labels.container import render_container

    return render_container(label_of(c), fmt, template)
