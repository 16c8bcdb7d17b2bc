"""The local transcoder: one ffmpeg process per job encodes the whole HLS ladder under EXPORTS_DATA_DIR."""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import av
import m3u8

from exports_app.storage_faults import (
    STORAGE_FULL_CODE,
    STORAGE_FULL_MESSAGE,
    describe,
    is_storage_error,
    log_storage_fault,
    mentions_storage,
    write_fails,
)
from exports_app.text import one_line
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
from exports_app.transcode.hls_encode import build_ladder_command
from exports_app.transcode.hls_playlists import write_playlists
from exports_app.transcode.ladder import choose_renditions, frame_rate_text
from exports_app.transcode.probe import DEFAULT_MAX_DURATION_SECONDS, NotAVideoError, probe_video

log = logging.getLogger(__name__)

KEEP_FINISHED = 500  # finished jobs remembered for late polls; older ones are forgotten
STDERR_TAIL = 40
_BRACKET = re.compile(r"^\[[^\]]*\]\s*")
_MEANINGFUL = re.compile(r"error|invalid|no such|not found|unsupported|could not|failed|denied|corrupt", re.I)


def provider_job_id(media_job_id: int) -> str:
    return f"local-{media_job_id}"


def human_error(stderr_lines: Sequence[str], input_path: Path | None = None) -> str:
    """The most telling line of ffmpeg's stderr, without log prefixes or file paths, ≤ 200 chars."""
    cleaned = []
    for raw in stderr_lines:
        line = _BRACKET.sub("", raw.strip())
        if input_path is not None:
            line = line.replace(f"{input_path}: ", "").replace(str(input_path), "the input")
        line = re.sub(r"^Error opening input( files?)?:\s*", "", line)
        if line:
            cleaned.append(line)
    telling = [line for line in cleaned if _MEANINGFUL.search(line) and not line.startswith("Conversion failed")]
    chosen = telling[-1] if telling else (cleaned[-1] if cleaned else "ffmpeg failed without a message")
    chosen = one_line(chosen) or "ffmpeg failed without a message"
    return chosen[0].upper() + chosen[1:]


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

    # -- the protocol -------------------------------------------------------------------------------

    def submit(self, request: JobRequest) -> str:
        with self._cond:
            if self._closed:
                raise RuntimeError("the local transcoder is shut down")
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
        """A local submit only queues: nothing it raises gets better by waiting."""
        return False

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
                self._finish(known, JobStatus.CANCELED, "canceled", "The transcode was canceled.")
                return
            process = known.process
        if process is not None:
            _kill(process)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            processes = [j.process for j in self._jobs.values() if j.process is not None]
            self._queue.clear()
            self._cond.notify_all()
        for process in processes:
            _kill(process)
        for worker in self._workers:
            worker.join(timeout=10)

    # -- workers ------------------------------------------------------------------------------------

    def _start_workers(self) -> None:
        """Start worker threads lazily (never at import) up to the concurrency limit."""
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
                        self._finish(job, JobStatus.FAILED, STORAGE_FULL_CODE, STORAGE_FULL_MESSAGE)
                else:
                    log.exception("local transcode of media job %s crashed", job.request.media_job_id)
                    with self._cond:
                        self._finish(job, JobStatus.FAILED, "internal_error", f"The transcoder failed: {exc}")
            if self.wake is not None:
                self.wake()

    def _run(self, job: _Job) -> None:
        request = job.request
        if not request.input_path.is_file():
            with self._cond:
                self._finish(job, JobStatus.FAILED, "input_missing", "The export's video file is missing.")
            return
        try:
            probe = probe_video(request.input_path, max_duration_seconds=self.max_duration_seconds)
        except NotAVideoError as exc:
            with self._cond:
                self._finish(job, JobStatus.FAILED, "input_invalid", human_error([str(exc)], request.input_path))
            return
        rungs = choose_renditions(probe.width, probe.height)
        final_dir = self.hls_dir / str(request.production_id)
        work_dir = self.hls_dir / f"{request.production_id}.tmp-{request.media_job_id}"
        shutil.rmtree(work_dir, ignore_errors=True)
        for i in range(len(rungs)):
            (work_dir / f"v{i}").mkdir(parents=True, exist_ok=True)
        cmd = build_ladder_command(self.ffmpeg, request.input_path, work_dir, rungs, probe)
        duration = request.duration_seconds or probe.duration_seconds or 0.0
        rc, stderr = self._run_ffmpeg(job, cmd, duration)
        problem = _ladder_problem(work_dir) if rc == 0 else None
        rate = frame_rate_text(probe.frame_rate)
        bandwidths = [r.bandwidth for r in rungs]
        if rc == 0 and not problem:
            try:
                bandwidths = [v.bandwidth for v in write_playlists(work_dir, rungs, rate)]
            except (OSError, ValueError, av.error.FFmpegError) as exc:
                problem = f"The transcode's playlists could not be written ({type(exc).__name__})."
        out_of_space = (
            (rc != 0 or problem is not None)
            and not job.cancel_requested
            and self._out_of_space(request.media_job_id, work_dir, stderr)
        )
        with self._cond:
            if out_of_space:
                shutil.rmtree(work_dir, ignore_errors=True)
                self._finish(job, JobStatus.FAILED, STORAGE_FULL_CODE, STORAGE_FULL_MESSAGE)
                return
            if rc == 0 and problem:
                shutil.rmtree(work_dir, ignore_errors=True)
                self._finish(job, JobStatus.FAILED, "no_playable_output", problem)
                return
            if rc == 0 and not job.cancel_requested:
                shutil.rmtree(final_dir, ignore_errors=True)
                work_dir.rename(final_dir)
                output = f"{self.hls_dir.name}/{request.production_id}"
                job.master = f"{output}/master.m3u8"
                job.renditions = tuple(
                    Rendition(f"{output}/v{i}/index.m3u8", rung.height, bandwidth, rung.width, float(rate))
                    for i, (rung, bandwidth) in enumerate(zip(rungs, bandwidths, strict=True))
                )
                self._finish(job, JobStatus.SUCCEEDED, None, None)
                return
            shutil.rmtree(work_dir, ignore_errors=True)
            if job.cancel_requested:  # canceled, or stopped by the refresh tick's timeout
                self._finish(job, JobStatus.CANCELED, "canceled", "The transcode was canceled.")
            elif rc < 0:  # killed from outside (OOM killer, an operator): say so rather than quote stderr
                self._finish(
                    job,
                    JobStatus.FAILED,
                    f"ffmpeg_signal_{-rc}",
                    f"The transcode was interrupted (ffmpeg stopped by signal {-rc}). Retry available.",
                )
            else:
                self._finish(job, JobStatus.FAILED, f"ffmpeg_exit_{rc}", human_error(stderr, request.input_path))

    def _out_of_space(self, media_job_id: int, work_dir: Path, stderr: Sequence[str]) -> bool:
        """Whether a failed ladder is the disk's fault, not the input's (logged once for the operator if so).

        ffmpeg says so in its stderr only sometimes: its HLS muxer exits 0 without a word after segments
        failed to be written. So the work dir is also asked to take a small write itself.
        """
        refused = write_fails(work_dir) if work_dir.is_dir() else write_fails(self.hls_dir)
        if refused is None and not mentions_storage(stderr):
            return False
        what = describe(refused) if refused is not None else human_error(stderr)
        log_storage_fault(f"transcode of media job {media_job_id}: {what}", self.hls_dir)
        return True

    def _run_ffmpeg(self, job: _Job, cmd: list[str], duration: float) -> tuple[int, list[str]]:
        """Run ffmpeg, turning -progress lines into percent. Returns (rc, stderr tail).

        Stuck jobs are stopped by the refresh tick's one timeout (media_jobs.timed_out), which cancels them here.
        """
        process = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
        )  # its own process group: killed as a whole
        if self.nice:
            lower_priority(process.pid, self.nice)
        with self._cond:
            job.process, job.phase, job.reported_at = process, "TRANSCODING", utcnow()
            cancel_now = job.cancel_requested or self._closed
        if cancel_now:
            _kill(process)
        tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL)
        drain = threading.Thread(target=lambda: tail.extend(process.stderr or ()), daemon=True)  # never blocks
        drain.start()
        try:
            for line in process.stdout or ():
                key, _, value = line.strip().partition("=")
                if key in ("out_time_us", "out_time_ms") and value.isdigit() and duration > 0:
                    percent = min(99, int(int(value) / 1_000_000 / duration * 100))
                    with self._cond:
                        if percent > job.percent:
                            job.percent, job.reported_at = percent, utcnow()
            rc = process.wait()
        finally:
            drain.join(timeout=5)
            with self._cond:
                job.process = None
        return rc, list(tail)

    def _finish(self, job: _Job, status: JobStatus, code: str | None, message: str | None) -> None:
        """Record the terminal state (caller holds the lock) and forget the oldest finished jobs."""
        job.status, job.error_code, job.error_message = status, code, message
        job.phase = "COMPLETE" if status is JobStatus.SUCCEEDED else status.value.upper()
        if status is JobStatus.SUCCEEDED:
            job.percent = 100
        job.reported_at = utcnow()
        self._finished.append(job.request.media_job_id)
        while len(self._finished) > KEEP_FINISHED:
            old = self._finished.popleft()
            if self._jobs.get(old) is not None and self._jobs[old].status.terminal:
                del self._jobs[old]


