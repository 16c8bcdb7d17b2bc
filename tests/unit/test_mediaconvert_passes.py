"""The MediaConvert transcoder with a production made in two passes: each pass is a job of its own (its rungs, its
folder, its token), and its reports, polled or pushed, say where the production's merged master is served from."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exports_app.domain import Pass
from exports_app.transcode.base import JobReport, JobRequest, JobStatus, PendingJob
from exports_app.transcode.mediaconvert import MediaConvertTranscoder
from tests.support.aws_fixtures import LocalAws, local_aws, moto_url  # noqa: F401  (fixtures)
from tests.support.clips import make_clip

# ruff: noqa: F811  (test parameters named after the fixtures imported above)

PRODUCTIONS = (101, 102)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("mc-passes") / "hd.mp4", seconds=0.2, width=1280, height=720)


@pytest.fixture
def tc(local_aws: LocalAws) -> Iterator[MediaConvertTranscoder]:
    # Without the events queue: what is tested first is what polling alone reads back.
    transcoder = MediaConvertTranscoder(local_aws.settings.model_copy(update={"sqs_queue_url": ""}))
    yield transcoder
    transcoder.close()


def request(clip: Path, media_job_id: int, production_id: int, which: Pass) -> JobRequest:
    return JobRequest(
        media_job_id=media_job_id,
        production_id=production_id,
        upload_id=7,
        idempotency_token=f"token-{media_job_id}",
        input_path=clip,
        duration_seconds=0.2,
        source_height=720,
        pass_name=which,
    )


def two_pass_requests(clip: Path) -> list[JobRequest]:
    """The fast and HD jobs of two productions of one export (media jobs 1 to 4), and a whole ladder's job (5)."""
    requests = [
        request(clip, 2 * n + (which is Pass.HD) + 1, production, which)
        for n, production in enumerate(PRODUCTIONS)
        for which in (Pass.FAST, Pass.HD)
    ]
    return [*requests, request(clip, 5, 103, Pass.FULL)]


def outputs(job: dict[str, Any]) -> list[str]:
    return [o["nameModifier"] for o in job["settings"]["outputGroups"][0]["outputs"]]


def where(local_aws: LocalAws, req: JobRequest) -> tuple[str, str | None]:
    """(the job's own master, the production's merged master's URI or None) as its reports should say them."""
    production = f"s3://{local_aws.settings.output_bucket}/hls/{req.production_id}"
    return f"{production}/{req.media_job_id}/master.m3u8", (
        None if req.pass_name is Pass.FULL else f"{production}/master.m3u8"
    )


def assert_reports_name_their_masters(
    local_aws: LocalAws, requests: list[JobRequest], reports: list[JobReport]
) -> None:
    by_job = {r.media_job_id: r for r in reports}
    assert sorted(by_job) == [r.media_job_id for r in requests]
    for req in requests:
        report = by_job[req.media_job_id]
        own, merged = where(local_aws, req)
        assert report.status is JobStatus.SUCCEEDED
        assert (report.master_playlist_uri, report.production_master_uri) == (own, merged)
        # The fast pass (or the whole ladder) makes the production's poster; the HD pass makes none.
        assert (report.poster_uri is None) == (req.pass_name is Pass.HD)
        heights = sorted((r.height for r in report.renditions), reverse=True)
        assert heights == {Pass.FAST: [360, 234], Pass.HD: [720, 540], Pass.FULL: [720, 540, 360, 234]}[req.pass_name]


def test_each_pass_is_a_job_of_its_own_rungs_folder_and_token(
    local_aws: LocalAws, tc: MediaConvertTranscoder, clip: Path
) -> None:
    """Each pass's job: its rungs, its folder, its pass in UserMetadata, and its token, by which a submit repeated
    within the token's minute or after it (ListJobs) finds that job again beside its production's other one."""
    server = local_aws.mediaconvert
    requests = two_pass_requests(clip)
    made = [tc.submit(req) for req in requests]
    jobs = [server.jobs[job_id] for job_id in made]
    for req, job in zip(requests, jobs, strict=True):
        hls = job["settings"]["outputGroups"][0]["outputGroupSettings"]["hlsGroupSettings"]
        assert hls["destination"] == where(local_aws, req)[0].removesuffix(".m3u8")
        assert job["userMetadata"].get("pass") == (None if req.pass_name is Pass.FULL else req.pass_name.value)
        assert job["clientRequestToken"] == req.idempotency_token
        groups = [g["outputGroupSettings"]["type"] for g in job["settings"]["outputGroups"]]
        poster = [] if req.pass_name is Pass.HD else ["FILE_GROUP_SETTINGS"]  # the HD pass makes no poster
        assert groups == ["HLS_GROUP_SETTINGS", *poster]
    assert [outputs(job) for job in jobs] == [
        ["_360p", "_234p"],
        ["_540p", "_720p"],
        ["_360p", "_234p"],
        ["_540p", "_720p"],
        ["_540p", "_720p", "_360p", "_234p"],
    ]
    assert [tc.submit(req) for req in requests] == made
    later = time.time() + 120
    server.clock = lambda: later  # CreateJob no longer dedupes the tokens: each job is found by its own
    server.reset_counts()
    assert [tc.submit(req) for req in requests[::-1]] == made[::-1]
    assert len(server.jobs) == len(requests) and server.calls["CreateJob"] == 0


