"""The MediaConvert transcoder: real boto3 over HTTP to the MediaConvert test server, S3 and SQS on moto."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import botocore.retries.bucket
import botocore.retries.standard
import m3u8
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from exports_app.transcode.base import JobRequest, JobStatus, PendingJob
from exports_app.transcode.mediaconvert import MediaConvertTranscoder, report_from_event
from tests.support.aws_fixtures import ROLE, LocalAws, local_aws, moto_url, s3_without_list_bucket  # noqa: F401  (fixtures)
from tests.support.clips import make_clip
from tests.support.media import interlaced_clip

# ruff: noqa: F811  (test parameters named after the fixtures imported above)


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the shipped retry policy (adaptive, 8 retries) but without its real waits, so tests stay fast."""
    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, context: 0.001)
    monkeypatch.setattr(botocore.retries.bucket.TokenBucket, "acquire", lambda self, amount=1, block=True: True)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("mc") / "export clip.mp4", seconds=1.0, width=640, height=360)


@pytest.fixture
def tc(local_aws: LocalAws) -> Iterator[MediaConvertTranscoder]:
    transcoder = MediaConvertTranscoder(local_aws.settings)
    yield transcoder
    transcoder.close()


def request(clip: Path, job_id: int = 1, height: int | None = 360) -> JobRequest:
    return JobRequest(
        media_job_id=job_id,
        production_id=100 + job_id,
        upload_id=7,
        idempotency_token=f"token-{job_id}",
        input_path=clip,
        duration_seconds=1.0,
        source_height=height,
    )


def pending(req: JobRequest, provider_id: str | None) -> PendingJob:
    return PendingJob(req, provider_id, JobStatus.SUBMITTED)


def submitted(tc: MediaConvertTranscoder, clip: Path, job_id: int = 1) -> tuple[PendingJob, str]:
    req = request(clip, job_id)
    provider_id = tc.submit(req)
    return pending(req, provider_id), provider_id


def created(tc: MediaConvertTranscoder, clip: Path, job_id: int, **overrides: Any) -> PendingJob:
    """A pending job created straight with CreateJob (quicker than submit() when tests need dozens)."""
    job = create(tc.client("mediaconvert"), UserMetadata={"mediaJobId": str(job_id)}, **overrides)
    return pending(request(clip, job_id), job["Id"])


def outputs_of(local_aws: LocalAws, job_id: str) -> list[dict[str, Any]]:
    outputs: list[dict[str, Any]] = local_aws.mediaconvert.jobs[job_id]["settings"]["outputGroups"][0]["outputs"]
    return outputs


# -- submit --------------------------------------------------------------------------------------------


def test_submit_uploads_the_export_and_creates_a_valid_job(
    local_aws: LocalAws, tc: MediaConvertTranscoder, clip: Path
) -> None:
    job_id = tc.submit(request(clip))
    job = local_aws.mediaconvert.jobs[job_id]
    assert job["role"] == ROLE and job["clientRequestToken"] == "token-1"
    assert job["userMetadata"] == {
        "productionId": "101",
        "uploadId": "7",
        "mediaJobId": "1",
        "idempotencyToken": "token-1",
    }
    assert job["statusUpdateInterval"] == "SECONDS_10"
    file_input = job["settings"]["inputs"][0]["fileInput"]
    assert file_input == f"s3://{local_aws.settings.input_bucket}/exports/7/token-1/export_clip.mp4"
    bucket, _, key = file_input[5:].partition("/")
    assert local_aws.s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == clip.stat().st_size
    hls = job["settings"]["outputGroups"][0]["outputGroupSettings"]["hlsGroupSettings"]
    assert hls["destination"] == f"s3://{local_aws.settings.output_bucket}/hls/101/1/master"
    assert (hls["segmentLength"], hls["minSegmentLength"], hls["segmentControl"]) == (6, 0, "SEGMENTED_FILES")
    output, cellular = outputs_of(local_aws, job_id)  # a 360p source: its own rung and a cellular one
    assert output["nameModifier"] == "_360p" and (
        output["videoDescription"]["width"],
        output["videoDescription"]["height"],
    ) == (640, 360)
    assert output["audioDescriptions"][0]["codecSettings"]["aacSettings"]["bitrate"] == 128_000
    assert cellular["nameModifier"] == "_234p" and cellular["videoDescription"]["height"] == 234


def test_the_ladder_never_upscales(local_aws: LocalAws, tc: MediaConvertTranscoder, tmp_path: Path) -> None:
    full = tc.submit(request(make_clip(tmp_path / "hd.mp4", seconds=0.2, width=1920, height=1080, audio=False), 1))
    mid = tc.submit(request(make_clip(tmp_path / "720.mp4", seconds=0.2, width=1280, height=720, audio=False), 2))
    # The master's order: the rung nearest 2 Mbit/s first, then the rest highest first.
    assert [o["nameModifier"] for o in outputs_of(local_aws, full)] == ["_540p", "_1080p", "_720p", "_360p", "_234p"]
    rates = [o["videoDescription"]["codecSettings"]["h264Settings"]["maxBitrate"] for o in outputs_of(local_aws, full)]
    assert rates == [2_000_000, 5_000_000, 3_000_000, 730_000, 145_000]
    assert [o["videoDescription"]["height"] for o in outputs_of(local_aws, mid)] == [540, 720, 360, 234]


