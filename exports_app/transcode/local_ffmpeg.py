"""The local transcoder's pool: jobs queued (each member's in turn) and run by worker threads, one ffmpeg each.

Each job's ffmpeg encodes its rungs of the HLS ladder under EXPORTS_DATA_DIR (the whole ladder, or one pass of two:
ladder.pass_rungs); running, watching and judging that one process is ffmpeg_run.py's. The pool owns the jobs'
states, the work dirs and their promotion to the production's folder.

Two lanes: whole ladders and fast passes in one, HD passes in the other, each with its own fair line and workers.
An HD pass's ffmpeg is paused (SIGSTOP) while any job of the first lane encodes, so no member's fast pass waits for
anyone's HD pass, and an idle machine still gives the HD pass every core.
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
    Pass,
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
from exports_app.transcode.ladder import choose_renditions, frame_rate_text, pass_rungs
from exports_app.transcode.probe import DEFAULT_MAX_DURATION_SECONDS, NotAVideoError, probe_video

log = logging.getLogger(__name__)

KEEP_FINISHED = 500  # finished jobs remembered for late polls; older ones are forgotten
MASTER = "master.m3u8"
HD_MASTER = "master_hd.m3u8"  # the HD pass's own master, beside the production's (which merges both passes)


def is_hd(request: JobRequest) -> bool:
    """Whether a job runs in the HD lane (paused while the other lane encodes)."""
    return request.pass_name is Pass.HD


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
    production_master: str | None = None
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
            production_master_uri=self.production_master,
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
    hd_after_fast = True

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
        self._queues = {False: FairQueue(), True: FairQueue()}  # by is_hd
        self._cond = threading.Condition()
        self._workers: list[threading.Thread] = []
        self._encoding_first_lane = 0  # jobs of the first lane with an ffmpeg running: HD passes wait while > 0
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
                self._queues[is_hd(request)].append(request.owner_id, request.media_job_id)
                self._start_workers()
                # Every worker: both lanes wait on the one condition, and a lone notify could wake the other lane's
                # worker, which finds its own line empty and waits on, leaving this job queued with no one to run it.
                self._cond.notify_all()
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
            if self._queues[is_hd(known.request)].remove(job.request.media_job_id):
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
            for queue in self._queues.values():
                queue.clear()
            self._cond.notify_all()
        for process in processes:
            ffmpeg_run.stop(process)
        for worker in self._workers:
            worker.join(timeout=10)

    # -- workers ------------------------------------------------------------------------------------

    def _start_workers(self) -> None:
        """Start worker threads lazily (never at import) up to the concurrency limit, in each lane.

        A worker starts each ffmpeg and waits for it in the same thread: ffmpeg dies when the thread that started
        it ends (bound_child.py), and a worker's thread ends only after its ffmpeg has, or with the process.
        """
        while len(self._workers) < 2 * self.concurrency:
            hd = len(self._workers) % 2 == 1
            name = f"ffmpeg-{'hd' if hd else 'worker'}-{len(self._workers) // 2}"
            worker = threading.Thread(target=self._work, args=(hd,), name=name, daemon=True)
            self._workers.append(worker)
            worker.start()

    def _work(self, hd: bool) -> None:
        queue = self._queues[hd]
        while True:
            with self._cond:
                while not queue and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                job = self._jobs[queue.pop()]
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
        rungs = pass_rungs(choose_renditions(probe.width, probe.height), request.pass_name)
        if not rungs:  # an HD pass for a source the probe finds too small for HD rungs: nothing to add
            with self._cond:
                self._finish(job, Ending(JobStatus.FAILED, "no_hd_rungs", "The video has no HD size to add."))
            return
        final_dir = self.hls_dir / str(request.production_id)
        work_dir = self.hls_dir / f"{request.production_id}.tmp-{request.media_job_id}"
        pid_files.end_recorded(work_dir)  # never two encoders in one folder: an earlier run's goes first
        shutil.rmtree(work_dir, ignore_errors=True)
        names = [f"v{i}" for i, _ in rungs]
        cmd = build_ladder_command(
            self.ffmpeg, request.input_path, work_dir, [rung for _, rung in rungs], probe, names=names
        )
        duration = request.duration_seconds or probe.duration_seconds or 0.0
        try:
            for name in names:
                (work_dir / name).mkdir(parents=True, exist_ok=True)
            rc, stderr = self._run_ffmpeg(job, cmd, duration, work_dir)
        except BaseException:  # e.g. no room for the folders or the pid file: the job fails (_work), tidily
            shutil.rmtree(work_dir, ignore_errors=True)
            raise
        problem = ffmpeg_run.ladder_problem(work_dir) if rc == 0 else None
        rate = frame_rate_text(probe.frame_rate)
        bandwidths = [r.bandwidth for _, r in rungs]
        if rc == 0 and not problem:
            try:
                bandwidths = [v.bandwidth for v in write_playlists(work_dir, rungs, rate)]
            except (OSError, ValueError, av.error.FFmpegError) as exc:
                problem = f"The transcode's playlists could not be written ({type(exc).__name__})."
        if rc == 0 and not problem and is_hd(request) and not (final_dir / MASTER).is_file():
            problem = "The HD renditions have no production to join (its fast pass's output is gone)."
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
            master = self._promote(request, work_dir, final_dir, names)
            output = f"{self.hls_dir.name}/{request.production_id}"
            job.master = f"{output}/{master}"
            job.production_master = f"{output}/{MASTER}" if request.pass_name is not Pass.FULL else None
            job.renditions = tuple(
                Rendition(f"{output}/v{i}/index.m3u8", rung.height, bandwidth, rung.width, float(rate))
                for (i, rung), bandwidth in zip(rungs, bandwidths, strict=True)
            )
            self._finish(job, ending)

    @staticmethod
    def _promote(request: JobRequest, work_dir: Path, final_dir: Path, names: list[str]) -> str:
        """Move a finished job's output into the production's folder; returns its master's name there.

        A whole ladder or a fast pass becomes the folder (its master is the production's). An HD pass adds its
        variants beside the fast pass's, under names the master does not list yet, and its own master beside the
        production's: the refresh tick merges the two (services/pass_outputs.py), so no player sees a variant before
        it is whole.
        """
        if not is_hd(request):
            shutil.rmtree(final_dir, ignore_errors=True)
            work_dir.rename(final_dir)
            return MASTER
        for name in names:
            shutil.rmtree(final_dir / name, ignore_errors=True)
            (work_dir / name).rename(final_dir / name)
        (work_dir / MASTER).replace(final_dir / HD_MASTER)
        shutil.rmtree(work_dir, ignore_errors=True)
        return HD_MASTER

    def _run_ffmpeg(self, job: _Job, cmd: list[str], duration: float, work_dir: Path) -> tuple[int, list[str]]:
        """Run ffmpeg into work_dir, its progress kept as the job's percent. Returns (rc, stderr tail).

        Stuck jobs are stopped by the refresh tick's one timeout (media_jobs.timed_out), which cancels them here.
        """
        process = ffmpeg_run.start(cmd, nice=self.nice, output_dir=work_dir)
        hd = is_hd(job.request)
        with self._cond:
            job.process, job.phase, job.reported_at = process, "TRANSCODING", utcnow()
            cancel_now = job.cancel_requested or self._closed
            if not hd:
                self._encoding_first_lane += 1
            self._pause_hd_passes()
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
                if not hd:
                    self._encoding_first_lane -= 1
                    self._pause_hd_passes()
            pid_files.forget(work_dir)

    def _pause_hd_passes(self) -> None:
        """HD passes' ffmpeg stopped while the first lane encodes, and going on once it does not (lock held)."""
        for job in self._jobs.values():
            if job.process is not None and is_hd(job.request):
                ffmpeg_run.pause(job.process, self._encoding_first_lane > 0)

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