def test_polled_reports_of_pass_jobs_name_the_productions_master(
    local_aws: LocalAws, tc: MediaConvertTranscoder, clip: Path
) -> None:
    """Five jobs (more than GetJob is asked for one by one): ListJobs pages, whose jobs carry their pass."""
    requests = two_pass_requests(clip)
    pending = [PendingJob(req, tc.submit(req), JobStatus.SUBMITTED) for req in requests]
    for job in pending:
        local_aws.mediaconvert.complete(job.provider_job_id or "", local_aws.s3)
    local_aws.mediaconvert.reset_counts()
    reports = tc.poll(pending)
    assert local_aws.mediaconvert.calls["GetJob"] == 0 and local_aws.mediaconvert.calls["ListJobs"] >= 1
    assert_reports_name_their_masters(local_aws, requests, reports)
    # GetJob, as for a handful of jobs, reads the same.
    for req, job in zip(requests, pending, strict=True):
        assert_reports_name_their_masters(local_aws, [req], tc.poll([job]))


def test_events_of_pass_jobs_name_the_productions_master(local_aws: LocalAws, clip: Path) -> None:
    requests = two_pass_requests(clip)
    tc = MediaConvertTranscoder(local_aws.settings)
    try:
        for req in requests:
            local_aws.mediaconvert.complete(tc.submit(req), local_aws.s3)
        reports: list[JobReport] = []
        while batch := tc.receive_events():
            reports += batch
    finally:
        tc.close()
    assert_reports_name_their_masters(local_aws, requests, [r for r in reports if r.status.terminal])


def test_a_job_template_is_shared_out_between_the_passes(local_aws: LocalAws, clip: Path) -> None:
    """The template's HLS outputs by their short side, as the ladder is; its other groups with the fast pass."""

    def output(height: int | None, modifier: str) -> dict[str, Any]:
        video: dict[str, Any] = {
            "codecSettings": {
                "codec": "H_264",
                "h264Settings": {"rateControlMode": "QVBR", "maxBitrate": 1_000_000},
            }
        }
        if height:
            video["height"] = height
        return {"nameModifier": modifier, "containerSettings": {"container": "M3U8"}, "videoDescription": video}

    hls_outputs = [output(1080, "_hi"), output(None, "_source"), output(540, "_mid"), output(360, "_lo")]
    local_aws.mediaconvert.add_job_template(
        "house-hls",
        {
            "inputs": [{"timecodeSource": "ZEROBASED"}],
            "outputGroups": [
                {
                    "outputs": hls_outputs,
                    "outputGroupSettings": {
                        "type": "HLS_GROUP_SETTINGS",
                        "hlsGroupSettings": {"destination": "s3://x/"},
                    },
                },
                {
                    "outputs": [{**output(720, "_file"), "containerSettings": {"container": "MP4"}}],
                    "outputGroupSettings": {
                        "type": "FILE_GROUP_SETTINGS",
                        "fileGroupSettings": {"destination": "s3://x/"},
                    },
                },
            ],
        },
    )
    tc = MediaConvertTranscoder(local_aws.settings.model_copy(update={"job_template": "house-hls"}))
    try:
        fast, hd = (
            local_aws.mediaconvert.jobs[tc.submit(request(clip, n, 101, which))]
            for n, which in ((1, Pass.FAST), (2, Pass.HD))
        )
    finally:
        tc.close()
    assert outputs(fast) == ["_lo"] and outputs(hd) == ["_hi", "_source", "_mid"]
    # The fast job: the HLS group, the template's file group, the poster; the HD job: its HLS group only.
    assert [len(g["outputs"]) for g in fast["settings"]["outputGroups"]] == [1, 1, 1]
    assert len(hd["settings"]["outputGroups"]) == 1
