"""The refresh tick with the MediaConvert transcoder: what reaches media_jobs when AWS answers badly or late."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from exports_app.db import session_scope
from exports_app.jobs.refresh import tick
from exports_app.models import MediaJob, Production
from exports_app.services import exports, media_jobs, productions
from exports_app.services.auth import Member
from exports_app.transcode.base import JobReport, JobStatus
from exports_app.transcode.mediaconvert import MediaConvertTranscoder
from tests.support.aws_fixtures import LocalAws, local_aws, moto_url  # noqa: F401  (fixtures)
from tests.support.clips import make_clip

# ruff: noqa: F811  (test parameters named after the fixtures imported above)


def queue_job(member: Member, clip: Path) -> int:
    """The id of a new queued MediaConvert media job for a fresh export of clip."""
    with session_scope() as s:
        upload = exports.import_export(session=s, member=member, source=clip, title="MC")
        productions.prep_hls(session=s, member=member, upload_id=upload.id, provider="mediaconvert")
        upload_id = upload.id
    with session_scope() as s:
        query = select(MediaJob.id).join(Production).where(Production.upload_id == upload_id)
        job_id = s.exec(query).one()
    assert job_id is not None
    return job_id


@pytest.fixture
def queued(alice: Member, tmp_path: Path) -> int:
    """The id of a queued MediaConvert media job for a fresh export of alice's."""
    return queue_job(alice, make_clip(tmp_path / "export.mp4", seconds=1.0, width=640, height=360))


def job_row(media_job_id: int) -> MediaJob:
    with session_scope() as s:
        job = s.get(MediaJob, media_job_id)
        assert job is not None
        return job


def test_a_submit_whose_answer_is_lost_leaves_the_row_submitted_with_its_job(local_aws: LocalAws, queued: int) -> None:
    server = local_aws.mediaconvert
    server.lose_answers("CreateJob", 2)  # made, then the try's and the retry's answers lost: ConnectionClosedError
    tick(MediaConvertTranscoder(local_aws.settings, max_attempts=1), 3600)
    (job_id,) = server.jobs
    row = job_row(queued)
    assert (row.status, row.provider_job_id, row.error_code) == (JobStatus.SUBMITTED.value, job_id, None)


def test_a_submit_retried_after_the_token_minute_adopts_the_job_it_made(local_aws: LocalAws, queued: int) -> None:
    server = local_aws.mediaconvert
    with session_scope() as s:
        (pending,) = media_jobs.pending_jobs(session=s, provider="mediaconvert")
    # A leader made the job and died before writing the row; the next leader ticks two minutes later.
    made = MediaConvertTranscoder(local_aws.settings).submit(pending.pending.request)
    later = time.time() + 120
    server.clock = lambda: later
    tick(MediaConvertTranscoder(local_aws.settings), 3600)
    assert list(server.jobs) == [made]
    assert (job_row(queued).status, job_row(queued).provider_job_id) == (JobStatus.SUBMITTED.value, made)


def test_a_terminal_report_beats_a_progress_report_of_the_same_second(queued: int) -> None:
    second = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with session_scope() as s:
        assert media_jobs.apply_report(
            session=s,
            report=JobReport(queued, JobStatus.RUNNING, percent=40, reported_at=second + timedelta(milliseconds=900)),
        )
        # GetJob's FinishTime has no milliseconds: the same second, not an older report.
        assert media_jobs.apply_report(
            session=s, report=JobReport(queued, JobStatus.FAILED, error_code="1030", reported_at=second)
        )
        late = JobReport(queued, JobStatus.RUNNING, percent=60, reported_at=second + timedelta(milliseconds=950))
        assert not media_jobs.apply_report(session=s, report=late)
        assert not media_jobs.apply_report(session=s, report=JobReport(queued, JobStatus.CANCELED, reported_at=second))
    assert (job_row(queued).status, job_row(queued).error_code) == (JobStatus.FAILED.value, "1030")


def test_a_poll_that_sees_the_end_beats_a_progress_event_of_the_same_second(local_aws: LocalAws, queued: int) -> None:
    server = local_aws.mediaconvert
    tc = MediaConvertTranscoder(local_aws.settings)
    tick(tc, 3600)  # submits
    (job_id,) = server.jobs
    moment = float(int(time.time()) + 1) + 0.5
    server.clock = lambda: moment
    server.advance(job_id, "PROGRESSING", percent=40, phase="TRANSCODING")  # events at .500 s
    tick(tc, 3600)
    assert (job_row(queued).status, job_row(queued).percent) == (JobStatus.RUNNING.value, 40)
    master = server.complete(job_id, local_aws.s3)  # FinishTime: the same second, without its .500
    assert master is not None
    # The COMPLETE event is late; polling sees the end first (a transcoder that reads no events).
    tick(MediaConvertTranscoder(local_aws.settings.model_copy(update={"sqs_queue_url": ""})), 3600)
    assert (job_row(queued).status, job_row(queued).percent) == (JobStatus.SUCCEEDED.value, 100)
    with session_scope() as s:
        production = s.get(Production, job_row(queued).production_id)
        assert production is not None and production.hls_master_uri == master
        assert production.poster_uri == master.replace("master.m3u8", "poster.0000001.jpg")  # the frame capture
        # GetJob's renditions: the HLS outputs' sizes and frame rate, each bandwidth the video's max bitrate + audio.
        assert production.renditions == [
            {
                "uri": master.replace("master.m3u8", "master_360p.m3u8"),
                "height": 360,
                "bandwidth": 858_000,
                "width": 640,
                "frame_rate": 25.0,
            },
            {
                "uri": master.replace("master.m3u8", "master_234p.m3u8"),
                "height": 234,
                "bandwidth": 209_000,
                "width": 416,
                "frame_rate": 25.0,
            },
        ]


