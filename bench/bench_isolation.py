"""Transcode isolation: the status API while a local transcode runs vs idle, and the transcode's own time.

One run, one machine: the status API (served as `make run` serves it: gunicorn, one uvicorn worker) under 8
concurrent clients, idle and while a local transcode of a 1080p clip runs; the transcode at the shipped priority
(EXPORTS_TRANSCODE_NICE=19) and, as the baseline, at the app's own (0). Figures: the API's p95 and throughput
while transcoding over idle, and the transcode's time with the web load over without it.
Knobs: BENCH_ISOLATION_CLIP_SECONDS (source length, 20), BENCH_SECONDS (idle load round, 8).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path

from bench.bench_status_api import Load, load, serve
from bench.common import ROOT, report
from bench.setup_db import fresh_data_dir
from bench.status_data import populate
from exports_app.config import Settings
from exports_app.domain import JobStatus
from exports_app.transcode.base import JobRequest, PendingJob
from exports_app.transcode.clips import make_clip
from exports_app.transcode.local_ffmpeg import LocalFfmpegTranscoder
from exports_app.transcode.probe import probe_video
from tests.support.ports import free_port

CLIENTS = 8
CLIP_SECONDS = float(os.environ.get("BENCH_ISOLATION_CLIP_SECONDS", "20"))
IDLE_SECONDS = float(os.environ.get("BENCH_SECONDS", "8"))
SHIPPED_NICE = Settings.model_fields["transcode_nice"].default


class Transcode(threading.Thread):
    """One local transcode of `clip` at priority `nice`, timed from submit to the end of the ladder."""

    def __init__(self, clip: Path, out: Path, nice: int, job: int) -> None:
        super().__init__(daemon=True)
        self.clip, self.out, self.nice, self.job = clip, out, nice, job
        self.seconds = 0.0

    def run(self) -> None:
        transcoder = LocalFfmpegTranscoder(self.out, nice=self.nice)
        probe = probe_video(self.clip)
        request = JobRequest(
            self.job, self.job, 1, f"bench-{self.job}", self.clip, probe.duration_seconds, probe.height
        )
        started = time.perf_counter()
        pending = PendingJob(request, transcoder.submit(request), JobStatus.SUBMITTED)
        while not (status := transcoder.poll([pending])[0].status).terminal:
            time.sleep(0.05)
        self.seconds = time.perf_counter() - started
        transcoder.close()
        assert status is JobStatus.SUCCEEDED, status


def transcode(clip: Path, out: Path, nice: int, job: int) -> float:
    """The transcode's time with nothing else running."""
    alone = Transcode(clip, out / f"alone-{job}", nice, job)
    alone.start()
    alone.join()
    return alone.seconds


def under_transcode(
    url: str, ids: list[int], token: str, clip: Path, out: Path, nice: int, job: int
) -> tuple[Load, float]:
    """The status API under the same load round as idle, while a transcode runs; and the transcode's time."""
    busy = Transcode(clip, out / f"busy-{job}", nice, job)
    busy.start()
    time.sleep(1.0)  # ffmpeg has started and is encoding
    during = asyncio.run(load(url, ids, token, clients=CLIENTS, seconds=IDLE_SECONDS))
    transcoding = busy.is_alive()
    busy.join()
    assert transcoding, "the transcode ended before the load round: make BENCH_ISOLATION_CLIP_SECONDS longer"
    return during, busy.seconds


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-isolation-"))
    data_dir = fresh_data_dir("bench-isolation-")
    port = free_port()
    server = None
    try:
        clip = make_clip(work / "src.mp4", seconds=CLIP_SECONDS, width=1920, height=1080, preset="ultrafast")
        ids, token = populate(200, 40)
        server = serve("bench.status_apps:ours", port, {**os.environ, "PYTHONPATH": str(ROOT)})
        url = f"http://127.0.0.1:{port}"
        asyncio.run(load(url, ids, token, clients=CLIENTS, seconds=2.0))  # warm up
        idle = asyncio.run(load(url, ids, token, clients=CLIENTS, seconds=IDLE_SECONDS))
        alone = {nice: transcode(clip, work, nice, job) for job, nice in enumerate((0, SHIPPED_NICE), start=1)}
        busy = {
            nice: under_transcode(url, ids, token, clip, work, nice, job)
            for job, nice in enumerate((0, SHIPPED_NICE), start=10)
        }
        figures: dict[str, object] = {
            "idle": f"{idle.rps:.0f} req/s, p95 {idle.p95_ms:.1f} ms",
        }
        for nice, (during, seconds) in busy.items():
            figures[f"while_transcoding_nice_{nice}"] = f"{during.rps:.0f} req/s, p95 {during.p95_ms:.1f} ms"
            figures[f"ratio_p95_transcoding_vs_idle_nice_{nice}"] = during.p95_ms / idle.p95_ms
            figures[f"ratio_rps_transcoding_vs_idle_nice_{nice}"] = during.rps / idle.rps
            figures[f"transcode_s_alone_nice_{nice}"] = alone[nice]
            figures[f"ratio_transcode_with_load_vs_alone_nice_{nice}"] = seconds / alone[nice]
        figures["ratio_transcode_alone_shipped_vs_nice_0"] = alone[SHIPPED_NICE] / alone[0]
        report(f"Transcode isolation ({CLIP_SECONDS:.0f} s 1080p source, {CLIENTS} status clients)", **figures)
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=20)
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
