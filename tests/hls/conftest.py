"""The conformance sources, made and prepped once per session: the playlist checks and the player share them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from exports_app.domain import JobStatus
from exports_app.transcode.base import JobReport, JobRequest, PendingJob
from exports_app.transcode.local_ffmpeg import LocalFfmpegTranscoder
from exports_app.transcode.probe import probe_video
from tests.hls.sources import SOURCES, make_sources
from tests.hls.stream_checks import wait_terminal


@pytest.fixture(scope="session")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[JobReport, Path]]]:
    """name → (the job's final report, its production's HLS directory) for every source.

    Each source passes the media gate (probe_video, as import does) and is prepped by the local transcoder
    as the refresh job drives it (submit, then poll until the job ends).
    """
    work = tmp_path_factory.mktemp("hls-sources")
    files = make_sources(work)
    hls_dir = work / "hls"
    transcoder = LocalFfmpegTranscoder(hls_dir, concurrency=2)
    try:
        pending = []
        for number, source in enumerate(SOURCES, start=1):
            probe = probe_video(files[source.name])
            request = JobRequest(
                number,
                number,
                number,
                f"conformance-{number}",
                files[source.name],
                probe.duration_seconds,
                probe.height,
            )
            pending.append(PendingJob(request, transcoder.submit(request), JobStatus.SUBMITTED))
        reports = wait_terminal(transcoder, pending)
    finally:
        transcoder.close()
    yield {s.name: (reports[n], hls_dir / str(n)) for n, s in enumerate(SOURCES, start=1)}