@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (1080, 1920), (300, 200)])
def test_the_strict_server_takes_every_ladder_with_and_without_audio(
    local_aws: LocalAws, tc: MediaConvertTranscoder, tmp_path: Path, width: int, height: int
) -> None:
    sound = make_clip(tmp_path / "sound.mp4", seconds=0.2, width=width, height=height)
    silent = make_clip(tmp_path / "silent.mp4", seconds=0.2, width=width, height=height, audio=False)
    with_audio = tc.submit(request(sound, 1))
    without = tc.submit(request(silent, 2))
    assert all("audioDescriptions" in o for o in outputs_of(local_aws, with_audio))
    assert not any("audioDescriptions" in o for o in outputs_of(local_aws, without))
    assert "audioSelectors" not in local_aws.mediaconvert.jobs[without]["settings"]["inputs"][0]


def test_an_interlaced_export_is_deinterlaced_to_one_frame_per_field(
    local_aws: LocalAws, tc: MediaConvertTranscoder, tmp_path: Path, clip: Path
) -> None:
    """The probe's interlacing reaches the job: 480i29.97 (bottom field first, as coded) becomes 59.94p."""
    fields = interlaced_clip(tmp_path / "480i.mp4", size=(640, 480), field_rate="60000/1001", order="bff")
    interlaced = outputs_of(local_aws, tc.submit(request(fields, 1)))
    progressive = outputs_of(local_aws, tc.submit(request(clip, 2)))
    for output in interlaced:
        video = output["videoDescription"]
        assert video["videoPreprocessors"]["deinterlacer"] == {
            "mode": "DEINTERLACE",
            "algorithm": "INTERPOLATE",
            "control": "NORMAL",
        }
        h264 = video["codecSettings"]["h264Settings"]
        assert (h264["framerateControl"], h264["framerateNumerator"], h264["framerateDenominator"]) == (
            "SPECIFIED",
            60000,
            1001,
        )
    assert not any("deinterlacer" in o["videoDescription"]["videoPreprocessors"] for o in progressive)


def test_a_repeated_submit_is_one_job_and_one_upload(
    local_aws: LocalAws, tc: MediaConvertTranscoder, clip: Path
) -> None:
    first = tc.submit(request(clip))
    key = "exports/7/token-1/export_clip.mp4"
    uploaded = local_aws.s3.head_object(Bucket=local_aws.settings.input_bucket, Key=key)["ETag"]
    local_aws.s3.put_object(Bucket=local_aws.settings.input_bucket, Key=key, Body=clip.read_bytes())
    local_aws.mediaconvert.reset_counts()
    assert MediaConvertTranscoder(local_aws.settings).submit(request(clip)) == first
    # The input was there, so an earlier submit may have made the job: it is found by its token, not made again.
    assert len(local_aws.mediaconvert.jobs) == 1 and local_aws.mediaconvert.calls == {"ListJobs": 1}
    assert local_aws.s3.head_object(Bucket=local_aws.settings.input_bucket, Key=key)["ETag"] == uploaded


@pytest.mark.parametrize("when, create_calls", [("after", 2), ("before", 3)], ids=["answer-lost", "request-lost"])
def test_a_submit_whose_answer_is_lost_adopts_its_job_or_submits_again(
    local_aws: LocalAws, clip: Path, when: str, create_calls: int
) -> None:
    server = local_aws.mediaconvert
    tc = MediaConvertTranscoder(local_aws.settings, max_attempts=1)
    server.lose_answers("CreateJob", 2, when=when)  # the try and botocore's retry: ConnectionClosedError
    job_id = tc.submit(request(clip))
    # after: the job was made (once: the retry's token deduped), found by ListJobs and adopted;
    # before: nothing was made, ListJobs finds nothing, and one more CreateJob makes it.
    assert list(server.jobs) == [job_id]
    assert (server.calls["CreateJob"], server.calls["ListJobs"]) == (create_calls, 1)


def test_a_create_job_that_times_out_is_found_by_its_token(local_aws: LocalAws, clip: Path) -> None:
    server = local_aws.mediaconvert
    impatient = boto3.client(
        "mediaconvert",
        region_name="us-east-1",
        endpoint_url=server.url,
        config=Config(read_timeout=0.5, retries={"mode": "standard", "total_max_attempts": 1}),
    )
    tc = MediaConvertTranscoder(local_aws.settings, clients={"mediaconvert": impatient})
    server.lose_answers("CreateJob", 1, when="after", stall_seconds=2)  # the client gives up first: ReadTimeoutError
    job_id = tc.submit(request(clip))
    assert list(server.jobs) == [job_id] and (server.calls["CreateJob"], server.calls["ListJobs"]) == (1, 1)


def test_a_submit_repeated_after_the_token_minute_finds_its_job_instead_of_making_another(
    local_aws: LocalAws, tc: MediaConvertTranscoder, clip: Path
) -> None:
    server = local_aws.mediaconvert
    first = tc.submit(request(clip))  # say its process died before the row said so
    others = [created(tc, clip, i) for i in range(10, 55)]
    later = time.time() + 120
    server.clock = lambda: later  # CreateJob no longer dedupes the token
    server.reset_counts()
    assert MediaConvertTranscoder(local_aws.settings).submit(request(clip)) == first
    assert len(server.jobs) == 1 + len(others) and server.calls == {"ListJobs": 3}  # 45 newer jobs: page 3


def test_the_token_lookup_stops_at_jobs_older_than_the_input(local_aws: LocalAws, clip: Path) -> None:
    server = local_aws.mediaconvert
    tc = MediaConvertTranscoder(local_aws.settings, max_attempts=1)
    hour_ago = time.time() - 3600
    server.clock = lambda: hour_ago
    for i in range(10, 70):  # 3 pages of older jobs of someone else
        created(tc, clip, i)
    server.clock = time.time
    server.fail_next(2, status=500)  # the first submit stores the input, then CreateJob fails (the tick retries)
    with pytest.raises(ClientError):
        tc.submit(request(clip))
    server.reset_counts()
    tc.submit(request(clip))
    assert server.calls == {"ListJobs": 1, "CreateJob": 1}


