"""Jobs handed to the local transcoder as the refresh tick hands them over, and polled (or ticked) until they end."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from exports_app.domain import JobStatus
from exports_app.jobs.refresh import tick
from exports_app.transcode.base import JobReport, JobRequest, PendingJob
from exports_app.transcode.local_ffmpeg import LocalFfmpegTranscoder
from exports_app.transcode.probe import probe_video


def wait_for(predicate: Callable[[], bool], timeout: float = 120.0) -> None:
    """Poll until the predicate holds; fail the test after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def request(path: Path, job_id: int = 1, production_id: int = 10, token: str = "tok") -> JobRequest:
    """A job for the file, with its duration and height where it probes (a broken file goes without them)."""
    try:
        probe = probe_video(path)
        duration, height = probe.duration_seconds, probe.height
    except Exception:
        duration, height = None, None
    return JobRequest(job_id, production_id, 5, f"{token}-{job_id}", path, duration, height)


def pending(req: JobRequest) -> PendingJob:
    """The job as the database hands it back to poll: submitted, under its local id."""
    return PendingJob(req, f"local-{req.media_job_id}", JobStatus.SUBMITTED)


def final_report(tc: LocalFfmpegTranscoder, req: JobRequest) -> JobReport:
    """Poll the job until it ends; its last report."""
    box: list[JobReport] = []

    def done() -> bool:
        box[:] = tc.poll([pending(req)])
        return box[0].status.terminal

    wait_for(done)
    return box[0]


def run_until_terminal(tc: LocalFfmpegTranscoder, timeout: float = 120) -> set[tuple[int, int]]:
    """Refresh ticks against tc until no job of the database is pending; the (member, upload) pairs they changed."""
    changed: set[tuple[int, int]] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = tick(tc, timeout_seconds=3600)
        changed |= result.changed
        if result.pending == 0:
            return changed
        time.sleep(0.1)
    raise AssertionError("jobs still pending")
