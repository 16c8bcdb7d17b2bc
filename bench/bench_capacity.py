"""Live capacity: 250 members × 4 tabs = 1,000 `/exports` tabs on one worker, 20 status changes a second for 60 s.

Tabs are protocol-level socket.io clients (tests/support/capacity_tabs.py), each signed in with its member's session
cookie and holding /exports open as a browser tab does. Figures: push latency from the database commit to the
receipt at every tab of that member (p50/p95/p99), the app's RSS per connected tab (RSS with the tabs open minus
RSS just before they opened; with Redis, the Redis server's RSS counts too), the app's CPU while the tabs connect
and under the load, and the time for all tabs to connect and get their list. How changes are driven and why
the latency is commit → receipt: tests/support/capacity.py.

Baseline, in the same run on the same app under the same load (all jobs driven): 20 tabs (5 members × 4).
The ratio line is p95(N tabs) / p95(20 tabs).

Then the same with REFLEX_REDIS_URL and 2 server workers (as `make run` serves it, with EXPORTS_WORKERS=2) and
twice the tabs, when redis-server is installed (`make test` installs it).

Knobs (environment): BENCH_CAPACITY_MEMBERS (250), BENCH_CAPACITY_TABS_PER_MEMBER (4), BENCH_CAPACITY_RATE
(20 changes/s), BENCH_CAPACITY_SECONDS (60), BENCH_CAPACITY_EXPORTS (exports per member, 3),
BENCH_CAPACITY_PROCS (client processes per 1,000 tabs, 1), BENCH_CAPACITY_REDIS (0 skips the 2-worker run),
BENCH_CAPACITY_ONE_WORKER (0 skips the one-worker run), BENCH_CAPACITY_CONNECT_ONLY (1: only the connect rush of
the full round, no baseline, no drive, no 2-worker run: a quick loop while working on the connect path; pair it
with fewer BENCH_CAPACITY_MEMBERS for a quicker one), BENCH_CAPACITY_PROFILE (a folder: the app's worker runs
under cProfile during the full round's connect rush, and the top entries are printed; bench/profile_worker.py).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from functools import partial
from pathlib import Path
from typing import TypedDict

from bench.common import ROOT, report
from bench.profile_worker import FOLDER_ENV, profiled, top
from exports_app.transcode.clips import make_clip
from tests.support.capacity import Round, local_aws, make_members, run_round, running_app, start_jobs

MEMBERS = int(os.environ.get("BENCH_CAPACITY_MEMBERS", "250"))
TABS_PER_MEMBER = int(os.environ.get("BENCH_CAPACITY_TABS_PER_MEMBER", "4"))
RATE = float(os.environ.get("BENCH_CAPACITY_RATE", "20"))
SECONDS = float(os.environ.get("BENCH_CAPACITY_SECONDS", "60"))
EXPORTS_PER_MEMBER = int(os.environ.get("BENCH_CAPACITY_EXPORTS", "3"))
PROCS_PER_1000 = int(os.environ.get("BENCH_CAPACITY_PROCS", "1"))
CONNECT_ONLY = os.environ.get("BENCH_CAPACITY_CONNECT_ONLY", "0") == "1"
PROFILE_DIR = os.environ.get("BENCH_CAPACITY_PROFILE", "")
REFRESH_SECONDS = 1.0
BASELINE_MEMBERS = 5
RESULTS = ROOT / "bench" / "results"


class RoundPace(TypedDict):
    """The run_round arguments both rounds of a measurement share."""

    rate: float
    seconds: float
    refresh_seconds: float
    extra_pids: tuple[int, ...]


def new_data_dir(prefix: str) -> Path:
    """An empty data dir of the round's own (the app migrates it as it starts)."""
    return Path(tempfile.mkdtemp(prefix=f"{prefix}-{uuid.uuid4().hex[:6]}-"))


