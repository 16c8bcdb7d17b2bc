"""Media jobs: what is pending, submitting queued jobs, applying transcoder reports monotonically."""

from __future__ import annotations

import dataclasses
import logging
import threading
import uuid
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlmodel import Session, col

from exports_app import metrics
from exports_app.domain import ACTIVE_STATUSES, NO_MASTER_PLAYLIST, JobStatus, Pass, utcnow
from exports_app.models import MediaJob, Production, Upload
from exports_app.services import pass_outputs, queries, storage
from exports_app.transcode.base import JobReport, JobRequest, PendingJob, Rendition, Transcoder

log = logging.getLogger(__name__)

_ACTIVE = [s.value for s in ACTIVE_STATUSES]
_wake_hooks: list[Callable[[], None]] = []
_wake_lock = threading.Lock()
# The job whose submit was put off last by a transient error: the next tick tries it after the others, so one job
# that keeps failing (a file S3 keeps dropping) cannot hold back every job queued behind it.
_put_off_first: int | None = None


def register_wake(hook: Callable[[], None]) -> Callable[[], None]:
    """The refresh scheduler registers here; returns a function that unregisters it."""
    with _wake_lock:
        _wake_hooks.append(hook)

    def unregister() -> None:
        with _wake_lock:
            if hook in _wake_hooks:
                _wake_hooks.remove(hook)

    return unregister


def request_refresh() -> None:
    """Ask for a refresh tick now (new queued job, transcoder news). No-op without a scheduler here."""
    with _wake_lock:
        hooks = list(_wake_hooks)
    for hook in hooks:
        hook()


def new_job(*, session: Session, production: Production, provider: str, pass_name: Pass = Pass.FULL) -> MediaJob:
    """A queued job for production; attempt numbers count across the export's productions (the HD pass's apart:
    the attempt a member is told of is the one that makes the export ready)."""
    assert production.id is not None
    hd = col(MediaJob.pass_name) == Pass.HD.value
    previous = session.execute(
        sa.select(sa.func.count(col(MediaJob.id)))
        .join(Production, col(Production.id) == MediaJob.production_id)
        .where(col(Production.upload_id) == production.upload_id, hd if pass_name is Pass.HD else ~hd)
    ).scalar_one()
    job = MediaJob(
        production_id=production.id,
        provider=provider,
        pass_name=pass_name.value,
        status=JobStatus.QUEUED.value,
        percent=0,
        phase="QUEUED",
        attempt=int(previous) + 1,
        idempotency_token=uuid.uuid4().hex,
    )
    session.add(job)
    session.flush()
    return job


@dataclass(frozen=True)
class PendingRow:
    """A non-terminal job with what the tick needs to route its news."""

    pending: PendingJob
    user_id: int
    upload_id: int
    clock_from: datetime  # when the job's timeout clock started: its start, else its submit (see timed_out)
    percent: int = 0
    phase: str | None = None
    started: bool = False  # the transcoder began work on it (media_jobs.started_at is set)
    fast_done: bool = True  # for an HD pass: its production's fast pass has succeeded (always True for others)

    def waits_for_fast(self, transcoder: Transcoder) -> bool:
        """An HD pass held back until its fast pass has succeeded (transcoder.hd_after_fast): not submitted, and not
        timed out while it waits."""
        return transcoder.hd_after_fast and not self.fast_done

    def is_news(self, report: JobReport) -> bool:
        """False for a report that repeats what the row already says (nothing to write or push)."""
        return (
            report.status is not self.pending.status
            or (report.percent is not None and report.percent != self.percent)
            or (report.phase is not None and report.phase != self.phase)
        )


# What the tick reads of a pending job and its export: columns, not ORM objects. Building two SQLModel objects per
# row was most of the query's cost (about 50 µs a row, 250 pending jobs every tick, in the web worker's process).
_PENDING_COLUMNS: tuple[Mapped[Any] | sa.Label[Any], ...] = (
    col(MediaJob.id),
    col(MediaJob.production_id),
    col(MediaJob.idempotency_token),
    col(MediaJob.provider_job_id),
    col(MediaJob.status),
    col(MediaJob.percent),
    col(MediaJob.phase),
    col(MediaJob.started_at),
    col(MediaJob.submitted_at),
    col(MediaJob.created_at),
    col(Upload.id).label("upload_id"),
    col(Upload.user_id),
    col(Upload.storage_key),
    col(Upload.duration_seconds),
    col(Upload.height),
    col(MediaJob.pass_name),
)
_FAST = queries.JOBS.alias("fast")
# Whether the job's production has a fast pass that succeeded (read for HD passes, which wait for it on one machine).
_FAST_DONE = (
    sa.exists()
    .where(
        _FAST.c.production_id == MediaJob.production_id,
        _FAST.c.pass_name == Pass.FAST.value,
        _FAST.c.status == JobStatus.SUCCEEDED.value,
    )
    .label("fast_done")
)


