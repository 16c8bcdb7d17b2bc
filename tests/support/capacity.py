"""The capacity harness: members with a running transcode each, their open tabs, and status changes driven at a
fixed rate, measured from the database commit to the receipt at every tab of that member.

How a change is driven, and why that measures "commit → receipt" honestly: the app runs as `make run` starts
it, with EXPORTS_TRANSCODER=mediaconvert against the MediaConvert-compatible test server and moto S3 (both in
this process, as AWS would be outside the app). Each member's first export is prepped with
services.productions.prep_hls; the app's refresh tick submits the job. The harness then moves jobs along on the
test server (JobPercentComplete + 1, one job after another, `rate` per second); the app's leader tick polls
them, applies each report (services.media_jobs.apply_report stamps media_jobs.updated_at), commits, and
push.notify sends the new status into the member's ExportsLive, from where Reflex sends it to every linked tab.
Only the app writes the rows, as in production. The commit time is the row's updated_at, taken in the tick's
transaction just before it commits: latency from it is an upper bound, by the few ms the tick spends on the
rest of its batch (a watcher polling the table every 10 ms notes when each commit became visible; the report
gives the gap). The wait between the test server's change and the next tick (up to EXPORTS_REFRESH_SECONDS) is
polling, not push, and is not counted. (Writing reports into media_jobs from outside under the local
transcoder would push nothing: the tick pushes only what it changed itself, and it would restart the
"unknown" jobs with ffmpeg.)

The same job is never driven twice within `min_gap_s` (3 ticks by default), so each driven change is its own
commit; tabs match a receipt to its commit by (upload id, percent).
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import re
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import boto3
import sqlalchemy as sa
from moto.server import ThreadedMotoServer
from sqlmodel import col, select

from exports_app import db
from exports_app.models import MediaJob, Production, User
from exports_app.services import auth, exports, productions
from tests.support.app_process import RunningApp, group_pids, start_app
from tests.support.aws_fixtures import ROLE, LocalAws
from tests.support.capacity_tabs import Fleet, Protocol, TabPlan, TabResult
from tests.support.environment import environ
from tests.support.figures import percentile
from tests.support.http import app_client
from tests.support.mediaconvert_server import MediaConvertServer
from tests.support.ports import free_port
from tests.support.records import PASSWORD, flushed_id, password_hash

PHASE = "TRANSCODING"


def protocol() -> Protocol:
    """The event and state names the tabs need, read from the app's classes."""
    from reflex_base.constants.state import FIELD_MARKER

    from exports_app.state.auth import AuthState
    from exports_app.state.exports_live import ExportsLive
    from tests.support.socketio_client import hydrate_event_name

    return Protocol(
        hydrate_event_name(),
        ExportsLive.get_full_name(),
        AuthState.get_full_name(),
        "rows" + FIELD_MARKER,
        "statuses" + FIELD_MARKER,
        "username" + FIELD_MARKER,
    )


@contextlib.contextmanager
def local_aws() -> Iterator[LocalAws]:
    """moto (S3) and the MediaConvert test server on loopback; AWS credentials are test ones while it runs."""
    from exports_app.config import MediaConvertSettings

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log
    credentials = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_SESSION_TOKEN": None,
        "AWS_PROFILE": None,
    }
    with environ(credentials):
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port())
        moto.start()
        try:
            host, port = moto.get_host_and_port()
            moto_url = f"http://{host}:{port}"
            s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=moto_url)
            for bucket in ("capacity-in", "capacity-out"):
                s3.create_bucket(Bucket=bucket)
            with MediaConvertServer(s3_endpoint_url=moto_url) as server:
                settings = MediaConvertSettings(
                    region="us-east-1",
                    endpoint_url=server.url,
                    role_arn=ROLE,
                    s3_endpoint_url=moto_url,
                    input_bucket="capacity-in",
                    output_bucket="capacity-out",
                )
                yield LocalAws(moto_url, server, settings, s3, None)
        finally:
            moto.stop()


def app_env(aws: LocalAws, refresh_seconds: float) -> dict[str, str]:
    env = aws.env()
    env.pop("EXPORTS_SQS_QUEUE_URL")  # polling only: the events path is optional and off here
    return {**env, "EXPORTS_REFRESH_SECONDS": str(refresh_seconds), "EXPORTS_SKIP_SEED": "1"}


