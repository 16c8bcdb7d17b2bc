"""The passes of a production: which jobs a prep queues, and what follows when one of them ends.

A source above 540p is encoded in two passes (ladder.passes_for): the fast pass makes the production ready, the HD
pass adds the higher rungs later. A failed HD pass is tried once more by itself and otherwise leaves the production
ready with what it has; a failed fast pass is what a member's Retry starts again, alone when the HD pass lives on.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlmodel import Session, col

from exports_app.config import get_settings
from exports_app.domain import ACTIVE_STATUSES, JobStatus, Pass
from exports_app.models import MediaJob, Production, Upload
from exports_app.services import media_jobs
from exports_app.transcode.base import JobReport
from exports_app.transcode.ladder import passes_for

HD_TRIES = 2  # the HD pass and its one retry
FAST_PASS_FAILED = "The fast pass failed, so the HD pass did not start; Retry starts both."


def planned(upload: Upload) -> tuple[Pass, ...]:
    """The passes the export is encoded in: two above 540p (unless EXPORTS_TWO_PASS is off), else one."""
    return passes_for(upload.width, upload.height) if get_settings().two_pass else (Pass.FULL,)


def hd_lives_on(*, session: Session, production_id: int) -> bool:
    """Whether the production's newest HD pass succeeded or still runs (a Retry then keeps the production)."""
    status = session.execute(
        sa.select(col(MediaJob.status))
        .where(col(MediaJob.production_id) == production_id, col(MediaJob.pass_name) == Pass.HD.value)
        .order_by(col(MediaJob.id).desc())
        .limit(1)
    ).scalar_one_or_none()
    return status is not None and (status == JobStatus.SUCCEEDED.value or JobStatus(status) in ACTIVE_STATUSES)


def queue(*, session: Session, production: Production, upload: Upload, provider: str, retry: bool) -> MediaJob:
    """Queue the production's passes (with retry, all but its HD pass, which lives on); returns the job that makes
    it ready."""
    wanted = [p for p in planned(upload) if not (retry and p is Pass.HD)]
    jobs = [media_jobs.new_job(session=session, production=production, provider=provider, pass_name=p) for p in wanted]
    return next(job for job in jobs if job.pass_name != Pass.HD.value)


def follow_up(*, session: Session, job_ids: Iterable[int], hd_after_fast: bool) -> set[int]:
    """What follows the jobs that just ended: a failed HD pass is queued once more; a fast pass that failed cancels
    the HD pass still waiting for it (hd_after_fast). Returns the ids of the productions whose jobs it changed."""
    ids = sorted(set(job_ids))
    if not ids:
        return set()
    touched: set[int] = set()  # production ids
    ended = session.execute(
        sa.select(col(MediaJob.production_id), col(MediaJob.pass_name), col(MediaJob.status)).where(
            col(MediaJob.id).in_(ids)
        )
    ).all()
    for production_id, pass_name, status in ended:
        failed = status in (JobStatus.FAILED.value, JobStatus.TIMED_OUT.value, JobStatus.CANCELED.value)
        if pass_name == Pass.HD.value and status in (JobStatus.FAILED.value, JobStatus.TIMED_OUT.value):
            changed = _retry_hd(session=session, production_id=production_id)
        elif pass_name == Pass.FAST.value and failed and hd_after_fast:
            changed = _cancel_waiting_hd(session=session, production_id=production_id)
        else:
            changed = False
        if changed:
            touched.add(production_id)
    if touched:
        media_jobs.request_refresh()
    return touched


def _jobs_of(session: Session, production_id: int, which: Pass) -> list[MediaJob]:
    return list(
        session.execute(
            sa.select(MediaJob).where(
                col(MediaJob.production_id) == production_id, col(MediaJob.pass_name) == which.value
            )
        ).scalars()
    )


def _retry_hd(*, session: Session, production_id: int) -> bool:
    """Queue the HD pass once more, unless it was tried twice already or another try is under way."""
    hd_jobs = _jobs_of(session, production_id, Pass.HD)
    if len(hd_jobs) >= HD_TRIES or any(JobStatus(job.status) in ACTIVE_STATUSES for job in hd_jobs):
        return False
    production = session.get(Production, production_id)
    assert production is not None
    media_jobs.new_job(session=session, production=production, provider=hd_jobs[-1].provider, pass_name=Pass.HD)
    return True


def _cancel_waiting_hd(*, session: Session, production_id: int) -> bool:
    """Cancel the HD passes that were never submitted, waiting for the fast pass that failed."""
    canceled = False
    for job in _jobs_of(session, production_id, Pass.HD):
        if job.id is not None and job.status == JobStatus.QUEUED.value and job.provider_job_id is None:
            report = JobReport(
                job.id, JobStatus.CANCELED, error_code="fast_pass_failed", error_message=FAST_PASS_FAILED
            )
            canceled |= media_jobs.apply_report(session=session, report=report)
    return canceled
