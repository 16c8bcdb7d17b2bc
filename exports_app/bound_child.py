"""Child processes that die with the process that started them: a transcode's ffmpeg.

A transcode's child runs this as a script before it becomes ffmpeg: bound to die with the app, lowered below it,
then exec'd (`python -I -S bound_child.py PARENT NICE FFMPEG ARG…`, see transcode/ffmpeg_run.start) rather than as
Popen's preexec_fn, which Python documents as unsafe in a process with threads (the app has many: a forked child
can block on a lock another thread held). A fresh interpreter holds none. The standard library only.

- PR_SET_PDEATHSIG(SIGKILL): the kernel kills this process when the thread that forked it ends, whatever ends it
  (SIGKILL of the app included), and the setting survives the exec of ffmpeg (not set-user-ID). That thread is the
  transcoder's worker that then waits for this very process (ffmpeg_run.watch), so it ends only after ffmpeg
  does, or with the whole process (prctl(2): "the parent" is the creating thread, not the process).
- The app may have died before the setting took: this process was then already handed to another parent (init or
  a subreaper), so getppid() no longer names the app, and it ends instead of starting ffmpeg.
- The nice: set on this thread before the exec, so every thread ffmpeg starts inherits it; and on the session's
  scheduling group (Linux autogroup: Popen made a new session), without which a session of its own competes with
  the app's session as an equal, whatever its threads' nice. Best effort: elsewhere the child keeps the app's.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PARENT_GONE = 3  # the exit code when the app ended before this process was bound to it


def die_with_parent(parent: int) -> None:
    """Be killed when the thread that started this process ends; exit now if the process `parent` already did."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            failed = ctypes.get_errno()
            raise OSError(failed, os.strerror(failed))
    if os.getppid() != parent:
        raise SystemExit(PARENT_GONE)


def lower_priority(nice: int) -> None:
    if not nice:
        return
    with contextlib.suppress(OSError), open("/proc/self/autogroup", "w") as group:
        group.write(str(nice))
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, nice)


def main(argv: list[str]) -> None:
    parent, nice, *command = argv
    die_with_parent(int(parent))
    lower_priority(int(nice))
    try:
        os.execv(command[0], command)
    except OSError as exc:  # told on stderr like ffmpeg's own errors (no path), with the shell's "cannot run" code
        print(f"The transcoder could not be started: {exc.strerror}", file=sys.stderr)
        raise SystemExit(127) from None


if __name__ == "__main__":
    main(sys.argv[1:])