def _ladder_problem(out_dir: Path) -> str | None:
    """Why the written ladder is not playable (ffmpeg can exit 0 on a still image), or None if it is."""
    try:
        master = m3u8.load(str(out_dir / "master.m3u8"))
        if not master.playlists:
            return "The input has no playable video (no HLS variant could be written)."
        for variant in master.playlists:
            playlist = m3u8.load(str(out_dir / variant.uri))
            if not playlist.segments or not playlist.is_endlist:
                return "The transcode wrote an incomplete HLS playlist."
    except (OSError, ValueError) as exc:
        return f"The transcode wrote no readable HLS master playlist ({type(exc).__name__})."
    return None


def _kill(process: subprocess.Popen[str]) -> None:
    """Kill ffmpeg and anything it started; ignore a process that already ended."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        log.warning("ffmpeg %s did not exit after SIGKILL", process.pid)


def ffmpeg_problem() -> str | None:
    """Why the bundled ffmpeg cannot run here, or None."""
    try:
        exe = bundled_ffmpeg()
    except Exception as exc:  # imageio-ffmpeg found no binary
        return f"local: no ffmpeg ({type(exc).__name__})"
    found = os.path.isfile(exe) and os.access(exe, os.X_OK) or shutil.which(exe) is not None
    return None if found else "local: ffmpeg is not executable"


def lower_priority(pid: int, nice: int) -> None:
    """Run a child (ffmpeg, in a session of its own) below the app: its threads and, where the kernel groups a
    session's tasks for scheduling (autogroup), its whole group. Without the group's nice, a session of its own
    competes with the app's session as an equal, whatever its threads' nice. Best effort: a platform without
    these files keeps the child's priority."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/autogroup").write_text(str(nice))
    try:
        threads = [int(tid) for tid in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        threads = [pid]
    for tid in threads:  # the ones ffmpeg starts later inherit the nice of the thread that starts them
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, tid, nice)
