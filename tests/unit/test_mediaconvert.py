"""The MediaConvert transcoder: real boto3 over HTTP to the test server, S3 and SQS on moto."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from exports_app.transcode.base import JobRequest, JobStatus, PendingJob
from exports_app.transcode.clips import make_clip
from exports_app.transcode.mediaconvert import MediaConvertTranscoder, report_from_event
from tests.aws_fixtures import LocalAws, local_aws, moto_url  # noqa: F401  (fixtures)


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return make_clip(tmp_path / "export.mp4", seconds=1.0, width=640, height=360)


def request(clip: Path, job_id: int = 1) -> JobRequest:
    return JobRequest(job_id, 100 + job_id, 7, f"token-{job_id}", clip, 1.0, 360)


def pending(req: JobRequest, provider_id: str) -> PendingJob:
    return PendingJob(req, provider_id, JobStatus.SUBMITTED)


def test_submit_uploads_input_and_creates_a_valid_job(local_aws: LocalAws, clip: Path) -> None:
    tc = MediaConvertTranscoder(local_aws.settings, max_attempts=3)
    job_id = tc.submit(request(clip))
    job = local_aws.mediaconvert.jobs[job_id]
    assert job["clientRequestToken"] == "token-1"
    assert job["userMetadata"] == {"productionId": "101", "uploadId": "7", "mediaJobId": "1"}
    assert job["statusUpdateInterval"] == "SECONDS_10"
    file_input = job["settings"]["inputs"][0]["fileInput"]
    bucket, _, key = file_input[5:].partition("/")
    assert local_aws.s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == clip.stat().st_size
    heights = [o["videoDescription"]["height"] for o in job["settings"]["outputGroups"][0]["outputs"]]
    assert heights == [360]


def test_duplicate_submit_is_one_job(local_aws: LocalAws, clip: Path) -> None:
    tc = MediaConvertTranscoder(local_aws.settings, max_attempts=3)
    assert tc.submit(request(clip)) == tc.submit(request(clip))
    assert len(local_aws.mediaconvert.jobs) == 1


def test_poll_maps_progress_completion_and_errors(local_aws: LocalAws, clip: Path) -> None:
    tc = MediaConvertTranscoder(local_aws.settings, max_attempts=3)
    ok, bad = request(clip, 1), request(clip, 2)
    ok_id, bad_id = tc.submit(ok), tc.submit(bad)
    local_aws.mediaconvert.advance(ok_id, "PROGRESSING", percent=40, phase="TRANSCODING")
    running = tc.poll([pending(ok, ok_id)])[0]
    assert (running.status, running.percent, running.phase) == (JobStatus.RUNNING, 40, "TRANSCODING")
    master = local_aws.mediaconvert.complete(ok_id, local_aws.s3)
    local_aws.mediaconvert.advance(bad_id, "ERROR", error_code=1010, error_message="Demuxer: [ReadPacketData File read failed - end of file hit]")
    reports = {r.media_job_id: r for r in tc.poll([pending(ok, ok_id), pending(bad, bad_id)])}
    assert reports[1].status is JobStatus.SUCCEEDED and reports[1].master_playlist_uri == master
    assert reports[2].status is JobStatus.FAILED and reports[2].error_code == "1010"
    assert "end of file" in (reports[2].error_message or "")
    assert tc.read_output(master).startswith(b"#EXTM3U")
    with pytest.raises(FileNotFoundError):
        tc.read_output(master.replace("master.m3u8", "missing.m3u8"))


def test_throttling_backs_off_and_loses_nothing(local_aws: LocalAws, clip: Path) -> None:
    tc = MediaConvertTranscoder(local_aws.settings, max_attempts=4)
    local_aws.mediaconvert.throttle(2)
    job_id = tc.submit(request(clip))
    assert list(local_aws.mediaconvert.jobs) == [job_id]
    local_aws.mediaconvert.throttle(2)
    assert tc.poll([pending(request(clip), job_id)])[0].status is JobStatus.SUBMITTED


def test_server_errors_past_retries_leave_jobs_for_the_next_poll(local_aws: LocalAws, clip: Path) -> None:
    tc = MediaConvertTranscoder(local_aws.settings, max_attempts=2)
    req = request(clip)
    job_id = tc.submit(req)
    local_aws.mediaconvert.fail_next(4)
    assert tc.poll([pending(req, job_id)]) == []
    local_aws.mediaconvert.fail_next(0)
    assert tc.poll([pending(req, job_id)])[0].status is JobStatus.SUBMITTED


def test_many_pending_jobs_are_polled_by_list_pages(local_aws: LocalAws, clip: Path) -> None:
    tc = MediaConvertTranscoder(local_aws.settings, max_attempts=3)
    jobs = []
    for i in range(1, 46):
        req = request(clip, i)
        jobs.append(pending(req, tc.submit(req)))
    local_aws.mediaconvert.calls.clear()
    reports = tc.poll(jobs)
    assert len(reports) == 45
    calls = local_aws.mediaconvert.calls
    assert calls["ListJobs"] + calls["GetJob"] <= math.ceil(45 / 20) + 1


def test_cancel(local_aws: LocalAws, clip: Path) -> None:
    tc = MediaConvertTranscoder(local_aws.settings, max_attempts=3)
    req = request(clip)
    job_id = tc.submit(req)
    tc.cancel(pending(req, job_id))
    assert tc.poll([pending(req, job_id)])[0].status is JobStatus.CANCELED
    tc.cancel(pending(req, job_id))  # already ended: no error


def event(status: str, job_id: str, media_job_id: int, ts: int, **detail: object) -> dict[str, object]:
    return {"detail-type": "MediaConvert Job State Change", "source": "aws.mediaconvert",
            "detail": {"status": status, "jobId": job_id, "timestamp": ts,
                       "userMetadata": {"mediaJobId": str(media_job_id)}, **detail}}


def test_events_from_sqs(local_aws: LocalAws) -> None:
    tc = MediaConvertTranscoder(local_aws.settings, max_attempts=3)
    queue = local_aws.settings.sqs_queue_url
    complete = event("COMPLETE", "j1", 3, 1_700_000_001_000,
                     outputGroupDetails=[{"playlistFilePaths": ["s3://out/hls/1/3/master.m3u8"]}])
    progressing = event("PROGRESSING", "j1", 3, 1_700_000_000_000,
                        jobProgress={"jobPercentComplete": 50, "currentPhase": "TRANSCODING"})
    for body in (json.dumps(complete), json.dumps(progressing), "not json", json.dumps({"detail-type": "other"})):
        local_aws.sqs.send_message(QueueUrl=queue, MessageBody=body)
    reports = []
    for _ in range(5):
        reports += tc.receive_events(wait_seconds=0)
    by_status = {r.status: r for r in reports}
    assert by_status[JobStatus.SUCCEEDED].master_playlist_uri == "s3://out/hls/1/3/master.m3u8"
    assert by_status[JobStatus.RUNNING].percent == 50
    assert by_status[JobStatus.RUNNING].reported_at < by_status[JobStatus.SUCCEEDED].reported_at
    assert "Messages" not in local_aws.sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0)


def test_event_mapping_ignores_foreign_events() -> None:
    assert report_from_event({"detail-type": "EC2 Instance State-change"}) is None
    assert report_from_event(event("COMPLETE", "j", 0, 0) | {"detail": {"status": "COMPLETE"}}) is None
