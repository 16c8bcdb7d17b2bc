"""One ffmpeg run of the local transcoder: started bound to the app, watched for progress, stopped, and its end told.

The pool that queues jobs and runs them on its workers is local_ffmpeg.py; this module knows one process: how it
is started (bound_child.py: it dies with the app, below the app's priority; its pid file, pid_files.py), how its
`-progress` lines become a percent, how it is killed, and what its end means for the job, in a member's words.
"""

from __future__ import annotations

import collections
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import m3u8

from exports_app.storage_faults import (
    STORAGE_FULL_CODE,
    STORAGE_FULL_MESSAGE,
    describe,
    log_storage_fault,
    mentions_storage,
    write_fails,
)
from exports_app.text import one_line
from exports_app.transcode import pid_files
from exports_app.transcode.base import JobStatus
from exports_app.transcode.ffmpeg import ffmpeg_exe as bundled_ffmpeg

log = logging.getLogger(__name__)

STDERR_TAIL = 40
BOUND_CHILD = Path(__file__).parents[1] / "bound_child.py"
_BRACKET = re.compile(r"^\[[^\]]*\]\s*")
_MEANINGFUL = re.compile(r"error|invalid|no such|not found|unsupported|could not|failed|denied|corrupt", re.I)


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


def start(cmd: list[str], *, nice: int, output_dir: Path) -> subprocess.Popen[str]:
    """ffmpeg (cmd) writing into output_dir, written down in its pid file there.

    In a session of its own, so it is killed as a whole and its scheduling group gets the nice; bound to die with
    the thread that calls this (bound_child.py), which must be the one that then watches it.
    """
    process = subprocess.Popen(
        [sys.executable, "-I", "-S", str(BOUND_CHILD), str(os.getpid()), str(nice), *cmd],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        pid_files.record(output_dir, process.pid)
    except BaseException:  # e.g. no room for the pid file: no ffmpeg runs unrecorded
        stop(process)
        raise
    return process


def watch(process: subprocess.Popen[str], duration: float, progressed: Callable[[int], None]) -> tuple[int, list[str]]:
    """Read ffmpeg's `-progress` lines as percents (to progressed) until it ends: (exit code, the tail of stderr).

    Should anything here fail, ffmpeg is stopped first: none outlives its watcher.
    """
    tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL)
    drain = threading.Thread(target=lambda: tail.extend(process.stderr or ()), daemon=True)  # never blocks
    drain.start()
    try:
        for line in process.stdout or ():
            key, _, value = line.strip().partition("=")
            if key in ("out_time_us", "out_time_ms") and value.isdigit() and duration > 0:
                progressed(min(99, int(int(value) / 1_000_000 / duration * 100)))
        rc = process.wait()
    except BaseException:
        stop(process)
        raise
    finally:
        drain.join(timeout=5)
    return rc, list(tail)


def stop(process: subprocess.Popen[str]) -> None:
    """Kill ffmpeg and anything it started, and wait for it; ignore a process that already ended."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        log.warning("ffmpeg %s did not exit after SIGKILL", process.pid)


def pause(process: subprocess.Popen[str], paused: bool) -> None:
    """Stop ffmpeg where it is (SIGSTOP), or let it go on (SIGCONT); a stopped ffmpeg can still be killed."""
    try:
        os.killpg(process.pid, signal.SIGSTOP if paused else signal.SIGCONT)
    except (ProcessLookupError, PermissionError):
        pass


def ladder_problem(out_dir: Path) -> str | None:
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


def out_of_space(what: str, work_dir: Path, hls_dir: Path, stderr: Sequence[str]) -> bool:
    """Whether a failed ladder is the disk's fault, not the input's (logged once for the operator if so).

    ffmpeg says so in its stderr only sometimes: its HLS muxer exits 0 without a word after segments
    failed to be written. So the work dir is also asked to take a small write itself.
    """
    refused = write_fails(work_dir) if work_dir.is_dir() else write_fails(hls_dir)
    if refused is None and not mentions_storage(stderr):
        return False
    told = describe(refused) if refused is not None else human_error(stderr)
    log_storage_fault(f"{what}: {told}", hls_dir)
    return True


@dataclass(frozen=True)
class Ending:
    """How a job ended: its terminal status, and for a failure its code and the member's words."""

    status: JobStatus
    code: str | None = None
    message: str | None = None


SUCCEEDED = Ending(JobStatus.SUCCEEDED)
CANCELED = Ending(JobStatus.CANCELED, JobStatus.CANCELED.value, "The transcode was canceled.")
OUT_OF_SPACE = Ending(JobStatus.FAILED, STORAGE_FULL_CODE, STORAGE_FULL_MESSAGE)


def ending(rc: int, stderr: Sequence[str], *, problem: str | None, canceled: bool, input_path: Path) -> Ending:
    """What a ladder's run means for its job, once the disk is ruled out (out_of_space): the written ladder's
    problem, else a cancel, else the signal that stopped ffmpeg, else its most telling line."""
    if rc == 0 and problem:
        return Ending(JobStatus.FAILED, "no_playable_output", problem)
    if rc == 0 and not canceled:
        return SUCCEEDED
    if canceled:  # canceled, or stopped by the refresh tick's timeout
        return CANCELED
    if rc < 0:  # killed from outside (OOM killer, an operator): say so rather than quote stderr
        return Ending(
            JobStatus.FAILED,
            f"ffmpeg_signal_{-rc}",
            f"The transcode was interrupted (ffmpeg stopped by signal {-rc}). Retry available.",
        )
    return Ending(JobStatus.FAILED, f"ffmpeg_exit_{rc}", human_error(stderr, input_path))


def ffmpeg_problem() -> str | None:
    """Why the bundled ffmpeg cannot run here, or None."""
    try:
        exe = bundled_ffmpeg()
    except Exception as exc:  # imageio-ffmpeg found no binary
        return f"local: no ffmpeg ({type(exc).__name__})"
    found = os.path.isfile(exe) and os.access(exe, os.X_OK) or shutil.which(exe) is not None
    return None if found else "local: ffmpeg is not executable"
