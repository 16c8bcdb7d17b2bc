"""MediaConvert in two passes through the API: both jobs submitted in one tick, the export ready when the fast one
completes, one master merged from both jobs' masters at one URL, and one job failed with the other done."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import m3u8
import pytest
from fastapi.testclient import TestClient

from exports_app import config as app_config
from exports_app.db import session_scope
from exports_app.jobs.refresh import tick
from exports_app.models import Production
from exports_app.services.auth import Member
from exports_app.transcode.factory import close_transcoder, get_transcoder
from tests.support.aws_fixtures import LocalAws, local_aws, moto_url  # noqa: F401  (fixtures)
from tests.support.clips import make_clip
from tests.support.records import import_clip

# ruff: noqa: F811  (test parameters named after the fixtures imported above)

FAST_SIZES = [(640, 360), (416, 234)]
HD_SIZES = [(960, 540), (1280, 720)]
LADDER = [(960, 540), (1280, 720), (640, 360), (416, 234)]  # a 720p source's master: nearest 2 Mbit/s, then highest
FAILURE = "Video codec not supported"  # MediaConvert's error 1030


@pytest.fixture
def aws(data_dir: Path, local_aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalAws]:
    """The app's transcoder is MediaConvert on local AWS (its events reach the SQS queue the tick reads)."""
    for name, value in local_aws.env().items():
        monkeypatch.setenv(name, value)
    app_config.get_settings.cache_clear()
    close_transcoder()
    yield local_aws
    close_transcoder()


class Prepped(NamedTuple):
    upload: int
    status: dict[str, Any]  # the prep's answer
    fast: str  # the MediaConvert jobs of its two passes
    hd: str


def prepped(client: TestClient, member: Member, aws: LocalAws, tmp_path: Path) -> Prepped:
    """A 720p export prepped, and the tick that submits its jobs run."""
    upload = import_clip(member, make_clip(tmp_path / "hd.mp4", seconds=1.0, width=1280, height=720))
    body: dict[str, Any] = client.post(f"/api/exports/{upload}/prep-hls").json()
    assert body["state"] == "in_progress"
    tick(get_transcoder(), 3600)
    (fast,), (hd,) = jobs_of(aws, "fast"), jobs_of(aws, "hd")
    return Prepped(upload, body, fast, hd)


def ticked(client: TestClient, upload: int) -> dict[str, Any]:
    """The export's status after one refresh tick (which reads the jobs' events, then polls)."""
    tick(get_transcoder(), 3600)
    response = client.get(f"/api/exports/{upload}/hls-status")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def jobs_of(aws: LocalAws, which: str) -> list[str]:
    """The MediaConvert jobs of one pass, oldest first."""
    return [job_id for job_id, job in aws.mediaconvert.jobs.items() if job["userMetadata"].get("pass") == which]


def fail(aws: LocalAws, job_id: str) -> None:
    aws.mediaconvert.advance(job_id, "ERROR", error_code=1030, error_message=FAILURE)


def media_job(aws: LocalAws, job_id: str) -> str:
    return str(aws.mediaconvert.jobs[job_id]["userMetadata"]["mediaJobId"])


def sizes(aws: LocalAws, job_id: str) -> list[tuple[int, int]]:
    outputs = aws.mediaconvert.jobs[job_id]["settings"]["outputGroups"][0]["outputs"]
    return [(o["videoDescription"]["width"], o["videoDescription"]["height"]) for o in outputs]


def served_master(client: TestClient, status: dict[str, Any]) -> m3u8.M3U8:
    """The master at the status's hlsUrl, with every playlist and segment it leads to fetched through /media/hls."""
    production = status["productionId"]
    assert status["hlsUrl"] == f"/media/hls/{production}/master.m3u8"
    got = client.get(status["hlsUrl"])
    assert got.status_code == 200 and got.headers["content-type"] == "application/vnd.apple.mpegurl"
    master = m3u8.loads(got.text)
    for variant in [*master.playlists, *master.iframe_playlists]:
        playlist = client.get(f"/media/hls/{production}/{variant.uri}")
        assert playlist.status_code == 200, variant.uri
        parsed = m3u8.loads(playlist.text)
        assert parsed.is_endlist and parsed.segments
        folder = variant.uri.rsplit("/", 1)[0]
        for segment in parsed.segments:
            got = client.get(f"/media/hls/{production}/{folder}/{segment.uri}")
            assert got.status_code == 200 and got.headers["content-type"] == "video/mp2t"
    return master


def listed(master: m3u8.M3U8) -> list[tuple[str, tuple[int, int]]]:
    """(URI, resolution) of each variant, in the master's order."""
    return [(p.uri, tuple(p.stream_info.resolution)) for p in master.playlists]


