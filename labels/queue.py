"""The print queue: one `print_job` row per label, sent in the background.

Enqueueing is part of the caller's transaction (a received unit and its receipt label, a
disposed unit and its disposition label, commit together) and does no rendering, so it never
slows a scan: one row and its event. `PrintQueue` runs in a thread: it
renders a job for the printer's format on its first attempt (and keeps the bytes, so retries send
the same label), sends it, and marks it sent with a `label_printed` event. While the printer is
unreachable jobs wait, retried with a capped exponential backoff; they all print when it returns,
oldest first. A job is marked sent right after the printer took it: a crash in between can print
that one label twice (at-least-once; a raw 9100 port has no job ids to ask about), never lose it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func
from sqlmodel import Session, select

from dockstation import events, rows
from dockstation.foreground import FOREGROUND
from dockstation.models import ContainerPrintJob, PrintJob, Unit
from dockstation.store import Store
from dockstation.types import utcnow
from labels.model import Label, LabelError
from labels.printers import Printer, PrinterError, dir_url, open_printer
from labels.receipt import ReceiptLabel, receipt_template
from labels.render import render

LABELS = ("disposition", "receipt")

BACKOFF_FIRST = 0.5
BACKOFF_CAP = 30.0
FAILING_AFTER = 5  # attempts after which the header calls a waiting job failing


def spool_url(home: Path) -> str:
    """The default printer: label files in $DOCKSTATION_HOME/spool, so a bench without a printer works."""
    return dir_url(Path(home) / "spool")


def label_for(unit: Unit, reprint: int = 0) -> Label:
    if not unit.disposition:
        raise LabelError(f"{unit.lpn} has no disposition yet: grade it first")
    return Label(
        lpn=unit.lpn, path=unit.disposition, sku=unit.sku, description=unit.description,
        station_id=unit.station_id, date=unit.disposed_at or utcnow(), grade=unit.grade,
        lane=unit.lane, destination=unit.destination, rma_id=unit.rma_id, reprint=reprint,
    )


def receipt_label_for(unit: Unit, reprint: int = 0) -> ReceiptLabel:
    """The unit's receipt label (LPN, RMA and line, lane, SLA due, category), from its receipt."""
    return ReceiptLabel(
        lpn=unit.lpn, rma_id=unit.rma_id, line_no=unit.line_no, lane=unit.lane, category=unit.category,
        station_id=unit.station_id, date=unit.received_at, sla_due=unit.sla_due_at, sku=unit.sku,
        description=unit.description, reprint=reprint,
    )


_INSERT_JOB = ("INSERT INTO print_job (lpn, kind, label, reprint, fmt, template, data, state, attempts, created_at, "
               "next_attempt_at) VALUES (?, ?, ?, ?, '', '', X'', 'queued', 0, ?, ?) RETURNING id")


def queue_job(session: rows.Db, lpn: str, station_id: str, *, operator: str | None = None, kind: str = "label",
              reprint: int = 0, label: str = "disposition") -> int:
    """Queue one of the unit's labels (`label`: disposition or receipt) in the caller's
    transaction (a Session or a plain `rows.Tx`), with its `label_queued` event; returns the
    job's id. Nothing is rendered here (the print worker does). One INSERT and the event, no ORM
    object: it is on the path of every received and every disposed unit (bench/bench_flow.py)."""
    if label not in LABELS:
        raise LabelError(f"unknown label {label!r}: expected one of {', '.join(LABELS)}")
    if isinstance(session, Session) and session.new:
        session.flush()  # rows added but not written yet (the unit just received): the job points at it
    now = events.utc_bind(session)(utcnow())
    job_id = int(rows.first(session, _INSERT_JOB, (lpn, kind, label, reprint, now, now))[0])
    events.record(session, station_id, "label_queued", operator=operator, lpn=lpn,
                  payload={"job_id": job_id, "reprint": reprint, "kind": kind, "label": label})
    return job_id


def enqueue_label(session: Session, unit: Unit, *, operator: str | None = None,
                  kind: str = "label", reprint: int = 0, label: str = "disposition") -> PrintJob:
    """`queue_job` for `unit`, returning the job as a row object (committed with the caller)."""
    job_id = queue_job(session, unit.lpn, unit.station_id, operator=operator, kind=kind, reprint=reprint,
                       label=label)
    job = session.get(PrintJob, job_id)
    assert job is not None  # just inserted, in this transaction
    return job