def test_submit_with_a_job_template_keeps_its_outputs_and_sets_our_destination(local_aws: LocalAws, clip: Path) -> None:
    template_outputs = [
        {
            "nameModifier": "_tpl",
            "containerSettings": {"container": "M3U8"},
            "videoDescription": {
                "height": 540,
                "codecSettings": {
                    "codec": "H_264",
                    "h264Settings": {"rateControlMode": "QVBR", "maxBitrate": 2_000_000},
                },
            },
        }
    ]
    local_aws.mediaconvert.add_job_template(
        "house-hls",
        {
            "inputs": [{"timecodeSource": "ZEROBASED"}],
            "outputGroups": [
                {
                    "outputs": template_outputs,
                    "outputGroupSettings": {
                        "type": "HLS_GROUP_SETTINGS",
                        "hlsGroupSettings": {"destination": "s3://elsewhere/x/"},
                    },
                }
            ],
        },
    )
    tc = MediaConvertTranscoder(local_aws.settings.model_copy(update={"job_template": "house-hls"}))
    job_id = tc.submit(request(clip))
    tc.submit(request(clip, 2))
    job = local_aws.mediaconvert.jobs[job_id]
    assert job["jobTemplate"] == "house-hls" and outputs_of(local_aws, job_id) == template_outputs
    file_input = f"s3://{local_aws.settings.input_bucket}/exports/7/token-1/export_clip.mp4"
    assert job["settings"]["inputs"] == [{"timecodeSource": "ZEROBASED", "fileInput": file_input}]
    hls = job["settings"]["outputGroups"][0]["outputGroupSettings"]["hlsGroupSettings"]
    assert hls["destination"] == f"s3://{local_aws.settings.output_bucket}/hls/101/1/master"
    assert local_aws.mediaconvert.calls["GetJobTemplate"] == 1  # read once per process


# -- poll ----------------------------------------------------------------------------------------------


def test_progressing_maps_to_running_with_percent_and_phase(
    local_aws: LocalAws, tc: MediaConvertTranscoder, clip: Path
) -> None:
    job, job_id = submitted(tc, clip)
    (report,) = tc.poll([job])
    assert (report.status, report.provider_job_id, report.media_job_id) == (JobStatus.SUBMITTED, job_id, 1)
    local_aws.mediaconvert.advance(job_id, "PROGRESSING", percent=40, phase="TRANSCODING")
    (report,) = tc.poll([job])
    assert (report.status, report.percent, report.phase) == (JobStatus.RUNNING, 40, "TRANSCODING")
    started = local_aws.mediaconvert.jobs[job_id]["timing"]["startTime"]
    assert report.reported_at == datetime.fromtimestamp(started, tz=UTC)


def test_complete_maps_to_succeeded_with_the_master_playlist(
    local_aws: LocalAws, tc: MediaConvertTranscoder, clip: Path
) -> None:
    req = request(clip, 1, height=720)
    job_id = tc.submit(req)
    master = local_aws.mediaconvert.complete(job_id, local_aws.s3)
    (report,) = tc.poll([pending(req, job_id)])
    base = f"s3://{local_aws.settings.output_bucket}/hls/101/1/master"
    assert master == f"{base}.m3u8"
    assert (report.status, report.master_playlist_uri, report.percent) == (JobStatus.SUCCEEDED, master, 100)
    assert [(r.uri, r.width, r.height, r.bandwidth, r.frame_rate) for r in report.renditions] == [
        # video max bitrate + audio (64k on the cellular rung), the settings' frame rate
        (f"{base}_360p.m3u8", 640, 360, 858_000, 25.0),
        (f"{base}_234p.m3u8", 416, 234, 209_000, 25.0),
    ]
    finished = local_aws.mediaconvert.jobs[job_id]["timing"]["finishTime"]
    assert report.reported_at == datetime.fromtimestamp(finished, tz=UTC)


def test_jobs_capture_a_poster_a_tenth_of_the_way_in(
    local_aws: LocalAws, tc: MediaConvertTranscoder, clip: Path
) -> None:
    req = dataclasses.replace(request(clip), duration_seconds=8.0)
    job_id = tc.submit(req)
    poster_group = local_aws.mediaconvert.jobs[job_id]["settings"]["outputGroups"][-1]
    destination = poster_group["outputGroupSettings"]["fileGroupSettings"]["destination"]
    assert destination == f"s3://{local_aws.settings.output_bucket}/hls/101/1/poster"
    (output,) = poster_group["outputs"]
    capture = output["videoDescription"]["codecSettings"]["frameCaptureSettings"]
    # 100/80 frames per second: capture 0 at the start, capture 1 at 0.8 s, a tenth of 8 s.
    assert (capture["framerateNumerator"], capture["framerateDenominator"], capture["maxCaptures"]) == (100, 80, 2)
    master = local_aws.mediaconvert.complete(job_id, local_aws.s3)
    assert master is not None
    (report,) = tc.poll([pending(req, job_id)])
    assert report.poster_uri == f"{destination}.0000001.jpg"
    assert tc.open_output(report.poster_uri).startswith(b"\xff\xd8")
    (event,) = [r for r in tc.receive_events() if r.status is JobStatus.SUCCEEDED]
    assert event.poster_uri == report.poster_uri


def test_error_maps_to_failed_with_a_short_one_line_detail(
    local_aws: LocalAws, tc: MediaConvertTranscoder, clip: Path
) -> None:
    job, job_id = submitted(tc, clip)
    message = "Demuxer: [ReadPacketData File read failed - end of file hit]\n" + "at offset 1234 " * 30
    local_aws.mediaconvert.advance(job_id, "ERROR", error_code=1010, error_message=message)
    (report,) = tc.poll([job])
    assert (report.status, report.error_code, report.phase) == (JobStatus.FAILED, "1010", "ERROR")
    assert report.error_message is not None and len(report.error_message) <= 200 and "\n" not in report.error_message
    assert report.error_message.startswith("Demuxer: [ReadPacketData File read failed - end of file hit] at offset")


