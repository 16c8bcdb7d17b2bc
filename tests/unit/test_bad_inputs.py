"""Odd inputs through the local transcoder: each ends in a valid ladder or `failed` with a clear detail."""

from __future__ import annotations

import time
from pathlib import Path

import m3u8
import pytest

from exports_app.domain import JobStatus
from exports_app.transcode.base import JobReport, JobRequest, PendingJob
from exports_app.transcode.local_ffmpeg import LocalFfmpegTranscoder
from exports_app.transcode.probe import NotAVideoError, probe_video
from tests.support.media import bad_inputs

NAMES = ["zero_byte", "text_renamed", "truncated", "audio_only", "image_only", "odd_dimensions", "uhd_4k"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return bad_inputs(tmp_path_factory.mktemp("inputs"))


@pytest.mark.parametrize("name", NAMES)
def test_odd_input_never_hangs(name: str, inputs: dict[str, Path], tmp_path: Path) -> None:
    path = inputs[name]
    try:
        probe = probe_video(path)
        duration, height = probe.duration_seconds, probe.height
    except NotAVideoError:
        duration, height = None, None
    request = JobRequest(1, 1, 1, "t", path, duration, height)
    transcoder = LocalFfmpegTranscoder(tmp_path / "hls")
    try:
        transcoder.submit(request)
        deadline = time.monotonic() + 150
        report: JobReport = transcoder.poll([PendingJob(request, "local-1", JobStatus.SUBMITTED)])[0]
        while not report.status.terminal:
            assert time.monotonic() < deadline, f"{name} is stuck"
            time.sleep(0.05)
            report = transcoder.poll([PendingJob(request, "local-1", JobStatus.SUBMITTED)])[0]
    finally:
        transcoder.close()
    if report.status is JobStatus.SUCCEEDED:
        master = m3u8.load(str(tmp_path / "hls" / "1" / "master.m3u8"))
        assert master.playlists, name
        for variant in master.playlists:
            width, height_ = variant.stream_info.resolution
            assert width % 2 == 0 and height_ % 2 == 0 and height_ <= (height or 0)
            assert m3u8.load(str(tmp_path / "hls" / "1" / variant.uri)).is_endlist
    else:
        assert report.status is JobStatus.FAILED, name
        detail = report.error_message or ""
        assert 0 < len(detail) <= 200 and "\n" not in detail and str(tmp_path) not in detail
    expected = {
        "zero_byte": JobStatus.FAILED,
        "text_renamed": JobStatus.FAILED,
        "audio_only": JobStatus.FAILED,
        "odd_dimensions": JobStatus.SUCCEEDED,
        "uhd_4k": JobStatus.SUCCEEDED,
    }
    if name in expected:
        assert report.status is expected[name], (name, report)
