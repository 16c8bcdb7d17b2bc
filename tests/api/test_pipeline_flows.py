"""Issue flows through the API alone: local ffmpeg and MediaConvert, ready with a served ladder, failed, retry."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import m3u8
import pytest
from fastapi.testclient import TestClient

from exports_app import config as app_config
from exports_app.db import session_scope
from exports_app.jobs.refresh import tick
from exports_app.services import exports
from exports_app.services.auth import Member
from exports_app.transcode.factory import close_transcoder, get_transcoder
from tests.support.aws_fixtures import LocalAws, local_aws, moto_url  # noqa: F401  (fixtures)
from tests.support.clips import make_clip

# ruff: noqa: F811  (test parameters named after the fixtures imported above)

pytestmark = pytest.mark.server_db  # re-run on MariaDB and PostgreSQL by `make test`


def import_file(member: Member, path: Path, title: str, allow_undecodable: bool = False) -> int:
    with session_scope() as s:
        upload_id = exports.import_export(
            session=s,
            member=member,
            source=path,
            title=title,
            allow_undecodable=allow_undecodable,
        ).id
    assert upload_id is not None
    return upload_id


def status(client: TestClient, upload_id: int) -> dict[str, Any]:
    response = client.get(f"/api/exports/{upload_id}/hls-status")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def tick_until(client: TestClient, upload_id: int, states: set[str], timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tick(get_transcoder(), 3600)
        body = status(client, upload_id)
        if body["state"] in states:
            return body
        time.sleep(0.1)
    raise AssertionError(f"never reached {states}")


@pytest.fixture
def transcoder_cleanup() -> Iterator[None]:
    close_transcoder()
    yield
    close_transcoder()


def test_local_flow(alice_client: TestClient, alice: Member, tmp_path: Path, transcoder_cleanup: None) -> None:
    good = import_file(alice, make_clip(tmp_path / "good.mp4", seconds=8.0, width=1280, height=720), "Good")
    (tmp_path / "bad.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"not a video at all" * 200)
    bad = import_file(alice, tmp_path / "bad.mp4", "Bad", allow_undecodable=True)

    assert status(alice_client, good)["state"] == "not_ready"
    assert alice_client.post(f"/api/exports/{good}/prep-hls").json()["state"] == "in_progress"
    seen_percent: set[int] = set()
    deadline = time.monotonic() + 120
    while (body := status(alice_client, good))["state"] == "in_progress" and time.monotonic() < deadline:
        seen_percent.add(body["percent"] or 0)
        tick(get_transcoder(), 3600)
        time.sleep(0.05)
    assert body["state"] == "ready" and body["hlsUrl"] == f"/media/hls/{body['productionId']}/master.m3u8"
    assert any(0 < p < 100 for p in seen_percent)
    # A 720p source is made in two passes: ready with the fast pass's 360p and 234p, then the HD pass adds the rest.
    assert body["hdState"] == "in_progress"
    assert len(m3u8.loads(alice_client.get(body["hlsUrl"]).text).playlists) == 2
    while (body := status(alice_client, good))["hdState"] == "in_progress" and time.monotonic() < deadline:
        assert body["state"] == "ready"
        tick(get_transcoder(), 3600)
        time.sleep(0.05)
    assert body["state"] == "ready" and body["hdState"] == "ready" and body["hdPercent"] == 100

    master_text = alice_client.get(body["hlsUrl"])  # httpx asks for gzip (and inflates it)
    assert master_text.headers["content-type"] == "application/vnd.apple.mpegurl"
    assert master_text.headers["content-encoding"] == "gzip" and master_text.headers["vary"] == "Accept-Encoding"
    plain = alice_client.get(body["hlsUrl"], headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.text == master_text.text
    refused = alice_client.get(body["hlsUrl"], headers={"Accept-Encoding": "br, gzip;q=0"})
    assert "content-encoding" not in refused.headers
    # The master grows when the HD pass lands: never kept by a cache without asking; its variants are.
    assert master_text.headers["cache-control"] == plain.headers["cache-control"] == "private, no-cache"
    master = m3u8.loads(master_text.text)
    assert len(master.playlists) == 4  # 720p source: 720, 540, 360 and 234 for cellular
    for variant in [*master.playlists, *master.iframe_playlists]:
        got = alice_client.get(f"/media/hls/{body['productionId']}/{variant.uri}")
        assert got.headers["content-encoding"] == "gzip" and got.headers["cache-control"] == "private, max-age=60"
        assert got.headers["content-type"] == "application/vnd.apple.mpegurl"
        playlist = m3u8.loads(got.text)
        assert playlist.is_endlist
        folder = variant.uri.rsplit("/", 1)[0]
        for segment in playlist.segments:
            got = alice_client.get(f"/media/hls/{body['productionId']}/{folder}/{segment.uri}")
            assert got.status_code == 200 and got.headers["content-type"] == "video/mp2t"
            assert "content-encoding" not in got.headers  # segments are compressed already

    assert alice_client.post(f"/api/exports/{bad}/prep-hls").json()["state"] == "in_progress"
    failed = tick_until(alice_client, bad, {"failed"})
    assert failed["detail"] == "Invalid data found when processing input"
    retry = alice_client.post(f"/api/exports/{bad}/prep-hls").json()
    assert retry["state"] == "in_progress" and retry["productionId"] != failed["productionId"]


def test_mediaconvert_flow(
    local_aws: LocalAws,
    monkeypatch: pytest.MonkeyPatch,
    alice_client: TestClient,
    alice: Member,
    tmp_path: Path,
    transcoder_cleanup: None,
) -> None:
    for name, value in local_aws.env().items():
        monkeypatch.setenv(name, value)
    app_config.get_settings.cache_clear()
    close_transcoder()
    upload = import_file(alice, make_clip(tmp_path / "mc.mp4", seconds=1.0, width=640, height=360), "MC")
    first = alice_client.post(f"/api/exports/{upload}/prep-hls").json()
    assert first["state"] == "in_progress"
    tick(get_transcoder(), 3600)  # submits to MediaConvert
    (job_id,) = local_aws.mediaconvert.jobs
    assert local_aws.mediaconvert.jobs[job_id]["userMetadata"]["productionId"] == str(first["productionId"])

    local_aws.mediaconvert.advance(job_id, "PROGRESSING", percent=35, phase="TRANSCODING")
    body = tick_until(alice_client, upload, {"in_progress"})
    tick(get_transcoder(), 3600)
    body = status(alice_client, upload)
    assert (body["percent"], body["phase"]) == (35, "TRANSCODING")

    local_aws.mediaconvert.complete(job_id, local_aws.s3)
    ready = tick_until(alice_client, upload, {"ready"})
    master = alice_client.get(ready["hlsUrl"])
    assert master.status_code == 200 and master.text.startswith("#EXTM3U")
    variant = m3u8.loads(master.text).playlists[0].uri
    assert m3u8.loads(alice_client.get(f"/media/hls/{ready['productionId']}/{variant}").text).is_endlist

    # A failing job: ERROR with MediaConvert's code and message, then a retry is a new job.
    other = import_file(alice, make_clip(tmp_path / "mc2.mp4", seconds=1.0), "MC2")
    alice_client.post(f"/api/exports/{other}/prep-hls")
    tick(get_transcoder(), 3600)
    failing = next(j for j in local_aws.mediaconvert.jobs if j != job_id)
    local_aws.mediaconvert.advance(failing, "ERROR", error_code=1030, error_message="Video codec not supported")
    failed = tick_until(alice_client, other, {"failed"})
    assert failed["detail"] == "Video codec not supported"
    assert alice_client.post(f"/api/exports/{other}/prep-hls").json()["state"] == "in_progress"
    tick(get_transcoder(), 3600)
    assert len(local_aws.mediaconvert.jobs) == 3


def test_mediaconvert_events_through_sqs(
    local_aws: LocalAws,
    monkeypatch: pytest.MonkeyPatch,
    alice_client: TestClient,
    alice: Member,
    tmp_path: Path,
    transcoder_cleanup: None,
) -> None:
    import json

    for name, value in local_aws.env().items():
        monkeypatch.setenv(name, value)
    app_config.get_settings.cache_clear()
    close_transcoder()
    upload = import_file(alice, make_clip(tmp_path / "ev.mp4", seconds=1.0), "Events")
    alice_client.post(f"/api/exports/{upload}/prep-hls")
    tick(get_transcoder(), 3600)
    (job_id,) = local_aws.mediaconvert.jobs
    media_job_id = int(local_aws.mediaconvert.jobs[job_id]["userMetadata"]["mediaJobId"])

    def send(status: str, ts_ms: int, **detail: object) -> None:
        local_aws.sqs.send_message(
            QueueUrl=local_aws.settings.sqs_queue_url,
            MessageBody=json.dumps(
                {
                    "detail-type": "MediaConvert Job State Change",
                    "source": "aws.mediaconvert",
                    "detail": {
                        "status": status,
                        "jobId": job_id,
                        "timestamp": ts_ms,
                        "userMetadata": {"mediaJobId": str(media_job_id)},
                        **detail,
                    },
                }
            ),
        )

    now_ms = int(time.time() * 1000) + 60_000  # newer than anything polling reports
    send("PROGRESSING", now_ms, jobProgress={"jobPercentComplete": 77, "currentPhase": "TRANSCODING"})
    tick(get_transcoder(), 3600)
    body = status(alice_client, upload)
    assert (body["state"], body["percent"]) == ("in_progress", 77)
    # An older event arriving late changes nothing.
    send("PROGRESSING", now_ms - 30_000, jobProgress={"jobPercentComplete": 10, "currentPhase": "PROBING"})
    tick(get_transcoder(), 3600)
    assert status(alice_client, upload)["percent"] == 77
