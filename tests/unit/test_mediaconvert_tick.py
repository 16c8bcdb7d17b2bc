"""The refresh tick with the MediaConvert transcoder: what reaches media_jobs when AWS answers badly or late."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlmodel import select

from exports_app.db import session_scope
from exports_app.jobs.refresh import tick
from exports_app.models import MediaJob
from exports_app.services import exports, media_jobs, productions
from exports_app.services.auth import Member
from exports_app.transcode.base import JobStatus
from exports_app.transcode.clips import make_clip
from exports_app.transcode.mediaconvert import MediaConvertTranscoder
from tests.aws_fixtures import LocalAws, local_aws, moto_url  # noqa: F401  (fixtures)

# ruff: noqa: F811  (test parameters named after the fixtures imported above)


@pytest.fixture
def queued(alice: Member, tmp_path: Path) -> int:
    """The id of a queued MediaConvert media job for a fresh export of alice's."""
    clip = make_clip(tmp_path / "export.mp4", seconds=1.0, width=640, height=360)
    with session_scope() as s:
        upload = exports.import_export(s, alice, clip, title="MC")
        productions.prep_hls(s, alice, upload.id, "mediaconvert")
    with session_scope() as s:
        return s.exec(select(MediaJob.id)).one()  # type: ignore[return-value]


def job_row(media_job_id: int) -> MediaJob:
    with session_scope() as s:
        job = s.get(MediaJob, media_job_id)
        assert job is not None
        return job


def test_a_submit_whose_answer_is_lost_leaves_the_row_submitted_with_its_job(local_aws: LocalAws,
                                                                              queued: int) -> None:
    server = local_aws.mediaconvert
    server.lose_answers("CreateJob", 2)  # made, then the try's and the retry's answers lost: ConnectionClosedError
    tick(MediaConvertTranscoder(local_aws.settings, max_attempts=1), 3600)
    (job_id,) = server.jobs
    row = job_row(queued)
    assert (row.status, row.provider_job_id, row.error_code) == (JobStatus.SUBMITTED.value, job_id, None)


def test_a_submit_retried_after_the_token_minute_adopts_the_job_it_made(local_aws: LocalAws, queued: int) -> None:
    server = local_aws.mediaconvert
    with session_scope() as s:
        (pending,) = media_jobs.pending_jobs(s, "mediaconvert")
    # A leader made the job and died before writing the row; the next leader ticks two minutes later.
    made = MediaConvertTranscoder(local_aws.settings).submit(pending.pending.request)
    later = time.time() + 120
    server.clock = lambda: later
    tick(MediaConvertTranscoder(local_aws.settings), 3600)
    assert list(server.jobs) == [made]
    assert (job_row(queued).status, job_row(queued).provider_job_id) == (JobStatus.SUBMITTED.value, made)