def test_a_complete_event_stores_the_productions_renditions(local_aws: LocalAws, queued: int) -> None:
    server = local_aws.mediaconvert
    tc = MediaConvertTranscoder(local_aws.settings)
    tick(tc, 3600)  # submits
    (job_id,) = server.jobs
    master = server.complete(job_id, local_aws.s3)
    assert master is not None
    tick(tc, 3600)  # the COMPLETE event is applied before the poll, whose late COMPLETE then changes nothing
    assert job_row(queued).status == JobStatus.SUCCEEDED.value
    with session_scope() as s:
        production = s.get(Production, job_row(queued).production_id)
        assert production is not None and production.hls_master_uri == master
        # The event's renditions: outputFilePaths and the sizes, each bandwidth the video's average bitrate; an
        # event carries no frame rate.
        assert production.renditions == [
            {
                "uri": master.replace("master.m3u8", "master_360p.m3u8"),
                "height": 360,
                "bandwidth": 730_000,
                "width": 640,
                "frame_rate": 0.0,
            },
            {
                "uri": master.replace("master.m3u8", "master_234p.m3u8"),
                "height": 234,
                "bandwidth": 145_000,
                "width": 416,
                "frame_rate": 0.0,
            },
        ]


def test_throttling_defers_the_submit_and_keeps_the_row_submitted(local_aws: LocalAws, queued: int) -> None:
    """TooManyRequestsException past the client's retries: the submit waits for the next tick, the poll of a
    submitted job leaves it submitted; no job fails and only one is made."""
    from exports_app import metrics

    server = local_aws.mediaconvert
    deferred = metrics.SUBMITS_DEFERRED.labels("mediaconvert")._value.get()
    throttled = MediaConvertTranscoder(local_aws.settings, max_attempts=1)
    server.throttle(100)
    tick(throttled, 3600)
    row = job_row(queued)
    assert (row.status, row.provider_job_id, row.error_code) == (JobStatus.QUEUED.value, None, None)
    assert server.jobs == {}
    assert metrics.SUBMITS_DEFERRED.labels("mediaconvert")._value.get() == deferred + 1
    server.throttle(0)
    tick(throttled, 3600)
    (job_id,) = server.jobs
    server.throttle(100)
    tick(throttled, 3600)  # the poll is throttled: nothing to report, nothing changes
    row = job_row(queued)
    assert (row.status, row.provider_job_id, row.error_code) == (JobStatus.SUBMITTED.value, job_id, None)
    server.throttle(0)
    server.complete(job_id, local_aws.s3)
    tick(throttled, 3600)
    assert job_row(queued).status == JobStatus.SUCCEEDED.value
    assert list(server.jobs) == [job_id]


def test_a_throttled_submit_puts_off_the_rest_of_the_tick_and_goes_last_at_the_next(
    local_aws: LocalAws, queued: int, alice: Member, tmp_path: Path
) -> None:
    """The jobs queued behind a submit throttled past its retries are put off untried (each would hold the tick,
    and every job's status with it, through retries of its own); the next tick tries the put-off job last, so one
    job that keeps failing cannot hold back the others."""
    from exports_app import metrics

    behind = queue_job(alice, make_clip(tmp_path / "behind.mp4", seconds=1.0, width=640, height=360))
    server = local_aws.mediaconvert
    deferred = metrics.SUBMITS_DEFERRED.labels("mediaconvert")._value.get()
    throttled = MediaConvertTranscoder(local_aws.settings, max_attempts=1)
    server.throttle(100)
    tick(throttled, 3600)
    assert server.calls["CreateJob"] == 2, "the first job's try and its one retry; the job behind it untried"
    assert metrics.SUBMITS_DEFERRED.labels("mediaconvert")._value.get() == deferred + 2
    assert [job_row(j).status for j in (queued, behind)] == [JobStatus.QUEUED.value] * 2
    server.throttle(0)
    tick(throttled, 3600)
    made_for = [int(job["userMetadata"]["mediaJobId"]) for job in server.jobs.values()]
    assert made_for == [behind, queued]
    assert [job_row(j).status for j in (queued, behind)] == [JobStatus.SUBMITTED.value] * 2


def test_s3_unreachable_during_a_submit_defers_the_job(local_aws: LocalAws, queued: int) -> None:
    from tests.support.ports import free_port

    nowhere = local_aws.settings.model_copy(update={"s3_endpoint_url": f"http://127.0.0.1:{free_port()}"})
    tick(MediaConvertTranscoder(nowhere, max_attempts=1), 3600)
    row = job_row(queued)
    assert (row.status, row.provider_job_id, row.error_code) == (JobStatus.QUEUED.value, None, None)
    assert local_aws.mediaconvert.jobs == {}
    tick(MediaConvertTranscoder(local_aws.settings), 3600)  # S3 is back
    (job_id,) = local_aws.mediaconvert.jobs
    assert (job_row(queued).status, job_row(queued).provider_job_id) == (JobStatus.SUBMITTED.value, job_id)
