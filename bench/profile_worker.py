"""A gunicorn config for benchmarks only: profile an app worker (cProfile) between two signals from the bench.

The app never loads it: bench_capacity passes it (`GUNICORN_CMD_ARGS=--config python:bench.profile_worker`, see
`app_env`) when BENCH_CAPACITY_PROFILE names a folder. Each worker writes its pid there at start; the bench sends
it SIGUSR2 to start profiling and SIGUSR2 again to stop and write `<pid>.prof` (pstats), so the profile holds the
connect rush and not the set-up before it. SIGUSR2 goes to the workers only: gunicorn's master re-executes on it.
The worker's event loop (every event handler, the hydrate, the list read) runs in its main thread, which is the
one cProfile sees; work handed to threads (asyncio.to_thread) shows only as the wait for it. Times are that thread's
CPU time, not the wall clock: a call that gives up the interpreter's lock (a SQLite statement, a socket write)
waits for it to come back while another thread (the refresh tick) runs, and by the wall clock that wait showed as
the call's own cost. Beside it, `<pid>.gc.json` holds the garbage collector's passes over the same span (Collector).
"""

from __future__ import annotations

import cProfile
import gc
import json
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

FOLDER_ENV = "BENCH_PROFILE_DIR"
# gunicorn's own setting: a profiled worker on a busy machine can miss its 30 s heartbeat and be killed mid-rush.
timeout = 600


def post_worker_init(worker: Any) -> None:
    """gunicorn's hook in each worker, before its loop starts: note the pid, arm the toggle."""
    folder = Path(os.environ[FOLDER_ENV])
    profiler = cProfile.Profile(time.thread_time)
    running = False
    passes = Collector()

    def toggle(_signum: int, _frame: FrameType | None) -> None:
        nonlocal running
        if not running:
            passes.start()
            profiler.enable()
        else:
            profiler.disable()
            profiler.dump_stats(folder / f"{os.getpid()}.prof")
            (folder / f"{os.getpid()}.gc.json").write_text(json.dumps(passes.stop()))
        running = not running

    signal.signal(signal.SIGUSR2, toggle)
    (folder / f"{os.getpid()}.pid").write_text("ready")


class Collector:
    """The garbage collector's passes while the profile runs, by generation: how many, and their wall time in s.

    cProfile charges a pass to whichever function allocated when it began, so it never shows as one entry.
    """

    def __init__(self) -> None:
        self.counts = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self._began = 0.0

    def start(self) -> None:
        gc.callbacks.append(self._on_pass)

    def stop(self) -> dict[str, list[float]]:
        gc.callbacks.remove(self._on_pass)
        return {"passes": [float(n) for n in self.counts], "seconds": self.seconds}

    def _on_pass(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
            return
        generation = info["generation"]
        self.counts[generation] += 1
        self.seconds[generation] += time.perf_counter() - self._began


@contextmanager
def profiled(folder: Path, wait_s: float = 60.0) -> Iterator[None]:
    """Profile every app worker that announced itself in `folder` while the block runs; their stats are then there."""
    pids = [int(p.stem) for p in folder.glob("*.pid") if _signal(int(p.stem))]
    try:
        yield
    finally:
        pids = [pid for pid in pids if _signal(pid)]
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and not all((folder / f"{pid}.prof").exists() for pid in pids):
            time.sleep(0.2)


def _signal(pid: int) -> bool:
    """Toggle a worker's profile; False when it is gone (gunicorn replaced it)."""
    try:
        os.kill(pid, signal.SIGUSR2)
    except ProcessLookupError:
        return False
    return True


def top(folder: Path, count: int = 15) -> str:
    """The `count` costliest functions by own time and by cumulative time, of every worker's profile in `folder`."""
    import io
    import pstats

    files = sorted(str(p) for p in folder.glob("*.prof"))
    if not files:
        return "(no profile written)"
    out = io.StringIO()
    stats = pstats.Stats(*files, stream=out)
    stats.sort_stats("tottime").print_stats(count)
    stats.sort_stats("cumulative").print_stats(count)
    for path in sorted(folder.glob("*.gc.json")):
        passes = json.loads(path.read_text())
        counts = " / ".join(f"{n:.0f}" for n in passes["passes"])
        seconds = " / ".join(f"{s:.3f}" for s in passes["seconds"])
        print(f"garbage collector in {path.name}: passes {counts}, seconds {seconds} (young / middle / full)", file=out)
    return out.getvalue()