def test_few_jobs_use_get_job_and_unsubmitted_jobs_are_skipped(
    local_aws: LocalAws, tc: MediaConvertTranscoder, clip: Path
) -> None:
    jobs = [submitted(tc, clip, i)[0] for i in (1, 2, 3)]
    local_aws.mediaconvert.reset_counts()
    reports = tc.poll([*jobs, pending(request(clip, 9), None)])
    assert sorted(r.media_job_id for r in reports) == [1, 2, 3]
    assert dict(local_aws.mediaconvert.calls) == {"GetJob": 3}


def test_many_pending_jobs_are_read_from_list_pages(
    local_aws: LocalAws, tc: MediaConvertTranscoder, clip: Path
) -> None:
    jobs = [created(tc, clip, i) for i in range(1, 46)]
    local_aws.mediaconvert.advance(jobs[0].provider_job_id or "", "PROGRESSING", percent=10, phase="PROBING")
    local_aws.mediaconvert.reset_counts()
    reports = tc.poll(jobs)
    assert sorted(r.media_job_id for r in reports) == list(range(1, 46))
    assert next(r for r in reports if r.media_job_id == 1).status is JobStatus.RUNNING
    calls = local_aws.mediaconvert.calls
    assert calls["ListJobs"] + calls["GetJob"] <= math.ceil(45 / 20) + 1
    pages = {(r.query["maxResults"][0], r.query["order"][0]) for r in local_aws.mediaconvert.requests}
    assert pages == {("20", "DESCENDING")}


def test_unfinished_jobs_on_list_pages_keep_only_what_the_poll_reads_and_report_as_get_job_does(
    local_aws: LocalAws, tc: MediaConvertTranscoder, clip: Path
) -> None:
    """botocore parsed every field (Settings above all) of every running job on every tick; the hook keeps the ones
    reports and the token lookup are made of, and a finished job whole."""
    jobs = [submitted(tc, clip, i)[0] for i in (1, 2, 3, 4)]
    ids = [job.provider_job_id or "" for job in jobs]
    local_aws.mediaconvert.advance(ids[0], "PROGRESSING", percent=5, phase="TRANSCODING")
    local_aws.mediaconvert.advance(ids[1], "ERROR", error_code=1010, error_message="Demuxer: end of file hit")
    master = local_aws.mediaconvert.complete(ids[2], local_aws.s3)
    page = {job["Id"]: job for job in tc.client("mediaconvert").list_jobs(MaxResults=20)["Jobs"]}
    kept = {"Id", "Status", "Timing", "JobPercentComplete", "CurrentPhase", "ErrorCode", "ErrorMessage"}
    kept |= {"UserMetadata", "CreatedAt"}
    for unfinished in (ids[0], ids[1], ids[3]):
        assert set(page[unfinished]) <= kept and page[unfinished]["UserMetadata"]
    assert (page[ids[0]]["Status"], page[ids[0]]["JobPercentComplete"]) == ("PROGRESSING", 5)
    assert page[ids[0]]["UserMetadata"]["idempotencyToken"] == "token-1"  # what the token lookup reads
    assert {"Settings", "OutputGroupDetails", "Arn", "Role"} <= set(page[ids[2]])  # a finished job keeps everything
    assert page[ids[2]]["Settings"]["OutputGroups"]
    local_aws.mediaconvert.reset_counts()
    from_pages = {r.media_job_id: r for r in tc.poll(jobs)}  # more than GET_JOB_LIMIT: one ListJobs page
    assert local_aws.mediaconvert.calls == {"ListJobs": 1}
    assert (from_pages[1].percent, from_pages[3].master_playlist_uri) == (5, master)
    from_get_job = {r.media_job_id: r for job in jobs for r in tc.poll([job])}
    assert from_pages == from_get_job
    assert [from_pages[i].status for i in (1, 2, 3, 4)] == [
        JobStatus.RUNNING,
        JobStatus.FAILED,
        JobStatus.SUCCEEDED,
        JobStatus.SUBMITTED,
    ]


def test_old_jobs_beyond_the_pages_fall_back_to_get_job(
    local_aws: LocalAws, tc: MediaConvertTranscoder, clip: Path
) -> None:
    jobs = [created(tc, clip, i) for i in range(1, 5)]
    for i in range(10, 60):  # newer jobs of someone else fill the first pages
        created(tc, clip, i)
    local_aws.mediaconvert.reset_counts()
    assert sorted(r.media_job_id for r in tc.poll(jobs)) == [1, 2, 3, 4]
    assert local_aws.mediaconvert.calls == {"ListJobs": 2, "GetJob": 4}


def test_list_pages_name_the_queue_that_the_settings_give_by_arn(local_aws: LocalAws, clip: Path) -> None:
    arn = local_aws.mediaconvert.add_queue("exports")  # EXPORTS_MEDIACONVERT_QUEUE is documented as an ARN
    tc = MediaConvertTranscoder(local_aws.settings.model_copy(update={"queue_arn": arn}))
    jobs = [created(tc, clip, i, Queue=arn) for i in range(1, 6)]
    created(tc, clip, 99)  # someone else's, in the Default queue
    local_aws.mediaconvert.reset_counts()
    assert sorted(r.media_job_id for r in tc.poll(jobs)) == [1, 2, 3, 4, 5]
    assert local_aws.mediaconvert.calls == {"ListJobs": 1}
    assert local_aws.mediaconvert.requests[0].query["queue"] == ["exports"]