@contextlib.contextmanager
def running_app(
    data_dir: Path, aws: LocalAws, refresh_seconds: float = 1.0, extra_env: dict[str, str] | None = None
) -> Iterator[RunningApp]:
    """The app as `make run` starts it (scripts/serve.sh); this process's services use the same database."""
    app = start_app(data_dir, {**app_env(aws, refresh_seconds), **(extra_env or {})})
    try:
        with app.in_this_process():
            yield app
    finally:
        app.stop()


@dataclass
class Member:
    """A signed-in member with exports, one of which has a MediaConvert job the harness moves along."""

    id: int
    name: str
    cookie: str
    upload_ids: list[int]
    media_job_id: int = 0
    provider_job_id: str = ""
    percent: int = 0

    @property
    def job_upload(self) -> int:
        return self.upload_ids[0]


def _sign_in(app: RunningApp, name: str) -> str:
    with app_client(base_url=app.url, timeout=120) as client:
        answer = client.post("/api/auth/login", json={"username": name, "password": PASSWORD})
        answer.raise_for_status()
        return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


def make_members(app: RunningApp, count: int, exports_per_member: int, clip: Path, prefix: str = "cap") -> list[Member]:
    """Members (one password hash, computed once: hashing is not what this measures), their exports, one prep
    each, and a sign-in each through POST /api/auth/login."""
    from exports_app.config import get_settings

    with db.session_scope() as s:
        s.add_all(User(username=f"{prefix}{i}", password_hash=password_hash()) for i in range(count))
    names = {f"{prefix}{i}" for i in range(count)}
    with db.session_scope() as s:
        users = s.exec(select(User).where(col(User.username).in_(names)).order_by(col(User.id))).all()
        members = [Member(u.id, u.username, "", []) for u in users if u.id is not None]
    for member in members:
        who = auth.Member(member.id, member.name)
        with db.session_scope() as s:
            imported = [
                exports.import_export(session=s, member=who, source=clip, title=f"{member.name} export {e}")
                for e in range(exports_per_member)
            ]
            member.upload_ids = [flushed_id(upload.id) for upload in imported]
        with db.session_scope() as s:
            productions.prep_hls(session=s, member=who, upload_id=member.job_upload, provider=get_settings().transcoder)
    with ThreadPoolExecutor(4) as pool:
        for member, cookie in zip(members, pool.map(lambda m: _sign_in(app, m.name), members), strict=True):
            member.cookie = cookie
    return members


def _job_rows(members: list[Member]) -> dict[int, tuple[int, str | None, int, str]]:
    """upload id → (media job id, provider job id, percent, status) of each member's job."""
    uploads = [m.job_upload for m in members]
    with db.session_scope() as s:
        rows = s.execute(
            sa.select(
                col(Production.upload_id),
                col(MediaJob.id),
                col(MediaJob.provider_job_id),
                col(MediaJob.percent),
                col(MediaJob.status),
            )
            .join(Production, col(Production.id) == col(MediaJob.production_id))
            .where(col(Production.upload_id).in_(uploads))
        ).all()
    return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}


