"""The local transcoder's pool: jobs queued (each member's in turn) and run by worker threads, one ffmpeg each.

Each job's ffmpeg encodes the whole HLS ladder under EXPORTS_DATA_DIR; running, watching and judging that one
process is ffmpeg_run.py's. The pool owns the jobs' states, the work dirs and their promotion to the final folder.
"""

from __future__ import annotations

import collections
import logging
import shutil
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import av

from exports_app.storage_faults import describe, is_storage_error, log_storage_fault
from exports_app.transcode import ffmpeg_run, pid_files
from exports_app.transcode.base import (
    JobReport,
    JobRequest,
    JobStatus,
    PendingJob,
    Rendition,
    WakeHook,
    utcnow,
)
from exports_app.transcode.fair_queue import FairQueue
from exports_app.transcode.ffmpeg import ffmpeg_exe as bundled_ffmpeg
from exports_app.transcode.ffmpeg_run import Ending, human_error
from exports_app.transcode.hls_encode import build_ladder_command
from exports_app.transcode.hls_playlists import write_playlists
from exports_app.transcode.ladder import choose_renditions, frame_rate_text
from exports_app.transcode.probe import DEFAULT_MAX_DURATION_SECONDS, NotAVideoError, probe_video

log = logging.getLogger(__name__)

KEEP_FINISHED = 500  # finished jobs remembered for late polls; older ones are forgotten


def provider_job_id(media_job_id: int) -> str:
    return f"local-{media_job_id}"


@dataclass
class _Job:
    request: JobRequest
    status: JobStatus = JobStatus.SUBMITTED
    percent: int = 0
    phase: str = "QUEUED"
    error_code: str | None = None
    error_message: str | None = None
    master: str | None = None
    renditions: tuple[Rendition, ...] = ()
    process: subprocess.Popen[str] | None = None
    cancel_requested: bool = False
    reported_at: datetime = field(default_factory=utcnow)

    def report(self) -> JobReport:
        return JobReport(
            media_job_id=self.request.media_job_id,
            status=self.status,
            percent=self.percent,
            phase=self.phase,
            error_code=self.error_code,
            error_message=self.error_message,
            master_playlist_uri=self.master,
            renditions=self.renditions,
            provider_job_id=provider_job_id(self.request.media_job_id),
            reported_at=self.reported_at,
        )


class ShutDown(RuntimeError):
    """A submit to a pool that is shutting down."""