def test_a_failing_list_jobs_falls_back_to_get_job_and_is_logged_once(
    local_aws: LocalAws, tc: MediaConvertTranscoder, clip: Path, caplog: pytest.LogCaptureFixture
) -> None:
    jobs = [created(tc, clip, i) for i in range(1, 6)]
    local_aws.mediaconvert.deny("ListJobs")  # a role without mediaconvert:ListJobs
    local_aws.mediaconvert.reset_counts()
    caplog.set_level(logging.INFO, logger="exports_app.transcode.mediaconvert")
    for _ in range(2):  # two ticks
        assert sorted(r.media_job_id for r in tc.poll(jobs)) == [1, 2, 3, 4, 5]
    assert local_aws.mediaconvert.calls == {"ListJobs": 2, "GetJob": 10}
    logged = [
        (r.levelno, r.getMessage()) for r in caplog.records if r.name.startswith("exports_app.transcode.mediaconvert")
    ]
    assert len(logged) == 1 and logged[0][0] == logging.WARNING and "ForbiddenException" in logged[0][1]


def test_throttling_is_retried_and_loses_nothing(local_aws: LocalAws, tc: MediaConvertTranscoder, clip: Path) -> None:
    # The shipped policy: adaptive mode, 3 retries (botocore reports 4 attempts in all); past them, the tick puts
    # the submit off (test_mediaconvert_tick).
    assert tc.client("mediaconvert").meta.config.retries == {"mode": "adaptive", "total_max_attempts": 4}
    local_aws.mediaconvert.throttle(3)
    job, job_id = submitted(tc, clip)
    assert list(local_aws.mediaconvert.jobs) == [job_id] and local_aws.mediaconvert.calls["CreateJob"] == 4
    local_aws.mediaconvert.throttle(3)
    assert [r.status for r in tc.poll([job])] == [JobStatus.SUBMITTED]


def test_throttling_past_retries_returns_what_it_has_and_never_raises(local_aws: LocalAws, clip: Path) -> None:
    tc = MediaConvertTranscoder(local_aws.settings, max_attempts=1)
    job, _ = submitted(tc, clip)
    local_aws.mediaconvert.throttle(10)
    assert tc.poll([job]) == []
    local_aws.mediaconvert.throttle(0)
    assert [r.media_job_id for r in tc.poll([job])] == [1]


def test_server_errors_mid_poll_keep_the_reports_read_so_far(local_aws: LocalAws, clip: Path) -> None:
    tc = MediaConvertTranscoder(local_aws.settings, max_attempts=1)
    jobs = [submitted(tc, clip, i)[0] for i in (1, 2, 3)]
    local_aws.mediaconvert.fail_next(2, status=503, after=1)  # the 2nd GetJob fails twice (1 try + 1 retry)
    assert [r.media_job_id for r in tc.poll(jobs)] == [1]
    assert sorted(r.media_job_id for r in tc.poll(jobs)) == [1, 2, 3]


def test_a_job_unknown_to_mediaconvert_is_left_out(tc: MediaConvertTranscoder, clip: Path) -> None:
    job, _ = submitted(tc, clip)
    assert [r.media_job_id for r in tc.poll([job, pending(request(clip, 2), "1700000000000-gone00")])] == [1]


# -- cancel --------------------------------------------------------------------------------------------


def test_cancel_stops_the_job_and_ignores_jobs_that_ended(
    local_aws: LocalAws, tc: MediaConvertTranscoder, clip: Path
) -> None:
    job, job_id = submitted(tc, clip)
    tc.cancel(job)
    assert [(r.status, r.phase) for r in tc.poll([job])] == [(JobStatus.CANCELED, "CANCELED")]
    tc.cancel(job)  # already ended: ConflictException is ignored
    tc.cancel(pending(request(clip, 2), "1700000000000-gone00"))  # unknown: NotFoundException is ignored
    local_aws.mediaconvert.reset_counts()
    tc.cancel(pending(request(clip, 3), None))  # never submitted: nothing to call
    assert local_aws.mediaconvert.calls == {}


# -- events --------------------------------------------------------------------------------------------


def at(local_aws: LocalAws, moment: float) -> datetime:
    """Set the test server's clock to `moment` (epoch seconds); returns it as a datetime."""
    local_aws.mediaconvert.clock = lambda: moment
    return datetime.fromtimestamp(moment, tz=UTC)


def test_events_map_to_reports(local_aws: LocalAws, tc: MediaConvertTranscoder, clip: Path) -> None:
    server, now = local_aws.mediaconvert, float(int(time.time()))
    job, job_id = submitted(tc, clip)
    started = at(local_aws, now + 1.25)
    # INPUT_INFORMATION (not news), PROGRESSING, STATUS_UPDATE
    server.advance(job_id, "PROGRESSING", percent=55, phase="TRANSCODING")
    reports = tc.receive_events()
    assert {(r.status, r.percent, r.phase) for r in reports} == {
        (JobStatus.RUNNING, None, None),
        (JobStatus.RUNNING, 55, "TRANSCODING"),
    }
    assert {(r.media_job_id, r.provider_job_id, r.reported_at) for r in reports} == {(1, job_id, started)}

    finished = at(local_aws, now + 2.5)
    master = server.complete(job_id, local_aws.s3)
    (done,) = tc.receive_events()
    assert (done.status, done.master_playlist_uri, done.reported_at) == (JobStatus.SUCCEEDED, master, finished)
    assert master is not None
    assert [(r.uri, r.width, r.height, r.bandwidth) for r in done.renditions] == [
        (master.replace("master.m3u8", "master_360p.m3u8"), 640, 360, 730_000),
        (master.replace("master.m3u8", "master_234p.m3u8"), 416, 234, 145_000),
    ]

    _, failing_id = submitted(tc, clip, 2)
    server.advance(failing_id, "ERROR", error_code=1030, error_message="Video codec\nnot supported")
    (failed,) = tc.receive_events()
    assert (failed.status, failed.error_code, failed.error_message, failed.phase) == (
        JobStatus.FAILED,
        "1030",
        "Video codec not supported",
        "ERROR",
    )
    canceling, canceling_id = submitted(tc, clip, 3)
    tc.cancel(canceling)
    (canceled,) = tc.receive_events()
    assert (canceled.status, canceled.provider_job_id, canceled.media_job_id) == (JobStatus.CANCELED, canceling_id, 3)


