"""An ffmpeg's life: bound to the thread that started it (it dies with it), written down beside its output, and
ended by the next run when an earlier one left it behind, but only if the pid file names that very process."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from exports_app.bound_child import PARENT_GONE
from exports_app.transcode import ffmpeg_run, pid_files
from exports_app.transcode.ffmpeg import ffmpeg_exe
from exports_app.transcode.local_ffmpeg import LocalFfmpegTranscoder
from tests.support.local_jobs import wait_for
from tests.support.media import ffmpeg_processes


def long_ffmpeg(output_dir: Path) -> list[str]:
    """An ffmpeg writing into output_dir for ten minutes (in real time: it costs next to no CPU)."""
    output_dir.mkdir(parents=True, exist_ok=True)
    source = "testsrc=size=32x32:rate=5:duration=600"
    return [ffmpeg_exe(), "-v", "error", "-re", "-f", "lavfi", "-i", source, "-y", str(output_dir / "out.ts")]


def is_ffmpeg(pid: int) -> bool:
    """Whether pid runs ffmpeg by now (bound_child exec'd it: the binding is in place)."""
    return pid in dict(ffmpeg_processes())


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts: killed and waited for at its end, whatever happened."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        process.kill()
        process.wait(timeout=10)


def sleeper(processes: list[subprocess.Popen[bytes]], names: Path) -> subprocess.Popen[bytes]:
    """A live process whose command line names a folder, as an ffmpeg writing into it does."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", str(names)])
    processes.append(process)
    return process


def test_ffmpeg_dies_with_the_thread_that_started_it(tmp_path: Path) -> None:
    """PR_SET_PDEATHSIG is tied to the starting thread (prctl(2)): the pool's worker threads wait for their ffmpeg,
    so a worker's end can only be the process's, and its ffmpeg goes with it; here, the thread alone ends."""
    started: list[subprocess.Popen[str]] = []
    release = threading.Event()

    def worker() -> None:
        started.append(ffmpeg_run.start(long_ffmpeg(tmp_path / "out"), nice=0, output_dir=tmp_path / "out"))
        release.wait()

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        wait_for(lambda: bool(started) and is_ffmpeg(started[0].pid), timeout=30)
        assert (tmp_path / "out" / pid_files.PID_FILE).is_file()
        release.set()
        thread.join()
        assert started[0].wait(timeout=30) == -signal.SIGKILL
    finally:
        release.set()
        if started:  # ended whatever happened
            started[0].kill()
            started[0].wait(timeout=10)


def test_a_child_whose_app_already_ended_does_not_start_ffmpeg(tmp_path: Path) -> None:
    """The app may die between the fork and the binding: the child then has another parent, and ends."""
    marker = tmp_path / "ran"
    child = [sys.executable, "-I", "-S", str(ffmpeg_run.BOUND_CHILD), "1", "0", "/usr/bin/touch", str(marker)]
    assert subprocess.run(child, check=False, timeout=30).returncode == PARENT_GONE
    assert not marker.exists()


def test_the_next_run_ends_an_ffmpeg_an_earlier_one_left_writing(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    """An ffmpeg of an earlier run (an older release's, unbound) still writing a job's work dir: the transcoder the
    leader builds before it resumes anything ends it and waits for it."""
    hls_dir = tmp_path / "hls"
    work_dir = hls_dir / "10.tmp-1"
    left = subprocess.Popen(long_ffmpeg(work_dir), stdin=subprocess.DEVNULL)
    processes.append(left)
    wait_for(lambda: is_ffmpeg(left.pid), timeout=30)
    pid_files.record(work_dir, left.pid)
    LocalFfmpegTranscoder(hls_dir).close()
    assert left.poll() == -signal.SIGKILL  # already ended and reaped: the finder waited for its end
    assert not (work_dir / pid_files.PID_FILE).exists()


def test_a_pid_file_of_another_process_touches_nothing(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    hls_dir = tmp_path / "hls"
    ended, reused, rebooted, elsewhere = folders = [hls_dir / f"{n}.tmp-{n}" for n in range(1, 5)]
    for folder in folders:
        folder.mkdir(parents=True)
    gone = sleeper(processes, ended)
    pid_files.record(ended, gone.pid)
    gone.kill()
    gone.wait()  # its pid is free: another process may get it
    alive = sleeper(processes, reused)
    me = pid_files.identify(alive.pid)
    assert me is not None
    # The pid of a live process of this run, written down with another start time: a reused pid.
    (reused / pid_files.PID_FILE).write_text(pid_files.ProcessId(me.boot, me.pid, me.started + 1).line())
    # The same pid and start time, but from another boot (or another host sharing the data dir).
    (rebooted / pid_files.PID_FILE).write_text(pid_files.ProcessId("another-boot", me.pid, me.started).line())
    # Its exact identity in the pid file of a folder its command line does not name.
    pid_files.record(elsewhere, alive.pid)
    (hls_dir / "half-written.tmp-5").mkdir()
    (hls_dir / "half-written.tmp-5" / pid_files.PID_FILE).write_text("a run that died as it wro")
    assert pid_files.end_left_behind(hls_dir) == []
    assert alive.poll() is None, "the live process was left alone"
    assert not list(hls_dir.glob(f"*/{pid_files.PID_FILE}")), "the files that named no process of theirs are gone"