class LocalFfmpegTranscoder:
    """Queues jobs (each member's in turn, see FairQueue) and runs at most `concurrency` ffmpeg processes.

    Thread-safe.
    """

    name = "local"

    def __init__(
        self,
        hls_dir: Path,
        *,
        concurrency: int = 1,
        wake: WakeHook | None = None,
        ffmpeg_exe: str | None = None,
        max_duration_seconds: float = DEFAULT_MAX_DURATION_SECONDS,
        nice: int = 0,
    ) -> None:
        self.hls_dir = hls_dir
        self.nice = nice
        self.max_duration_seconds = max_duration_seconds
        self.concurrency = max(1, concurrency)
        self.wake = wake
        self.ffmpeg = ffmpeg_exe or bundled_ffmpeg()
        self._jobs: dict[int, _Job] = {}
        self._finished: collections.deque[int] = collections.deque()
        self._queue = FairQueue()
        self._cond = threading.Condition()
        self._workers: list[threading.Thread] = []
        self._closed = False
        # Built by the leader before its first tick, so before any job is resumed: whatever ffmpeg an earlier run
        # left writing (each job's own is checked again as it starts, see _run) has ended.
        pid_files.end_left_behind(hls_dir)

    # -- the protocol -------------------------------------------------------------------------------

    def submit(self, request: JobRequest) -> str:
        with self._cond:
            if self._closed:
                raise ShutDown("the local transcoder is shut down")
            known = self._jobs.get(request.media_job_id)
            if known is None or known.request.idempotency_token != request.idempotency_token:
                self._jobs[request.media_job_id] = _Job(request)
                self._queue.append(request.owner_id, request.media_job_id)
                self._start_workers()
                self._cond.notify()
        return provider_job_id(request.media_job_id)

    def poll(self, jobs: Sequence[PendingJob]) -> list[JobReport]:
        reports = []
        for pending in jobs:
            with self._cond:
                job = self._jobs.get(pending.request.media_job_id)
                if job is None and self._closed:  # shutting down: the next leader resumes it
                    continue
            if job is None:
                # Pending in the database but unknown here: the app restarted mid-job. Start it over.
                log.info("resuming media job %s after a restart", pending.request.media_job_id)
                self.submit(pending.request)
                with self._cond:
                    job = self._jobs[pending.request.media_job_id]
            with self._cond:
                reports.append(job.report())
        return reports

    def receive_events(self) -> list[JobReport]:
        """Nothing is pushed: ffmpeg's exit wakes the tick, which polls."""
        return []

    def is_transient(self, exc: Exception) -> bool:
        """A local submit only queues: nothing it raises gets better by waiting, except a shutdown (the job
        stays queued for the next leader)."""
        return isinstance(exc, ShutDown)

    def open_output(self, uri: str) -> bytes:
        """An output by its key ("hls/<production>/…", under the folder that holds the HLS folder)."""
        root = self.hls_dir.resolve()
        path = (root.parent / uri).resolve()
        if "\x00" in uri or root not in path.parents:
            raise FileNotFoundError(uri)
        return path.read_bytes()

    def cancel(self, job: PendingJob) -> None:
        with self._cond:
            known = self._jobs.get(job.request.media_job_id)
            if known is None or known.status.terminal:
                return
            known.cancel_requested = True
            if self._queue.remove(job.request.media_job_id):
                self._finish(known, ffmpeg_run.CANCELED)
                return
            process = known.process
        if process is not None:
            ffmpeg_run.stop(process)

    def close(self) -> None:
        """Stop every ffmpeg and wait for it (on the app's shutdown). The jobs they ran are not failed: they stay
        pending in the database, and the next leader (this app started again, or another host) starts them over."""
        with self._cond:
            self._closed = True
            processes = [j.process for j in self._jobs.values() if j.process is not None]
            self._queue.clear()
            self._cond.notify_all()
        for process in processes:
            ffmpeg_run.stop(process)
        for worker in self._workers:
            worker.join(timeout=10)

    # -- workers ------------------------------------------------------------------------------------

    def _start_workers(self) -> None:
        """Start worker threads lazily (never at import) up to the concurrency limit.

        A worker starts each ffmpeg and waits for it in the same thread: ffmpeg dies when the thread that started
        it ends (bound_child.py), and a worker's thread ends only after its ffmpeg has, or with the process.
        """
        while len(self._workers) < self.concurrency:
            worker = threading.Thread(target=self._work, name=f"ffmpeg-worker-{len(self._workers)}", daemon=True)
            self._workers.append(worker)
            worker.start()

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                job = self._jobs[self._queue.pop()]
                job.status, job.phase, job.reported_at = JobStatus.RUNNING, "PROBING", utcnow()
            try:
                self._run(job)
            except Exception as exc:  # a bug here must fail the job, never kill the worker
                if is_storage_error(exc):  # e.g. the work dir could not be made: the disk, not the input
                    log_storage_fault(describe(exc), self.hls_dir)
                    with self._cond:
                        self._finish(job, ffmpeg_run.OUT_OF_SPACE)
                else:
                    log.exception("local transcode of media job %s crashed", job.request.media_job_id)
                    with self._cond:
                        self._finish(job, Ending(JobStatus.FAILED, "internal_error", f"The transcoder failed: {exc}"))
            if self.wake is not None:
                self.wake()

    def _run(self, job: _Job) -> None:
        request = job.request
        if not request.input_path.is_file():
            with self._cond:
                self._finish(job, Ending(JobStatus.FAILED, "input_missing", "The export's video file is missing."))
            return
        try:
            probe = probe_video(request.input_path, max_duration_seconds=self.max_duration_seconds)
        except NotAVideoError as exc:
            with self._cond:
                message = human_error([str(exc)], request.input_path)
                self._finish(job, Ending(JobStatus.FAILED, "input_invalid", message))
            return
        rungs = choose_renditions(probe.width, probe.height)
        final_dir = self.hls_dir / str(request.production_id)
        work_dir = self.hls_dir / f"{request.production_id}.tmp-{request.media_job_id}"
        pid_files.end_recorded(work_dir)  # never two encoders in one folder: an earlier run's goes first
        shutil.rmtree(work_dir, ignore_errors=True)
        cmd = build_ladder_command(self.ffmpeg, request.input_path, work_dir, rungs, probe)
        duration = request.duration_seconds or probe.duration_seconds or 0.0
        try:
            for i in range(len(rungs)):
                (work_dir / f"v{i}").mkdir(parents=True, exist_ok=True)
            rc, stderr = self._run_ffmpeg(job, cmd, duration, work_dir)
        except BaseException:  # e.g. no room for the folders or the pid file: the job fails (_work), tidily
            shutil.rmtree(work_dir, ignore_errors=True)
            raise
        problem = ffmpeg_run.ladder_problem(work_dir) if rc == 0 else None
        rate = frame_rate_text(probe.frame_rate)
        bandwidths = [r.bandwidth for r in rungs]
        if rc == 0 and not problem:
            try:
                bandwidths = [v.bandwidth for v in write_playlists(work_dir, rungs, rate)]
            except (OSError, ValueError, av.error.FFmpegError) as exc:
                problem = f"The transcode's playlists could not be written ({type(exc).__name__})."
        failed = rc != 0 or problem is not None
        if failed and not job.cancel_requested and self._closed:  # stopped by close(): resumed by the next leader
            shutil.rmtree(work_dir, ignore_errors=True)
            return
        what = f"transcode of media job {request.media_job_id}"
        if failed and not job.cancel_requested and ffmpeg_run.out_of_space(what, work_dir, self.hls_dir, stderr):
            ending = ffmpeg_run.OUT_OF_SPACE
        else:
            ending = ffmpeg_run.ending(
                rc, stderr, problem=problem, canceled=job.cancel_requested, input_path=request.input_path
            )
        with self._cond:
            if ending is not ffmpeg_run.SUCCEEDED:
                shutil.rmtree(work_dir, ignore_errors=True)
                self._finish(job, ending)
                return
            shutil.rmtree(final_dir, ignore_errors=True)
            work_dir.rename(final_dir)
            output = f"{self.hls_dir.name}/{request.production_id}"
            job.master = f"{output}/master.m3u8"
            job.renditions = tuple(
                Rendition(f"{output}/v{i}/index.m3u8", rung.height, bandwidth, rung.width, float(rate))
                for i, (rung, bandwidth) in enumerate(zip(rungs, bandwidths, strict=True))
            )
            self._finish(job, ending)

    def _run_ffmpeg(self, job: _Job, cmd: list[str], duration: float, work_dir: Path) -> tuple[int, list[str]]:
        """Run ffmpeg into work_dir, its progress kept as the job's percent. Returns (rc, stderr tail).

        Stuck jobs are stopped by the refresh tick's one timeout (media_jobs.timed_out), which cancels them here.
        """
        process = ffmpeg_run.start(cmd, nice=self.nice, output_dir=work_dir)
        with self._cond:
            job.process, job.phase, job.reported_at = process, "TRANSCODING", utcnow()
            cancel_now = job.cancel_requested or self._closed
        if cancel_now:
            ffmpeg_run.stop(process)

        def progressed(percent: int) -> None:
            with self._cond:
                if percent > job.percent:
                    job.percent, job.reported_at = percent, utcnow()

        try:
            return ffmpeg_run.watch(process, duration, progressed)
        finally:
            with self._cond:
                job.process = None
            pid_files.forget(work_dir)

    def _finish(self, job: _Job, ending: Ending) -> None:
        """Record the terminal state (caller holds the lock) and forget the oldest finished jobs."""
        job.status, job.error_code, job.error_message = ending.status, ending.code, ending.message
        job.phase = "COMPLETE" if ending.status is JobStatus.SUCCEEDED else ending.status.value.upper()
        if ending.status is JobStatus.SUCCEEDED:
            job.percent = 100
        job.reported_at = utcnow()
        self._finished.append(job.request.media_job_id)
        while len(self._finished) > KEEP_FINISHED:
            old = self._finished.popleft()
            if self._jobs.get(old) is not None and self._jobs[old].status.terminal:
                del self._jobs[old]
