"""The conformance sources, made and prepped once per session: the playlist checks and the player share them.

A source made in two passes has its HD pass run once its fast pass is done, into the same production (as the local
pool runs them), and the two masters merged as the app merges them (transcode/master_merge.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from exports_app.domain import JobStatus, Pass
from exports_app.transcode.base import JobReport, JobRequest, PendingJob
from exports_app.transcode.ladder import choose_renditions, master_order
from exports_app.transcode.local_ffmpeg import LocalFfmpegTranscoder
from exports_app.transcode.master_merge import PassMaster, merge_masters
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
        requests = {}
        for number, source in enumerate(SOURCES, start=1):
            probe = probe_video(files[source.name])
            requests[number] = JobRequest(
                number,
                number,
                number,
                f"conformance-{number}",
                files[source.name],
                probe.duration_seconds,
                probe.height,
                pass_name=source.passes[0],
            )
        reports = wait_terminal(transcoder, [_submitted(transcoder, r) for r in requests.values()])
        hd = {n: _hd_request(requests[n]) for n, s in enumerate(SOURCES, start=1) if Pass.HD in s.passes}
        hd_reports = wait_terminal(transcoder, [_submitted(transcoder, r) for r in hd.values()]) if hd else {}
    finally:
        transcoder.close()
    for number, request in hd.items():
        reports[number] = _merged(reports[number], hd_reports[request.media_job_id], request, hls_dir.parent)
    yield {s.name: (reports[n], hls_dir / str(n)) for n, s in enumerate(SOURCES, start=1)}


def _submitted(transcoder: LocalFfmpegTranscoder, request: JobRequest) -> PendingJob:
    return PendingJob(request, transcoder.submit(request), JobStatus.SUBMITTED)


def _hd_request(fast: JobRequest) -> JobRequest:
    """The HD pass of the production whose fast pass `fast` made (a job of its own)."""
    job_id = 1000 + fast.media_job_id
    return dataclasses.replace(fast, media_job_id=job_id, idempotency_token=f"hd-{job_id}", pass_name=Pass.HD)


def _merged(fast: JobReport, hd: JobReport, request: JobRequest, root: Path) -> JobReport:
    """The HD pass's master merged into the fast pass's, in the ladder's order; the production's report."""
    assert fast.status is JobStatus.SUCCEEDED and hd.status is JobStatus.SUCCEEDED, (fast, hd)
    assert fast.master_playlist_uri and hd.master_playlist_uri
    probe = probe_video(request.input_path)
    rungs = choose_renditions(probe.width, probe.height)
    order = [(rungs[i].width, rungs[i].height) for i in master_order(rungs)]
    master = root / fast.master_playlist_uri
    passes = [PassMaster(master.read_text()), PassMaster((root / hd.master_playlist_uri).read_text())]
    master.write_text(merge_masters(passes, order))
    return dataclasses.replace(fast, renditions=fast.renditions + hd.renditions)