def latest_label(session: Session, unit: Unit) -> str:
    """Which label a reprint prints: the one the unit's last job printed (a receipt label until
    it is disposed), else the disposition label if it has one; LabelError if it has none."""
    last = session.exec(select(PrintJob.label).where(PrintJob.lpn == unit.lpn, PrintJob.kind != "test")
                        .order_by(PrintJob.id.desc()).limit(1)).first()  # type: ignore[union-attr]
    if last in LABELS:
        return last
    if unit.disposition:
        return "disposition"
    raise LabelError(f"{unit.lpn} has no label yet: it gets one when it is disposed")


def reprint(store: Store, station_id: str, operator: str, lpn: str) -> PrintJob:
    """Reprint a unit's latest label: the same LPN, never a new one; counted and audited."""
    with store.write() as session:
        unit = session.get(Unit, lpn)
        if unit is None:
            raise LabelError(f"unknown LPN {lpn}")
        which = latest_label(session, unit)  # refuses a unit with no label before anything is written
        if which == "disposition":
            label_for(unit)
        unit.reprints += 1
        session.add(unit)
        job = enqueue_label(session, unit, operator=operator, kind="reprint", reprint=unit.reprints, label=which)
        events.record(session, station_id, "label_reprinted", operator=operator, lpn=lpn,
                      payload={"job_id": job.id, "reprint": unit.reprints, "label": which})
    return job


@dataclass(frozen=True)
class QueueStatus:
    state: str  # "ok" | "unreachable" | "error"
    waiting: int
    failing: int
    printed: int  # by this pump
    error: str | None = None
    retry_in: float | None = None

    @property
    def text(self) -> str:
        """Short, for the header slot; `dockstation labels queue` lists the errors in full."""
        waiting = f" · {self.waiting} waiting" if self.waiting else ""
        failing = f" · {self.failing} failing" if self.failing else ""
        return f"{'ok' if self.state == 'ok' else 'down' if self.state == 'unreachable' else 'error'}{waiting}{failing}"

    @property
    def detail(self) -> str:
        retry = f" (retry in {self.retry_in:.0f}s)" if self.retry_in else ""
        return f"printer {self.state}{retry}: {self.error}" if self.error else f"printer {self.state}"

    @property
    def level(self) -> str:
        return "ok" if self.state == "ok" and not self.failing else "error"


def backoff(attempts: int) -> float:
    return min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** max(0, attempts - 1))


