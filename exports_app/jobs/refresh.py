"""One refresh tick: submit queued jobs, poll the rest in one batch, apply reports, time out the stuck."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from exports_app.db import session_scope
from exports_app.services import media_jobs, passes
from exports_app.transcode.base import Transcoder

log = logging.getLogger(__name__)


@dataclass
class TickResult:
    """What a tick changed: (member id, upload id) pairs whose status the members should see."""

    changed: set[tuple[int, int]] = field(default_factory=set)
    pending: int = 0


def tick(transcoder: Transcoder, timeout_seconds: float) -> TickResult:
    """Run one tick against the database and the transcoder (blocking; run it in a thread)."""
    result = TickResult()
    with session_scope() as session:
        rows = media_jobs.pending_jobs(session=session, provider=transcoder.name)
        result.pending = len(rows)
        if not rows:
            return result
        by_job = {row.pending.request.media_job_id: row for row in rows}
        queued = [row for row in rows if row.pending.provider_job_id is None]
        # The jobs that may have ended this tick: what follows a pass's end (passes.follow_up) reads which did.
        finished: set[int] = set()
        for row in media_jobs.submit_queued(session=session, transcoder=transcoder, rows=queued):
            result.changed.add((row.user_id, row.upload_id))
            finished.add(row.pending.request.media_job_id)
        submitted = [row.pending for row in rows if row.pending.provider_job_id is not None]
        # Pushed events (MediaConvert via EventBridge → SQS) first, then one polling batch; the
        # monotonic apply keeps whichever is newer, so order between the two does not matter.
        reports = transcoder.receive_events()
        reports += transcoder.poll(submitted) if submitted else []
        ended: set[int] = set()
        for report in reports:
            reported = by_job.get(report.media_job_id)
            if (
                reported is not None
                and reported.is_news(report)
                and media_jobs.apply_report(session=session, report=report, open_output=transcoder.open_output)
            ):
                result.changed.add((reported.user_id, reported.upload_id))
                if report.status.terminal:
                    media_jobs.count_ended(reported, report, transcoder.name)
            if report.status.terminal:
                ended.add(report.media_job_id)
                finished.add(report.media_job_id)
        heard = {report.media_job_id for report in reports if not report.status.terminal}
        heard |= {row.pending.request.media_job_id for row in rows if row.waits_for_fast(transcoder)}
        stuck = [
            r
            for r in media_jobs.timed_out(rows, timeout_seconds, waiting=heard)
            if r.pending.request.media_job_id not in ended
        ]
        for row in stuck:
            transcoder.cancel(row.pending)
            report = media_jobs.timeout_report(row, timeout_seconds)
            if media_jobs.apply_report(session=session, report=report):
                result.changed.add((row.user_id, row.upload_id))
                media_jobs.count_ended(row, report, transcoder.name)
                finished.add(row.pending.request.media_job_id)
        followed = passes.follow_up(session=session, job_ids=finished, hd_after_fast=transcoder.hd_after_fast)
        result.changed |= {(r.user_id, r.upload_id) for r in rows if r.pending.request.production_id in followed}
    return result
