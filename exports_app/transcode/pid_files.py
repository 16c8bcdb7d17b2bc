"""The pid file beside a running ffmpeg's output, and ending the ffmpeg an earlier run of the data dir left behind.

ffmpeg dies with the app that started it (bound_child.py), but a process of an older release, or one on a kernel
that lost the binding, may still be writing into a job's output when the app starts again and resumes the job: two
encoders in one folder. So each ffmpeg is written down beside its output as it starts, and a leader ends what is
written down before it starts the job again (LocalFfmpegTranscoder).

A pid alone could name another process by then (pids are reused), so the file holds what makes a process unique
on a machine: the boot it runs in, its pid and its start time (/proc/<pid>/stat, in clock ticks since boot). A
process is ended only if all three match and its command line names the output folder; anything else (another
host's file on a shared data dir, a process that ended, a reused pid) is left alone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

PID_FILE = "ffmpeg.pid"
KILL_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class ProcessId:
    """A process, unambiguously on this machine: the boot, the pid, and when the process started."""

    boot: str
    pid: int
    started: int

    def line(self) -> str:
        return f"{self.boot} {self.pid} {self.started}\n"


def _boot_id() -> str:
    return Path("/proc/sys/kernel/random/boot_id").read_text().strip()


def _start_time(pid: int) -> int:
    # /proc/<pid>/stat: "pid (comm) state ppid …"; comm may hold spaces and parentheses, so split after the last ")".
    # Field 22 is the start time; after the comm, field 3 comes first.
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])


def identify(pid: int) -> ProcessId | None:
    """The live process pid as a ProcessId, or None where /proc does not say (it ended, or not on Linux)."""
    try:
        return ProcessId(_boot_id(), pid, _start_time(pid))
    except (OSError, ValueError, IndexError):
        return None


def record(output_dir: Path, pid: int) -> None:
    """Write down the ffmpeg writing into output_dir (just started; nothing to write where /proc does not say)."""
    found = identify(pid)
    if found is not None:
        (output_dir / PID_FILE).write_text(found.line())


def forget(output_dir: Path) -> None:
    """Its ffmpeg has ended and been waited for: the folder holds only the output again."""
    (output_dir / PID_FILE).unlink(missing_ok=True)


def _recorded(output_dir: Path) -> ProcessId | None:
    try:
        boot, pid, started = (output_dir / PID_FILE).read_text().split()
        return ProcessId(boot, int(pid), int(started))
    except (OSError, ValueError):  # none, or half-written by a run that died as it wrote it
        return None


def _names(pid: int, folder: Path) -> bool:
    """Whether the process's command line names folder (as this run spells it, or its real path)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return any(str(spelled).encode() in cmdline for spelled in (folder, folder.resolve()))


def end_recorded(output_dir: Path) -> int | None:
    """End the ffmpeg written down in output_dir if it still runs, and wait until it has; its pid, or None.

    The process is pinned by a pidfd before it is compared, so the one compared is the one signalled even if it
    ends and its pid is reused in between.
    """
    recorded = _recorded(output_dir)
    pinned = ended = None
    if recorded is not None:
        with contextlib.suppress(OSError):  # it ended (or this kernel has no pidfds: Linux before 5.3)
            pinned = os.pidfd_open(recorded.pid)
    if recorded is not None and pinned is not None:
        try:
            if identify(recorded.pid) == recorded and _names(recorded.pid, output_dir):
                signal.pidfd_send_signal(pinned, signal.SIGKILL)
                if not select.select([pinned], [], [], KILL_WAIT_SECONDS)[0]:  # readable once it has exited
                    log.warning("ffmpeg %s left behind did not exit after SIGKILL", recorded.pid)
                log.warning("ended ffmpeg %s left behind writing %s by an earlier run", recorded.pid, output_dir)
                ended = recorded.pid
        finally:
            os.close(pinned)
    with contextlib.suppress(OSError):
        forget(output_dir)
    return ended


def end_left_behind(folder: Path) -> list[int]:
    """End every ffmpeg written down in the output folders directly under folder; their pids."""
    ended = []
    for pid_file in sorted(folder.glob(f"*/{PID_FILE}")):
        pid = end_recorded(pid_file.parent)
        if pid is not None:
            ended.append(pid)
    return ended