class PrintQueue:
    def __init__(self, store: Store, station_id: str, printer_url: str, template: str = "4x6-203",
                 receipt: str | None = None) -> None:
        self.store = store
        self.station_id = station_id
        self.printer: Printer = open_printer(printer_url)
        self.template = template
        self.receipt_template = receipt_template(template, receipt)
        self._outage = 0  # consecutive unreachable attempts: the backoff is the printer's, not a job's
        self._hold_until: datetime | None = None
        self._last_error: str | None = None

    def counts(self) -> tuple[int, int]:
        with self.store.read() as s:
            waiting = s.exec(select(func.count()).select_from(PrintJob).where(PrintJob.state == "queued")).one()
            waiting += s.exec(select(func.count()).select_from(ContainerPrintJob)
                              .where(ContainerPrintJob.state == "queued")).one()
            failing = s.exec(select(func.count()).select_from(PrintJob).where(
                (PrintJob.state == "failed") | ((PrintJob.state == "queued") & (PrintJob.attempts >= FAILING_AFTER))
            )).one()
        return int(waiting), int(failing)

    def _container_jobs(self, now: datetime) -> list[ContainerPrintJob]:
        """Container labels (dockstation/containers) due now, after the units' own jobs."""
        with self.store.read() as s:
            return list(s.exec(select(ContainerPrintJob).where(
                ContainerPrintJob.state == "queued", ContainerPrintJob.next_attempt_at <= now)
                .order_by(ContainerPrintJob.id)))  # type: ignore[arg-type]

    def _payload(self, job: PrintJob | ContainerPrintJob) -> bytes:
        if job.data and job.fmt == self.printer.wants:
            return job.data
        if isinstance(job, ContainerPrintJob):
            from dockstation.containers.printing import label_bytes
            from dockstation.models import Container

            with self.store.read() as s:
                c = s.get(Container, job.container_id)
                assert c is not None  # foreign key
                data = label_bytes(c, self.printer.wants, f"4x6-{self.template.rsplit('-', 1)[-1]}")
            with self.store.write() as s:
                crow = s.get(ContainerPrintJob, job.id)
                assert crow is not None
                crow.data, crow.fmt, crow.template = data, self.printer.wants, self.template
            return data
        receipt = job.label == "receipt"
        template = self.receipt_template if receipt else self.template
        with self.store.read() as s:
            unit = s.get(Unit, job.lpn)
            assert unit is not None  # foreign key
            label = receipt_label_for(unit, job.reprint) if receipt else label_for(unit, job.reprint)
            data = render(label, self.printer.wants, template)
        with self.store.write() as s:
            row = s.get(PrintJob, job.id)
            assert row is not None
            row.data, row.fmt, row.template = data, self.printer.wants, template
        return data

    def pump(self, now: datetime | None = None) -> QueueStatus:
        """Send every job that is due, oldest first; stop at the first unreachable-printer error."""
        now = now or utcnow()
        if self._hold_until is not None and now < self._hold_until:
            waiting, failing = self.counts()
            retry = (self._hold_until - now).total_seconds()
            return QueueStatus("unreachable", waiting, failing, 0, self._last_error, retry)
        with self.store.read() as s:
            due = s.exec(select(PrintJob).where(PrintJob.state == "queued", PrintJob.next_attempt_at <= now)
                         .order_by(PrintJob.id)).all()
        printed = 0
        for job in [*due, *self._container_jobs(now)]:
            FOREGROUND.wait()  # never while the bench handles a scan (dockstation/foreground.py)
            try:
                data = self._payload(job)
            except LabelError as exc:
                self._finish(job, ok=False, error=f"cannot render: {exc}", final=True)
                continue
            try:
                name = job.container_id if isinstance(job, ContainerPrintJob) else job.lpn
                self.printer.send(data, content_type=self.printer.wants, job_name=f"{name}-{job.id}")
            except PrinterError as exc:
                # Keep the order (oldest first) and hold the whole queue: every job would fail alike.
                self._finish(job, ok=False, error=exc.reason)
                self._outage += 1
                delay = backoff(self._outage)
                self._hold_until, self._last_error = now + timedelta(seconds=delay), exc.reason
                waiting, failing = self.counts()
                return QueueStatus("unreachable", waiting, failing, printed, exc.reason, delay)
            self._outage, self._hold_until = 0, None
            self._finish(job, ok=True)
            printed += 1
        waiting, failing = self.counts()
        return QueueStatus("ok", waiting, failing, printed)

    def _finish(self, job: PrintJob | ContainerPrintJob, *, ok: bool, error: str | None = None,
                final: bool = False) -> None:
        if isinstance(job, ContainerPrintJob):
            self._finish_container(job, ok=ok, error=error, final=final)
            return
        with self.store.write() as s:
            row = s.get(PrintJob, job.id)
            assert row is not None
            row.attempts += 1
            if ok:
                row.state, row.sent_at, row.last_error = "sent", utcnow(), None
                events.record(s, self.station_id, "label_printed", lpn=row.lpn,
                              payload={"job_id": row.id, "reprint": row.reprint, "printer": self.printer.url})
            else:
                row.last_error = error
                if final:
                    row.state = "failed"
                    events.record(s, self.station_id, "label_failed", lpn=row.lpn,
                                  payload={"job_id": row.id, "reprint": row.reprint, "error": error})
            s.add(row)

    def _finish_container(self, job: ContainerPrintJob, *, ok: bool, error: str | None, final: bool) -> None:
        with self.store.write() as s:
            row = s.get(ContainerPrintJob, job.id)
            assert row is not None
            row.attempts += 1
            if ok:
                row.state, row.sent_at, row.last_error = "sent", utcnow(), None
                events.record(s, self.station_id, "container_label_printed",
                              payload={"container": row.container_id, "job_id": row.id, "printer": self.printer.url})
            else:
                row.last_error = error
                if final:
                    row.state = "failed"
            s.add(row)

    def run(self, stop: threading.Event, on_status: Callable[[str, str], None], poll: float = 0.5) -> None:
        """The background loop: pump, report, sleep until the next job is due (or `poll`)."""
        last = None
        while not stop.is_set():
            try:
                status = self.pump()
            except Exception as exc:  # a locked or broken database must not kill the worker
                status = QueueStatus("error", 0, 0, 0, str(exc)[:200], 5.0)
            if status != last:
                on_status(status.text, status.level)
                last = status
            if status.state == "ok":  # the next pass: after `poll`, or as soon as a scan is shown
                FOREGROUND.sleep(poll, stop)
            else:
                stop.wait(min(poll * 4, status.retry_in or poll))