@pytest.mark.server_db
def test_both_jobs_go_together_and_the_master_grows_at_the_same_url(
    aws: LocalAws, alice_client: TestClient, alice: Member, tmp_path: Path
) -> None:
    upload, first, fast, hd = prepped(alice_client, alice, aws, tmp_path)
    assert aws.mediaconvert.calls["CreateJob"] == 2  # both passes in the one tick
    assert (sizes(aws, fast), sizes(aws, hd)) == (FAST_SIZES, HD_SIZES)
    folder = f"s3://{aws.settings.output_bucket}/hls/{first['productionId']}"
    for job_id in (fast, hd):
        hls = aws.mediaconvert.jobs[job_id]["settings"]["outputGroups"][0]["outputGroupSettings"]["hlsGroupSettings"]
        assert hls["destination"] == f"{folder}/{media_job(aws, job_id)}/master"

    aws.mediaconvert.advance(hd, "PROGRESSING", percent=30, phase="TRANSCODING")
    aws.mediaconvert.advance(fast, "PROGRESSING", percent=60, phase="TRANSCODING")
    body = ticked(alice_client, upload)
    assert (body["state"], body["percent"], body["hdState"], body["hdPercent"]) == (
        "in_progress",
        60,
        "in_progress",
        30,
    )

    aws.mediaconvert.complete(fast, aws.s3)
    ready = ticked(alice_client, upload)
    assert (ready["state"], ready["hdState"], ready["productionId"]) == ("ready", "in_progress", first["productionId"])
    fast_folder = media_job(aws, fast)
    assert listed(served_master(alice_client, ready)) == [
        (f"{fast_folder}/master_360p.m3u8", (640, 360)),
        (f"{fast_folder}/master_234p.m3u8", (416, 234)),
    ]

    aws.mediaconvert.complete(hd, aws.s3)
    done = ticked(alice_client, upload)
    assert (done["state"], done["hdState"], done["hlsUrl"]) == ("ready", "ready", ready["hlsUrl"])
    master = served_master(alice_client, done)
    assert [size for _, size in listed(master)] == LADDER
    assert [uri.split("/")[0] for uri, _ in listed(master)] == [media_job(aws, hd)] * 2 + [fast_folder] * 2
    assert [tuple(p.iframe_stream_info.resolution) for p in master.iframe_playlists] == LADDER
    with session_scope() as s:
        production = s.get(Production, first["productionId"])
        assert production is not None and production.hls_master_uri == f"{folder}/master.m3u8"
        assert sorted(r["height"] for r in production.renditions or []) == [234, 360, 540, 720]
        assert production.poster_uri == f"{folder}/{fast_folder}/poster.0000001.jpg"  # the fast job's frame capture
    assert aws.mediaconvert.calls["CreateJob"] == 2


def test_a_failed_hd_job_is_tried_once_more_and_the_export_stays_ready_with_the_fast_variants(
    aws: LocalAws, alice_client: TestClient, alice: Member, tmp_path: Path
) -> None:
    upload, _, fast, hd = prepped(alice_client, alice, aws, tmp_path)
    fail(aws, hd)  # the HD job fails first, while the fast one runs
    body = ticked(alice_client, upload)
    assert (body["state"], body["hdState"]) == ("in_progress", "in_progress")  # its retry is queued
    ticked(alice_client, upload)  # submits the retry
    (_, retry) = jobs_of(aws, "hd")
    assert sizes(aws, retry) == sizes(aws, hd)

    aws.mediaconvert.complete(fast, aws.s3)
    ready = ticked(alice_client, upload)
    assert (ready["state"], ready["hdState"]) == ("ready", "in_progress")
    assert [size for _, size in listed(served_master(alice_client, ready))] == FAST_SIZES

    fail(aws, retry)
    done = ticked(alice_client, upload)
    assert (done["state"], done["hdState"], done["hdDetail"]) == ("ready", "failed", FAILURE)
    ticked(alice_client, upload)
    assert len(aws.mediaconvert.jobs) == 3  # one retry, no more
    assert [size for _, size in listed(served_master(alice_client, done))] == FAST_SIZES


def test_a_failed_fast_job_beside_a_done_hd_job_is_retried_alone_and_the_master_lists_both(
    aws: LocalAws, alice_client: TestClient, alice: Member, tmp_path: Path
) -> None:
    upload, first, fast, hd = prepped(alice_client, alice, aws, tmp_path)
    fail(aws, fast)  # the fast job fails first, then the HD one completes
    body = ticked(alice_client, upload)
    assert (body["state"], body["detail"], body["hdState"]) == ("failed", FAILURE, "in_progress")
    aws.mediaconvert.complete(hd, aws.s3)
    failed = ticked(alice_client, upload)
    assert (failed["state"], failed["hdState"]) == ("failed", "ready")
    # The HD variants are merged but not served: a production that is not ready has no master to fetch.
    assert alice_client.get(f"/media/hls/{first['productionId']}/master.m3u8").status_code == 404

    retry = alice_client.post(f"/api/exports/{upload}/prep-hls").json()
    assert (retry["state"], retry["productionId"]) == ("in_progress", first["productionId"])
    ticked(alice_client, upload)
    assert len(aws.mediaconvert.jobs) == 3 and jobs_of(aws, "hd") == [hd]  # only a new fast job
    (_, again) = jobs_of(aws, "fast")
    assert sizes(aws, again) == FAST_SIZES

    aws.mediaconvert.complete(again, aws.s3)
    ready = ticked(alice_client, upload)
    assert (ready["state"], ready["hdState"], ready["productionId"]) == ("ready", "ready", first["productionId"])
    master = served_master(alice_client, ready)
    assert [size for _, size in listed(master)] == LADDER
    assert [uri.split("/")[0] for uri, _ in listed(master)] == [media_job(aws, hd)] * 2 + [media_job(aws, again)] * 2


def test_both_jobs_done_in_one_tick_give_one_master_of_both(
    aws: LocalAws, alice_client: TestClient, alice: Member, tmp_path: Path
) -> None:
    """The two successes applied one after the other in one tick: the second merges into what the first stored."""
    upload, _, fast, hd = prepped(alice_client, alice, aws, tmp_path)
    for job_id in (hd, fast):
        aws.mediaconvert.complete(job_id, aws.s3)
    ready = ticked(alice_client, upload)
    assert (ready["state"], ready["hdState"]) == ("ready", "ready")
    assert [size for _, size in listed(served_master(alice_client, ready))] == LADDER