def measure(
    label: str, members_count: int, extra_env: dict[str, str] | None = None, extra_pids: tuple[int, ...] = ()
) -> tuple[Round | None, Round]:
    """(baseline, full) rounds on one app: 20 tabs, then members_count × TABS_PER_MEMBER tabs (no baseline, and
    no drive, with CONNECT_ONLY)."""
    clip_dir = Path(tempfile.mkdtemp(prefix="capacity-clip-"))
    clip = make_clip(clip_dir / "clip.mp4", seconds=1.0, width=160, height=120)
    data_dir = new_data_dir("bench-capacity")
    profile_dir = Path(PROFILE_DIR) if PROFILE_DIR else None
    while_connecting: Callable[[], AbstractContextManager[None]] = nullcontext
    if profile_dir is not None:
        shutil.rmtree(profile_dir, ignore_errors=True)
        profile_dir.mkdir(parents=True)
        extra_env = {
            **(extra_env or {}),
            "GUNICORN_CMD_ARGS": "--config python:bench.profile_worker",
            FOLDER_ENV: str(profile_dir),
        }
        while_connecting = partial(profiled, profile_dir)
    baseline: Round | None = None
    try:
        with local_aws() as aws, running_app(data_dir, aws, REFRESH_SECONDS, extra_env) as app:
            print(f"[{label}] app up on {app.url}; making {members_count} members", flush=True)
            members = make_members(app, members_count, EXPORTS_PER_MEMBER, clip)
            start_jobs(members, aws.mediaconvert)
            common = RoundPace(
                rate=RATE,
                seconds=0 if CONNECT_ONLY else SECONDS,
                refresh_seconds=REFRESH_SECONDS,
                extra_pids=extra_pids,
            )
            if not CONNECT_ONLY:
                print(f"[{label}] baseline: {BASELINE_MEMBERS * TABS_PER_MEMBER} tabs", flush=True)
                baseline = run_round(
                    app,
                    aws.mediaconvert,
                    members[:BASELINE_MEMBERS],
                    members,
                    tabs_per_member=TABS_PER_MEMBER,
                    **common,
                )
            tabs = members_count * TABS_PER_MEMBER
            print(f"[{label}] full: {tabs} tabs", flush=True)
            full = run_round(
                app,
                aws.mediaconvert,
                members,
                members,
                tabs_per_member=TABS_PER_MEMBER,
                procs=max(1, math.ceil(tabs / 1000) * PROCS_PER_1000),
                while_connecting=while_connecting,
                **common,
            )
        if profile_dir is not None:
            print(f"\n== [{label}] the app worker's profile while {tabs} tabs connected\n{top(profile_dir)}")
    finally:
        RESULTS.mkdir(exist_ok=True)
        if (data_dir / "server.log").exists():  # the app's warnings (slow locks, failed pushes) stay readable
            shutil.copy(data_dir / "server.log", RESULTS / f"capacity-{label}-server.log")
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(clip_dir, ignore_errors=True)
    return baseline, full


def show(label: str, baseline: Round | None, full: Round) -> None:
    if baseline is None:
        # Nothing is driven: correct is every tab connected with its list, and nothing of anyone else's.
        connected = not full.connect_errors and full.tabs_ready == full.tabs and not full.foreign
        report(
            f"{label}: connect only, {full.tabs} tabs of {full.members} members", correct=connected, **full.summary()
        )
        return
    for name, one in (("baseline", baseline), ("full", full)):
        report(
            f"{label}: {name}, {one.tabs} tabs of {one.members} members, {RATE:g} changes/s for {SECONDS:g} s",
            correct=one.correct,
            **one.summary(),
        )
        for problem in (one.connect_errors + one.missing + one.foreign)[:5]:
            print(f"  ! {problem}")
    report(
        f"{label}: ratio against the baseline",
        ratio_p95_full_vs_baseline=full.pct(95) / baseline.pct(95),
        ratio_p50_full_vs_baseline=full.pct(50) / baseline.pct(50),
    )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"capacity-{label}.json"
    out.write_text(
        json.dumps(
            {
                name: {**one.summary(), "samples_commit_at_latency_ms": one.samples}
                for name, one in (("baseline", baseline), ("full", full))
            },
            default=str,
        )
    )


def main() -> None:
    if os.environ.get("BENCH_CAPACITY_ONE_WORKER", "1") != "0":
        show("one-worker", *measure("one-worker", MEMBERS))
    if os.environ.get("BENCH_CAPACITY_REDIS", "1") == "0" or CONNECT_ONLY:
        return
    if shutil.which("redis-server") is None:
        print("\n== two workers + Redis: skipped (no redis-server; `make test` installs it)")
        return
    from tests.support.redis_server import RedisServer

    with RedisServer() as redis_server:
        extra = {"REFLEX_REDIS_URL": redis_server.url, "EXPORTS_WORKERS": "2"}
        assert redis_server.process is not None
        show("two-workers-redis", *measure("two-workers-redis", 2 * MEMBERS, extra, (redis_server.process.pid,)))


if __name__ == "__main__":
    main()