def pending_jobs(*, session: Session, provider: str, job_ids: Iterable[int] | None = None) -> list[PendingRow]:
    """Every non-terminal job of provider (or just job_ids), with its request, in one query."""
    query = (
        sa.select(*_PENDING_COLUMNS, _FAST_DONE)
        .join(Production, col(Production.id) == MediaJob.production_id)
        .join(Upload, col(Upload.id) == Production.upload_id)
        .where(col(MediaJob.status).in_(_ACTIVE), col(MediaJob.provider) == provider)
        .order_by(col(MediaJob.id))
    )
    if job_ids is not None:
        query = query.where(col(MediaJob.id).in_(list(job_ids)))
    rows: list[PendingRow] = []
    for row in session.execute(query):
        request = JobRequest(
            media_job_id=row.id,
            production_id=row.production_id,
            upload_id=row.upload_id,
            idempotency_token=row.idempotency_token,
            input_path=storage.path_for(row.storage_key),
            duration_seconds=row.duration_seconds,
            source_height=row.height,
            owner_id=row.user_id,
            pass_name=Pass(row.pass_name),
        )
        rows.append(
            PendingRow(
                PendingJob(request, row.provider_job_id, JobStatus(row.status)),
                row.user_id,
                row.upload_id,
                row.started_at or row.submitted_at or row.created_at,
                row.percent,
                row.phase,
                row.started_at is not None,
                row.pass_name != Pass.HD.value or bool(row.fast_done),
            )
        )
    return rows


def submit_queued(*, session: Session, transcoder: Transcoder, rows: Iterable[PendingRow]) -> list[PendingRow]:
    """Hand queued jobs without a provider id to the transcoder; returns the rows that changed.

    A transient error leaves the job queued (the next tick retries with the same idempotency token,
    so nothing is duplicated), and the jobs after it too: the provider that throttled or was unreachable for one
    would be for the next, and each try would hold the tick (and every job's status) through its retries. Any other
    error fails the job with a short detail.
    """
    global _put_off_first
    changed: list[PendingRow] = []
    queued = sorted(
        (
            row
            for row in rows
            if row.pending.provider_job_id is None
            and row.pending.status is JobStatus.QUEUED
            and not row.waits_for_fast(transcoder)
        ),
        key=lambda row: row.pending.request.media_job_id == _put_off_first,  # stable: otherwise in their order
    )
    _put_off_first = None
    for position, row in enumerate(queued):
        job = row.pending
        try:
            provider_id = transcoder.submit(job.request)
        except Exception as exc:  # the transcoder's errors are many; each is recorded, none escapes
            if transcoder.is_transient(exc):
                put_off = len(queued) - position
                log.warning(
                    "submit of media job %s deferred (%d queued put off to the next tick): %s",
                    job.request.media_job_id,
                    put_off,
                    exc,
                )
                metrics.SUBMITS_DEFERRED.labels(transcoder.name).inc(put_off)
                _put_off_first = job.request.media_job_id
                break
            log.exception("submit of media job %s failed", job.request.media_job_id)
            report = JobReport(
                job.request.media_job_id,
                JobStatus.FAILED,
                error_code="submit_failed",
                error_message=f"Could not start the transcode: {exc}",
            )
            if apply_report(session=session, report=report):
                changed.append(row)
            continue
        now = utcnow()
        result = session.exec(
            sa.update(MediaJob)
            .where(col(MediaJob.id) == job.request.media_job_id, col(MediaJob.status) == JobStatus.QUEUED.value)
            .values(status=JobStatus.SUBMITTED.value, provider_job_id=provider_id, submitted_at=now, updated_at=now)
        )
        if result.rowcount:
            changed.append(row)
            metrics.JOBS_SUBMITTED.labels(transcoder.name).inc()
    session.commit()
    return changed