def _wait(what: str, done: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not within {timeout:.0f} s")
        time.sleep(0.25)


def start_jobs(members: list[Member], server: MediaConvertServer, timeout: float = 900) -> None:
    """Wait for the app to submit every job, then start them all at 1 % and wait for the app to commit that."""

    def submitted() -> bool:
        rows = _job_rows(members)
        return len(rows) == len(members) and all(r[1] for r in rows.values())

    _wait("every job submitted by the app", submitted, timeout)
    for member in members:
        media_job_id, provider_job_id, _, _ = _job_rows([member])[member.job_upload]
        assert provider_job_id is not None  # submitted() waited for every provider job id
        member.media_job_id, member.provider_job_id = media_job_id, provider_job_id
        member.percent = 1
        server.advance(member.provider_job_id, "PROGRESSING", percent=1, phase=PHASE)
    _wait(
        "every job running at 1 %",
        lambda: all(r[2] == 1 and r[3] == "running" for r in _job_rows(members).values()),
        timeout,
    )


def _epoch(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


class CommitWatcher(threading.Thread):
    """Notes each (upload, percent) the app commits: its updated_at, and when this poll first saw it."""

    def __init__(self, members: list[Member], period: float = 0.01) -> None:
        super().__init__(name="commit-watcher", daemon=True)
        self.upload_of = {m.media_job_id: m.job_upload for m in members}
        self.period = period
        self.commits: dict[tuple[int, int], tuple[float, float]] = {}
        self._halt = threading.Event()

    def run(self) -> None:
        query = sa.select(col(MediaJob.id), col(MediaJob.percent), col(MediaJob.updated_at)).where(
            col(MediaJob.id).in_(list(self.upload_of))
        )
        with db.get_engine().connect() as conn:
            while not self._halt.is_set():
                rows = conn.execute(query).all()
                conn.rollback()  # a fresh snapshot next time
                seen = time.time()
                for job_id, percent, updated_at in rows:
                    assert job_id is not None  # a primary key
                    key = (self.upload_of[job_id], int(percent))
                    if key not in self.commits:
                        self.commits[key] = (_epoch(updated_at), seen)
                self._halt.wait(self.period)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)


def drive(
    server: MediaConvertServer, members: list[Member], rate: float, seconds: float, min_gap_s: float, seed: int = 11
) -> list[tuple[int, int, float]]:
    """Move jobs along at `rate` changes per second for `seconds`; (upload, percent, when) of each change."""
    order = list(members)
    random.Random(seed).shuffle(order)
    gap = len(order) / rate
    if seconds > 0 and gap < min_gap_s:  # nothing driven (a connect-only round): no spacing to keep
        raise ValueError(
            f"{len(order)} jobs at {rate}/s come round every {gap:.1f} s; need {min_gap_s:.1f} s "
            "so that each change is its own commit"
        )
    driven = []
    start = time.monotonic()
    for n in range(int(rate * seconds)):
        delay = start + n / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        member = order[n % len(order)]
        member.percent += 1
        assert member.percent < 100, "the job would finish; drive fewer changes per job"
        server.advance(member.provider_job_id, "PROGRESSING", percent=member.percent, phase=PHASE)
        driven.append((member.job_upload, member.percent, time.time()))
    return driven


# -- the app's processes: memory and CPU ---------------------------------------------------------------


def rss_kb(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            match = re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
            total += int(match.group(1)) if match else 0
    return total


def cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


# -- one round: open the tabs, drive, collect ----------------------------------------------------------


@dataclass
class Round:
    """What one round measured."""

    members: int
    tabs: int
    tabs_ready: int
    connect_errors: list[str]
    connect_wall_s: float  # first tab opened → last tab has its list
    connect_tab_ms: list[float]  # per tab: opened → its list arrived
    frames_per_tab_connect: float
    kb_per_tab_connect: float
    app_rss_before_kb: int
    app_rss_connected_kb: int
    app_rss_end_kb: int
    app_cpu_connect_pct: float  # % of one core while the tabs connected
    app_cpu_connect_s: float  # the app's CPU time while they connected: on a shared machine, steadier than the wall
    app_cpu_load_pct: float  # % of one core during the drive and settle
    # % of one core just before the rush, no tab open: the refresh tick polling every pending job. The rush's CPU
    # holds it too; taken off, it is an estimate only: a tick that outlasts its interval runs again at once, so on a
    # busy machine the tick takes more than its quiet share while the tabs connect.
    app_cpu_quiet_pct: float
    client_cpu_load_pct: float
    driven: int
    commits: int
    latencies_ms: list[float]
    missing: list[str]
    foreign: list[str]
    closed_early: int
    seconds: float
    apply_to_visible_ms: list[float] = field(default_factory=list)
    samples: list[tuple[float, float]] = field(default_factory=list)  # (commit time, latency ms) per receipt
    load_average: tuple[float, float] = (0.0, 0.0)  # the machine's 1-minute load, before and after the drive
    client_loop_lag_max_ms: float = 0.0  # the tab processes' worst event-loop lateness during the load

    @property
    def connect_ms_per_tab_beyond_quiet(self) -> float:
        """The app's CPU per connecting tab less what it spent anyway at its quiet rate over the same seconds."""
        quiet_s = self.app_cpu_quiet_pct / 100 * self.app_cpu_connect_s / max(1e-9, self.app_cpu_connect_pct / 100)
        return 1000 * max(0.0, self.app_cpu_connect_s - quiet_s) / max(1, self.tabs)

    @property
    def rss_per_tab_kb(self) -> float:
        return (self.app_rss_connected_kb - self.app_rss_before_kb) / max(1, self.tabs)

    def pct(self, p: float) -> float:
        return percentile(self.latencies_ms, p) if self.latencies_ms else float("nan")

    @property
    def correct(self) -> bool:
        """Every tab got every change of its member's, nothing of anyone else's, and stayed connected."""
        return (
            not self.connect_errors
            and not self.missing
            and not self.foreign
            and not self.closed_early
            and self.tabs_ready == self.tabs
            and self.commits > 0
        )

    def summary(self) -> dict[str, object]:
        return {
            "tabs": self.tabs,
            "members": self.members,
            "push_p50_ms": self.pct(50),
            "push_p95_ms": self.pct(95),
            "push_p99_ms": self.pct(99),
            "push_max_ms": max(self.latencies_ms, default=float("nan")),
            "receipts": len(self.latencies_ms),
            "commits": self.commits,
            "driven": self.driven,
            "missing": len(self.missing),
            "foreign": len(self.foreign),
            "closed_early": self.closed_early,
            "commit_visible_gap_p50_ms": statistics.median(self.apply_to_visible_ms)
            if self.apply_to_visible_ms
            else float("nan"),
            "connect_all_s": self.connect_wall_s,
            "connect_tab_p50_ms": percentile(self.connect_tab_ms, 50) if self.connect_tab_ms else float("nan"),
            "connect_tab_p95_ms": percentile(self.connect_tab_ms, 95) if self.connect_tab_ms else float("nan"),
            "connect_errors": len(self.connect_errors),
            "frames_per_tab_while_connecting": self.frames_per_tab_connect,
            "kb_per_tab_while_connecting": self.kb_per_tab_connect,
            "app_rss_before_mb": self.app_rss_before_kb / 1024,
            "app_rss_connected_mb": self.app_rss_connected_kb / 1024,
            "app_rss_end_mb": self.app_rss_end_kb / 1024,
            "rss_per_tab_kb": self.rss_per_tab_kb,
            "app_cpu_connect_pct_of_core": self.app_cpu_connect_pct,
            "app_cpu_connect_ms_per_tab": 1000 * self.app_cpu_connect_s / max(1, self.tabs),
            "app_cpu_connect_ms_per_tab_beyond_quiet": self.connect_ms_per_tab_beyond_quiet,
            "app_cpu_quiet_pct_of_core": self.app_cpu_quiet_pct,
            "app_cpu_load_pct_of_core": self.app_cpu_load_pct,
            "client_cpu_load_pct_of_core": self.client_cpu_load_pct,
            "client_loop_lag_max_ms": self.client_loop_lag_max_ms,
            "machine_load_average_before_after": self.load_average,
        }


def run_round(
    app: RunningApp,
    server: MediaConvertServer,
    members: list[Member],
    driven_members: list[Member],
    *,
    tabs_per_member: int,
    rate: float,
    seconds: float,
    refresh_seconds: float,
    procs: int = 1,
    concurrency: int = 50,
    settle_s: float = 3.0,
    quiet_s: float = 3.0,
    extra_pids: tuple[int, ...] = (),
    while_connecting: Callable[[], contextlib.AbstractContextManager[None]] = contextlib.nullcontext,
) -> Round:
    """Open tabs_per_member tabs for each of `members`, drive `driven_members`' jobs, and match receipts.

    The app's memory and CPU are those of its process group plus `extra_pids` (e.g. its Redis server).
    `while_connecting` wraps the connect rush alone (e.g. a profile of the app's worker: bench/profile_worker.py).
    """
    proto = protocol()
    plans = [
        TabPlan(len(members) * k + i, m.id, m.name, m.cookie, frozenset(m.upload_ids))
        for k in range(tabs_per_member)
        for i, m in enumerate(members)
    ]
    pids = group_pids(app.process.pid) + list(extra_pids)
    # The app's CPU before any tab opens: what it spends anyway (the refresh tick polling the jobs), once the push of
    # the jobs' start (start_jobs waits for its commit, not for its push) has died down.
    time.sleep(settle_s)
    quiet_cpu0, quiet_wall0 = cpu_seconds(pids), time.monotonic()
    time.sleep(quiet_s)
    quiet_cpu1, quiet_wall1 = cpu_seconds(pids), time.monotonic()
    rss_before = rss_kb(pids)
    watcher = CommitWatcher(driven_members)
    watcher.start()
    fleet = Fleet(app.url, plans, proto, procs=procs, concurrency=concurrency)
    results: list[TabResult] = []
    try:
        with while_connecting():
            cpu0, wall0 = cpu_seconds(pids), time.monotonic()
            connected = fleet.connected()
            cpu1, wall1 = cpu_seconds(pids), time.monotonic()
        time.sleep(settle_s)  # re-sends to earlier tabs die down before memory is read
        rss_connected = rss_kb(pids)
        client_cpu0 = cpu_seconds(fleet.pids)
        cpu2, wall2 = cpu_seconds(pids), time.monotonic()
        load_before = os.getloadavg()[0]
        drive_start = time.time()
        driven = drive(server, driven_members, rate, seconds, min_gap_s=3 * refresh_seconds)
        wanted = {(u, p) for u, p, _ in driven}
        with contextlib.suppress(TimeoutError):
            _wait(
                "the app committing every driven change",
                lambda: wanted <= watcher.commits.keys(),
                10 * refresh_seconds + 30,
            )
        time.sleep(settle_s)
        cpu3, wall3 = cpu_seconds(pids), time.monotonic()
        load_after = os.getloadavg()[0]
        client_cpu1 = cpu_seconds(fleet.pids)
        rss_end = rss_kb(pids)
        results = fleet.stop()
    finally:
        fleet.close()
        watcher.stop()
    commits = {k: v for k, v in watcher.commits.items() if v[0] >= drive_start - 0.5 and k in wanted}
    by_member_upload = {m.job_upload: m.id for m in driven_members}
    latencies, samples, missing, foreign = [], [], [], []
    for tab in results:
        got = {(u, p): at for u, p, _phase, _state, at in tab.receipts}
        foreign += [f"tab {tab.plan.tab}: {what}" for what in tab.foreign]
        for (upload, percent), (applied, _seen) in commits.items():
            if by_member_upload.get(upload) != tab.plan.member_id:
                continue
            if (upload, percent) in got:
                latencies.append((got[(upload, percent)] - applied) * 1000)
                samples.append((applied, latencies[-1]))
            else:
                missing.append(f"tab {tab.plan.tab} (member {tab.plan.member_id}): upload {upload} at {percent} %")
    ready = [(t, t.ready_at) for t in connected if t.ready_at is not None]
    return Round(
        members=len(members),
        tabs=len(plans),
        tabs_ready=len(ready),
        connect_errors=[f"tab {t.plan.tab}: {t.error}" for t in connected if t.error],
        connect_wall_s=(max(at for _, at in ready) - min(t.opened_at for t in connected)) if ready else 0.0,
        connect_tab_ms=[(at - t.opened_at) * 1000 for t, at in ready],
        frames_per_tab_connect=statistics.mean(t.frames_connected for t in connected),
        kb_per_tab_connect=statistics.mean(t.bytes_connected for t in connected) / 1024,
        app_rss_before_kb=rss_before,
        app_rss_connected_kb=rss_connected,
        app_rss_end_kb=rss_end,
        app_cpu_connect_pct=100 * (cpu1 - cpu0) / max(1e-9, wall1 - wall0),
        app_cpu_connect_s=cpu1 - cpu0,
        app_cpu_quiet_pct=100 * (quiet_cpu1 - quiet_cpu0) / max(1e-9, quiet_wall1 - quiet_wall0),
        app_cpu_load_pct=100 * (cpu3 - cpu2) / max(1e-9, wall3 - wall2),
        client_cpu_load_pct=100 * (client_cpu1 - client_cpu0) / max(1e-9, wall3 - wall2),
        driven=len(driven),
        commits=len(commits),
        latencies_ms=latencies,
        missing=missing,
        foreign=foreign,
        closed_early=sum(t.closed_early for t in results),
        seconds=seconds,
        apply_to_visible_ms=[(seen - applied) * 1000 for applied, seen in commits.values()],
        samples=sorted(samples),
        load_average=(load_before, load_after),
        client_loop_lag_max_ms=max((t.loop_lag_max_ms for t in results), default=0.0),
    )