def test_a_complete_event_takes_the_hls_group_even_when_a_template_puts_cmaf_first(
    local_aws: LocalAws, clip: Path
) -> None:
    video = {
        "height": 540,
        "codecSettings": {"codec": "H_264", "h264Settings": {"rateControlMode": "QVBR", "maxBitrate": 2_000_000}},
    }
    local_aws.mediaconvert.add_job_template(
        "cmaf-first",
        {
            "inputs": [{}],
            "outputGroups": [
                {
                    "outputs": [
                        {"nameModifier": "_cmaf", "containerSettings": {"container": "CMFC"}, "videoDescription": video}
                    ],
                    "outputGroupSettings": {
                        "type": "CMAF_GROUP_SETTINGS",
                        "cmafGroupSettings": {"destination": "s3://x/c/"},
                    },
                },
                {
                    "outputs": [
                        {"nameModifier": "_540p", "containerSettings": {"container": "M3U8"}, "videoDescription": video}
                    ],
                    "outputGroupSettings": {
                        "type": "HLS_GROUP_SETTINGS",
                        "hlsGroupSettings": {"destination": "s3://x/h/"},
                    },
                },
            ],
        },
    )
    tc = MediaConvertTranscoder(local_aws.settings.model_copy(update={"job_template": "cmaf-first"}))
    req = request(clip)
    job_id = tc.submit(req)
    master = local_aws.mediaconvert.complete(job_id, local_aws.s3)
    assert master == f"s3://{local_aws.settings.output_bucket}/hls/101/1/master.m3u8"
    (by_event,) = tc.receive_events()  # its outputGroupDetails: the CMAF group (.mpd and .m3u8) first
    (by_poll,) = tc.poll([pending(req, job_id)])
    assert by_event.master_playlist_uri == by_poll.master_playlist_uri == master
    assert [r.uri for r in by_event.renditions] == [master.replace("master.m3u8", "master_540p.m3u8")]


def test_events_that_are_not_job_news_map_to_nothing(local_aws: LocalAws, tc: MediaConvertTranscoder) -> None:
    assert report_from_event({"detail-type": "EC2 Instance State-change Notification", "detail": {}}) is None
    foreign = create(tc.client("mediaconvert"))["Id"]  # no mediaJobId: not a job of the app's
    local_aws.mediaconvert.advance(foreign, "PROGRESSING", percent=5, phase="PROBING")
    local_aws.mediaconvert.advance(foreign, "COMPLETE")
    assert tc.receive_events() == []
    assert "Messages" not in local_aws.sqs.receive_message(QueueUrl=local_aws.settings.sqs_queue_url)


def drain(local_aws: LocalAws) -> list[str]:
    """The bodies of every message in the events queue, which is left empty."""
    queue, bodies = local_aws.settings.sqs_queue_url, []
    while messages := local_aws.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            bodies.append(message["Body"])
            local_aws.sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def test_receive_events_reads_and_deletes_every_message(
    local_aws: LocalAws, tc: MediaConvertTranscoder, clip: Path
) -> None:
    _, job_id = submitted(tc, clip)
    now = float(int(time.time()))
    at(local_aws, now + 1)
    local_aws.mediaconvert.advance(job_id, "PROGRESSING")
    at(local_aws, now + 2)
    local_aws.mediaconvert.complete(job_id, local_aws.s3)
    by_status = {json.loads(body)["detail"]["status"]: body for body in drain(local_aws)}
    assert set(by_status) == {"INPUT_INFORMATION", "PROGRESSING", "COMPLETE"}
    # EventBridge → SNS → SQS wraps the event in a Notification; newest first on purpose: ordering is the
    # app's job, done by comparing reported_at.
    via_sns = json.dumps({"Type": "Notification", "MessageId": "m", "Message": by_status["PROGRESSING"]})
    queue = local_aws.settings.sqs_queue_url
    for body in (
        by_status["COMPLETE"],
        via_sns,
        by_status["INPUT_INFORMATION"],
        "not json",
        "[1, 2]",
        json.dumps({"detail-type": "other"}),
    ):
        local_aws.sqs.send_message(QueueUrl=queue, MessageBody=body)
    reports = tc.receive_events(wait_seconds=1)
    by_report = {r.status: r for r in reports}
    assert set(by_report) == {JobStatus.SUCCEEDED, JobStatus.RUNNING} and len(reports) == 2
    assert by_report[JobStatus.RUNNING].reported_at < by_report[JobStatus.SUCCEEDED].reported_at
    assert drain(local_aws) == []


def test_receive_events_without_a_queue_or_with_sqs_down_is_empty(local_aws: LocalAws) -> None:
    assert MediaConvertTranscoder(local_aws.settings.model_copy(update={"sqs_queue_url": ""})).receive_events() == []
    gone = local_aws.settings.model_copy(update={"sqs_queue_url": local_aws.settings.sqs_queue_url + "-missing"})
    assert MediaConvertTranscoder(gone, clients={"sqs": local_aws.sqs}).receive_events() == []


# -- outputs -------------------------------------------------------------------------------------------