def apply_report(*, session: Session, report: JobReport, open_output: Callable[[str], bytes] | None = None) -> bool:
    """Apply one report if it moves the job forward: never back from terminal, never older than the last.

    One conditional UPDATE per report, so two appliers racing cannot reorder history.
    Times are compared in whole seconds, the coarsest any report has (MediaConvert's GetJob timing is in
    seconds, its events in milliseconds): a poll's COMPLETE of 12:00:05 must not lose to a progress event
    of 12:00:05.400. A report of the same second as the last applies, so a terminal one beats a progress
    one of equal time, and the status filter keeps the terminal one after that. The stored time is cut
    to the second too, so every database compares the same values (MySQL's DATETIME rounds fractions).
    The success that applies gives the production its master playlist, poster and renditions, all at once; a pass's
    success merges its master into the production's (pass_outputs.py; open_output reads the pass's master, by default
    through the configured transcoder). A pass whose master cannot be merged is failed, and nothing of it is served.
    """
    now = utcnow()
    moment = _aware(report.reported_at).replace(microsecond=0)
    values: dict[str, object] = {"status": report.status.value, "last_report_at": moment, "updated_at": now}
    if report.percent is not None:
        values["percent"] = max(0, min(100, int(report.percent)))
    if report.phase is not None:
        values["phase"] = report.phase[:32]
    if report.provider_job_id:
        values["provider_job_id"] = report.provider_job_id
    if report.status is JobStatus.RUNNING:
        values["started_at"] = sa.func.coalesce(MediaJob.started_at, now)
    if report.status.terminal:
        values["finished_at"] = now
        values["error_code"] = report.error_code[:64] if report.error_code else None
        values["error_message"] = report.error_message[:1024] if report.error_message else None
    merged: pass_outputs.Merged | None = None
    if report.status is JobStatus.SUCCEEDED:
        values["percent"] = 100
        if not report.master_playlist_uri:
            values.update(
                status=JobStatus.FAILED.value, error_code="no_master_playlist", error_message=NO_MASTER_PLAYLIST
            )
        elif report.production_master_uri:
            try:
                merged = pass_outputs.merge(session=session, report=report, open_output=open_output)
            except pass_outputs.NotMerged as exc:
                values.update(status=JobStatus.FAILED.value, error_code="merge_failed", error_message=str(exc))
    result = session.exec(
        sa.update(MediaJob)
        .where(
            col(MediaJob.id) == report.media_job_id,
            col(MediaJob.status).in_(_ACTIVE),
            # "< moment + 1 s" is "same second or earlier", also for rows stored with fractions before.
            sa.or_(
                col(MediaJob.last_report_at).is_(None), col(MediaJob.last_report_at) < moment + timedelta(seconds=1)
            ),
        )
        .values(**values)
    )
    if not result.rowcount:
        return False
    if merged is not None:
        pass_outputs.store(session=session, merged=merged)
    elif values["status"] == JobStatus.SUCCEEDED.value:
        production_id = session.execute(
            sa.select(col(MediaJob.production_id)).where(col(MediaJob.id) == report.media_job_id)
        ).scalar_one()
        session.execute(
            sa.update(Production)
            .where(col(Production.id) == production_id)
            .values(
                hls_master_uri=report.master_playlist_uri,
                poster_uri=report.poster_uri,
                renditions=[dataclasses.asdict(r) for r in report.renditions] or None,
                updated_at=now,
            )
        )
    return True


def stored_renditions(production: Production) -> tuple[Rendition, ...]:
    """The renditions apply_report stored on the production, highest first; () when unknown.

    Entries that are not a rendition (a hand-edited row) are left out rather than failing a page.
    """
    found = []
    for entry in production.renditions or ():
        try:
            # Rows stored before sizes and frame rates were kept have neither: 0 says "not known".
            found.append(
                Rendition(
                    str(entry["uri"]),
                    int(entry["height"]),
                    int(entry.get("bandwidth") or 0),
                    int(entry.get("width") or 0),
                    float(entry.get("frame_rate") or 0.0),
                )
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
    return tuple(sorted(found, key=lambda r: (r.height, r.bandwidth), reverse=True))


def timed_out(
    rows: Iterable[PendingRow], timeout_seconds: float, now: datetime | None = None, waiting: Collection[int] = ()
) -> list[PendingRow]:
    """The pending rows whose transcode has run longer than the timeout.

    A job is timed from its start, not from its submit: one waiting its turn behind a long queue is not
    stuck. waiting: the jobs not started yet that the transcoder has just reported on (still in its queue,
    or starting now); they are not timed out. A job not started that the transcoder does not know is
    timed from its submit, so a lost one still ends.
    """
    limit = (now or utcnow()) - timedelta(seconds=timeout_seconds)
    return [
        row
        for row in rows
        if _aware(row.clock_from) < limit and (row.started or row.pending.request.media_job_id not in waiting)
    ]


def _aware(moment: datetime) -> datetime:

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def count_ended(row: PendingRow, report: JobReport, provider: str) -> None:
    """The metrics of a job whose terminal report was just applied: its status, its time, why it failed."""
    status = report.status.value
    metrics.JOBS_FINISHED.labels(provider, status).inc()
    elapsed = (utcnow() - _aware(row.clock_from)).total_seconds()
    metrics.TRANSCODE_SECONDS.labels(provider, status).observe(max(0.0, elapsed))
    if report.status is not JobStatus.SUCCEEDED:
        metrics.JOB_FAILURES.labels(provider, metrics.reason(report.error_code)).inc()


def timeout_report(row: PendingRow, timeout_seconds: float) -> JobReport:
    return JobReport(
        row.pending.request.media_job_id,
        JobStatus.TIMED_OUT,
        error_code="timeout",
        error_message=f"No result after {int(timeout_seconds)} s; the transcode was stopped. Retry available.",
    )


def count_by_status(*, session: Session) -> dict[str, int]:
    """How many media jobs are in each status, every status listed (0 when none): one grouped query."""
    counts = dict.fromkeys((s.value for s in JobStatus), 0)
    for status, count in session.execute(
        sa.select(col(MediaJob.status), sa.func.count()).group_by(col(MediaJob.status))
    ):
        counts[str(status)] = int(count)
    return counts
