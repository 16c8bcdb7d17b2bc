"""What lets `make test` run its pytest processes side by side: a test that watches ffmpeg sees only its own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from exports_app.transcode.ffmpeg import ffmpeg_exe
from tests.support.media import running_ladder_pids

# Starts the command in a session of its own and exits at once, so the process is nobody's child here: as one
# that another pytest process started, or an app that another test started.
START_ELSEWHERE = """
import subprocess, sys
print(subprocess.Popen(sys.argv[1:], start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL).pid)
"""


def ladder_command(out: Path) -> list[str]:
    """An ffmpeg writing an HLS ladder (master.m3u8) in real time for a minute."""
    return [
        ffmpeg_exe(),
        "-v",
        "error",
        "-y",
        "-re",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x120:rate=5",
        "-t",
        "60",
        "-c:v",
        "mpeg4",
        "-f",
        "hls",
        "-master_pl_name",
        "master.m3u8",
        str(out / "v.m3u8"),
    ]


def shows_its_command(pid: int) -> None:
    """Wait until /proc shows the ffmpeg's command line: a process started a moment ago may still show none (Popen
    returns once the exec has begun; the kernel sets the new command line a little later)."""
    deadline = time.monotonic() + 30
    while not (Path("/proc") / str(pid) / "cmdline").read_bytes().startswith(ffmpeg_exe().encode()):
        assert time.monotonic() < deadline, f"process {pid} never showed the ffmpeg command line"
        time.sleep(0.02)


def test_a_ladder_another_process_started_is_not_this_tests(tmp_path: Path) -> None:
    started = subprocess.run(
        [sys.executable, "-c", START_ELSEWHERE, *ladder_command(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    pid = int(started.stdout)
    try:
        shows_its_command(pid)  # running
        assert pid not in running_ladder_pids()
    finally:
        os.kill(pid, signal.SIGKILL)


def test_a_ladder_this_process_started_is_its_own(tmp_path: Path) -> None:
    ffmpeg = subprocess.Popen(
        ladder_command(tmp_path), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        shows_its_command(ffmpeg.pid)
        assert ffmpeg.pid in running_ladder_pids()
    finally:
        ffmpeg.kill()
        ffmpeg.wait(timeout=30)
    assert ffmpeg.pid not in running_ladder_pids()