def test_open_output_reads_hls_from_s3(local_aws: LocalAws, tc: MediaConvertTranscoder, clip: Path) -> None:
    _, job_id = submitted(tc, clip)
    local_aws.mediaconvert.s3_endpoint_url = local_aws.moto_url  # complete() makes its own S3 client
    master = local_aws.mediaconvert.complete(job_id)
    assert master is not None
    playlist = tc.open_output(master).decode()
    assert playlist.startswith("#EXTM3U") and "BANDWIDTH=" in playlist and "master_360p.m3u8" in playlist
    variant = tc.open_output(master.replace("master.m3u8", "master_360p.m3u8")).decode()
    assert "#EXT-X-ENDLIST" in variant
    segment = variant.splitlines()[-2]
    assert tc.open_output(master.replace("master.m3u8", segment))[:1] == b"\x47"  # MPEG-TS sync byte
    for missing in (master.replace("master.m3u8", "nope.m3u8"), "s3://no-such-bucket-here/x.m3u8", "hls/1/master.m3u8"):
        with pytest.raises(FileNotFoundError):
            tc.open_output(missing)


def test_without_list_bucket_a_403_for_a_missing_object_means_not_there(
    local_aws: LocalAws, clip: Path, s3_without_list_bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    tc = MediaConvertTranscoder(local_aws.settings.model_copy(update={"s3_endpoint_url": s3_without_list_bucket}))
    job_id = tc.submit(request(clip))  # the HEAD before the first upload answers 403, not 404
    bucket, _, key = local_aws.mediaconvert.jobs[job_id]["settings"]["inputs"][0]["fileInput"][5:].partition("/")
    assert local_aws.s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == clip.stat().st_size
    master = local_aws.mediaconvert.complete(job_id, local_aws.s3)
    assert master is not None and tc.open_output(master).startswith(b"#EXTM3U")
    caplog.set_level(logging.WARNING, logger="exports_app.transcode.mediaconvert")
    for _ in range(2):
        with pytest.raises(FileNotFoundError):
            tc.open_output(master.replace("master.m3u8", "nope.m3u8"))
    told = [r.getMessage() for r in caplog.records if r.name.startswith("exports_app.transcode.mediaconvert")]
    assert len(told) == 1 and "s3:ListBucket" in told[0]  # said once, not on every request


# -- the test server itself ----------------------------------------------------------------------------


def settings_with(codec: dict[str, Any]) -> dict[str, Any]:
    """Job settings of one HLS output with this video CodecSettings."""
    return {
        "Inputs": [{"FileInput": "s3://in/a.mp4"}],
        "OutputGroups": [
            {
                "OutputGroupSettings": {
                    "Type": "HLS_GROUP_SETTINGS",
                    "HlsGroupSettings": {"Destination": "s3://out/a/master"},
                },
                "Outputs": [
                    {
                        "NameModifier": "_1",
                        "ContainerSettings": {"Container": "M3U8"},
                        "VideoDescription": {"CodecSettings": codec},
                    }
                ],
            }
        ],
    }


def h264(**settings: Any) -> dict[str, Any]:
    return {"Codec": "H_264", "H264Settings": settings}


QVBR = h264(RateControlMode="QVBR", MaxBitrate=800_000, QvbrSettings={"QvbrQualityLevel": 7})


def create(client: Any, **overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"Role": ROLE, "Settings": settings_with(QVBR)}
    job: dict[str, Any] = client.create_job(**{**params, **overrides})["Job"]
    return job


@pytest.mark.parametrize(
    "overrides, complaint",
    [
        ({"Role": "MediaConvertRole"}, "role"),
        ({"Settings": {"Inputs": [{"FileInput": "/tmp/a.mp4"}], "OutputGroups": []}}, "fileInput"),
        (
            {
                "Settings": {
                    "Inputs": [{"FileInput": "s3://in/a.mp4"}],
                    "OutputGroups": [
                        {
                            "Outputs": [],
                            "OutputGroupSettings": {
                                "Type": "HLS_GROUP_SETTINGS",
                                "HlsGroupSettings": {"Destination": "s3://out/a/master"},
                            },
                        }
                    ],
                }
            },
            "outputs",
        ),
        (
            {
                "Settings": {
                    "Inputs": [{"FileInput": "s3://in/a.mp4"}],
                    "OutputGroups": [
                        {
                            "OutputGroupSettings": {
                                "Type": "FILE_GROUP_SETTINGS",
                                "FileGroupSettings": {"Destination": "https://out/a"},
                            }
                        }
                    ],
                }
            },
            "s3://",
        ),
        ({"UserMetadata": {"mediaJobId": "1"}, "JobTemplate": "missing"}, "template"),
        ({"StatusUpdateInterval": "SECONDS_5"}, "statusUpdateInterval"),  # not in the model's enum
        ({"Settings": settings_with({"Codec": "H_264"})}, "h264Settings: required"),
        ({"Settings": settings_with(h264(MaxBitrate=800_000))}, "rateControlMode"),
        ({"Settings": settings_with(h264(RateControlMode="QVBR", Bitrate=800_000))}, "maxBitrate: required"),
        ({"Settings": settings_with(h264(RateControlMode="CBR", MaxBitrate=800_000))}, "bitrate: required"),
        ({"Settings": settings_with(h264(RateControlMode="VBR"))}, "bitrate: required"),
        ({"Queue": "arn:aws:mediaconvert:us-east-1:123456789012:queues/Nope"}, "queue"),
    ],
)
def test_the_server_refuses_invalid_jobs(local_aws: LocalAws, overrides: dict[str, Any], complaint: str) -> None:
    client = boto3.client("mediaconvert", region_name="us-east-1", endpoint_url=local_aws.mediaconvert.url)
    with pytest.raises(ClientError) as refused:
        create(client, **overrides)
    assert refused.value.response["Error"]["Code"] == "BadRequestException"
    assert complaint in refused.value.response["Error"]["Message"]
    assert local_aws.mediaconvert.jobs == {}


def test_the_server_pages_filters_and_describes_itself(local_aws: LocalAws) -> None:
    server = local_aws.mediaconvert
    client = boto3.client("mediaconvert", region_name="us-east-1", endpoint_url=server.url)
    assert client.describe_endpoints()["Endpoints"] == [{"Url": server.url}]
    ids = [create(client, ClientRequestToken=f"t{i}")["Id"] for i in range(5)]
    assert create(client, ClientRequestToken="t0")["Id"] == ids[0]
    server.advance(ids[1], "PROGRESSING", percent=5, phase="PROBING")
    first = client.list_jobs(MaxResults=2, Order="ASCENDING")
    second = client.list_jobs(MaxResults=2, Order="ASCENDING", NextToken=first["NextToken"])
    assert [j["Id"] for j in first["Jobs"] + second["Jobs"]] == ids[:4]
    assert [j["Id"] for j in client.list_jobs(Status="PROGRESSING")["Jobs"]] == [ids[1]]
    assert [j["Id"] for j in client.list_jobs()["Jobs"]] == ids[::-1]
    assert isinstance(client.get_job(Id=ids[0])["Job"]["Timing"]["SubmitTime"], datetime)
    assert server.calls["CreateJob"] == 6 and server.requests[0].operation == "DescribeEndpoints"


def test_the_server_dedupes_a_token_for_one_minute_only(local_aws: LocalAws) -> None:
    server = local_aws.mediaconvert
    client = boto3.client("mediaconvert", region_name="us-east-1", endpoint_url=server.url)
    now = time.time()
    first = create(client, ClientRequestToken="t")["Id"]
    server.clock = lambda: now + 59
    assert create(client, ClientRequestToken="t")["Id"] == first
    server.clock = lambda: now + 61  # the same token a minute later is a new job, as on AWS
    second = create(client, ClientRequestToken="t")["Id"]
    assert second != first and len(server.jobs) == 2
    server.token_window_seconds = 0
    assert create(client, ClientRequestToken="t")["Id"] not in (first, second)


def test_the_server_lists_a_queue_by_its_name_only(local_aws: LocalAws) -> None:
    server = local_aws.mediaconvert
    client = boto3.client("mediaconvert", region_name="us-east-1", endpoint_url=server.url)
    arn = server.add_queue("exports")
    by_arn, by_name = create(client, Queue=arn)["Id"], create(client, Queue="exports")["Id"]
    create(client)  # the Default queue
    assert client.get_job(Id=by_name)["Job"]["Queue"] == arn
    assert [j["Id"] for j in client.list_jobs(Queue="exports")["Jobs"]] == [by_name, by_arn]
    with pytest.raises(client.exceptions.BadRequestException):
        client.list_jobs(Queue=arn)
    with pytest.raises(client.exceptions.NotFoundException):
        client.list_jobs(Queue="elsewhere")


def test_only_files_that_pass_the_media_gate_go_to_s3(
    local_aws: LocalAws, tc: MediaConvertTranscoder, tmp_path: Path
) -> None:
    """A stored file that is really a playlist (from before the gate) is refused before any upload or job."""
    from exports_app.transcode.probe import NotAVideoError

    playlist = tmp_path / "export_clip.mp4"
    playlist.write_bytes(b"#EXTM3U\n#EXTINF:2.0,\n../../hls/1/v0/seg000.ts\n#EXT-X-ENDLIST\n")
    with pytest.raises(NotAVideoError, match="only MP4, MOV, M4V, MKV and WebM"):
        tc.submit(request(playlist))
    listed = local_aws.s3.list_objects_v2(Bucket=local_aws.settings.input_bucket)
    assert listed.get("KeyCount", 0) == 0 and local_aws.mediaconvert.jobs == {}


def test_the_outputs_manifests_follow_the_jobs_settings(
    local_aws: LocalAws, tc: MediaConvertTranscoder, tmp_path: Path
) -> None:
    """A portrait source's job: the master the server writes from its settings, read back as the app reads it."""
    phone = make_clip(tmp_path / "phone.mp4", seconds=0.2, width=360, height=640, fps=30)
    req = request(phone, 1)
    job_id = tc.submit(req)
    master_uri = local_aws.mediaconvert.complete(job_id, local_aws.s3)
    assert master_uri is not None
    (report,) = tc.poll([pending(req, job_id)])
    assert [(r.width, r.height, r.frame_rate) for r in report.renditions] == [(360, 640, 30.0), (234, 416, 30.0)]
    master = m3u8.loads(tc.open_output(master_uri).decode())
    assert master.is_independent_segments
    assert [
        (p.stream_info.resolution, p.stream_info.frame_rate, p.stream_info.video_range) for p in master.playlists
    ] == [((360, 640), 30.0, "SDR"), ((234, 416), 30.0, "SDR")]
    assert [p.stream_info.codecs for p in master.playlists] == ["avc1.4d401e,mp4a.40.2", "avc1.4d401e,mp4a.40.2"]
    assert [(i.iframe_stream_info.resolution, i.uri) for i in master.iframe_playlists] == [
        ((360, 640), "master_360p_I-Frame.m3u8"),
        ((234, 416), "master_234p_I-Frame.m3u8"),
    ]
    iframes = m3u8.loads(tc.open_output(master_uri.replace("master.m3u8", "master_360p_I-Frame.m3u8")).decode())
    assert iframes.is_i_frames_only and [s.duration for s in iframes.segments] == [2.0, 2.0, 2.0]
