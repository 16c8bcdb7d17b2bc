"""The refresh tick against a real database and the real local transcoder."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, TypedDict, Unpack

import pytest
import sqlalchemy as sa
from reflex.app import EventNamespace
from reflex.istate.manager import StateManager
from sqlmodel import select

from exports_app.db import get_engine, session_scope
from exports_app.domain import JobStatus
from exports_app.jobs.refresh import tick
from exports_app.models import MediaJob, Production
from exports_app.reflex_bridge import LiveApp
from exports_app.services import exports, productions
from exports_app.services.auth import Member
from exports_app.transcode.base import JobReport, JobRequest, PendingJob
from exports_app.transcode.local_ffmpeg import LocalFfmpegTranscoder
from tests.support.clips import make_clip
from tests.support.event_loop import run_in_own_loop
from tests.support.local_jobs import run_until_terminal
from tests.support.media import running_ladder_pids


class NoApp:
    """No app to push through: these tests fake the push."""

    @property
    def state_manager(self) -> StateManager:
        raise AssertionError("no push expected through the app here")

    @property
    def event_namespace(self) -> EventNamespace | None:
        raise AssertionError("no push expected through the app here")

    def set_contexts(self) -> AbstractContextManager[Any]:
        raise AssertionError("no push expected through the app here")


NO_APP = NoApp()


class ClipShape(TypedDict, total=False):
    """make_clip's knobs these tests turn."""

    seconds: float
    width: int
    height: int
    audio: bool
    fps: int


def import_clip(member: Member, path: Path, **clip: Unpack[ClipShape]) -> int:
    make_clip(path, **clip)
    with session_scope() as s:
        upload_id = exports.import_export(session=s, member=member, source=path).id
    assert upload_id is not None
    return upload_id


def prep(member: Member, upload_id: int) -> None:
    with session_scope() as s:
        productions.prep_hls(session=s, member=member, upload_id=upload_id, provider="local")


@contextmanager
def prepped_clip(
    member: Member, data_dir: Path, path: Path, **clip: Unpack[ClipShape]
) -> Iterator[tuple[int, LocalFfmpegTranscoder]]:
    """A new clip imported as the member's export and prepped: (its upload id, the local transcoder that will run
    it), the transcoder closed on exit."""
    upload_id = import_clip(member, path, **clip)
    tc = LocalFfmpegTranscoder(data_dir / "hls")
    try:
        prep(member, upload_id)
        yield upload_id, tc
    finally:
        tc.close()


def state_of(member: Member, upload_id: int) -> str:
    with session_scope() as s:
        return productions.export_status(session=s, member=member, upload_id=upload_id).state


def test_tick_takes_an_export_to_ready(alice: Member, data_dir: Path, tmp_path: Path) -> None:
    with prepped_clip(alice, data_dir, tmp_path / "a.mp4", seconds=2.0) as (upload_id, tc):
        changed = run_until_terminal(tc)
    assert (alice.id, upload_id) in changed
    assert state_of(alice, upload_id) == "ready"
    with session_scope() as s:  # the ladder ffmpeg reported is stored, each playlist a key under the data dir
        (production,) = s.exec(select(Production)).all()
        renditions = production.renditions
        assert renditions is not None
        # A 320x240 source: its own size and half of it; each bandwidth the measured peak segment bit rate.
        assert [(r["uri"], r["width"], r["height"], r["frame_rate"]) for r in renditions] == [
            (f"hls/{production.id}/v0/index.m3u8", 320, 240, 25.0),
            (f"hls/{production.id}/v1/index.m3u8", 160, 120, 25.0),
        ]
        assert all(r["bandwidth"] > 0 for r in renditions)
    assert (data_dir / renditions[0]["uri"]).is_file()


def test_tick_statement_count_does_not_grow_with_jobs(alice: Member, data_dir: Path) -> None:
    """Pending jobs are loaded in one query whatever their number (counted, not timed)."""
    from tests.support.records import add_upload

    class Idle:
        name = "local"
        hd_after_fast = False

        def submit(self, request: JobRequest) -> str:
            return f"idle-{request.media_job_id}"

        def poll(self, jobs: Sequence[PendingJob]) -> list[JobReport]:
            return []

        def receive_events(self) -> list[JobReport]:
            return []

        def cancel(self, job: PendingJob) -> None:
            pass

        def close(self) -> None:
            pass

        def is_transient(self, exc: Exception) -> bool:
            return False

        def open_output(self, uri: str) -> bytes:
            raise FileNotFoundError(uri)

    def selects_for(n: int) -> int:
        for _ in range(n):
            with session_scope() as s:
                productions.prep_hls(session=s, member=alice, upload_id=add_upload(alice), provider="local")
        tick(Idle(), 3600)  # submits the queued jobs
        statements: list[str] = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        sa.event.listen(get_engine(), "before_cursor_execute", listener)
        try:
            tick(Idle(), 3600)
        finally:
            sa.event.remove(get_engine(), "before_cursor_execute", listener)
        return len(statements)

    assert selects_for(1) == selects_for(40)


def job_started() -> bool:
    with session_scope() as s:
        return s.exec(select(MediaJob)).one().started_at is not None


def test_queued_job_is_timed_from_its_start_not_its_submit(alice: Member, data_dir: Path, tmp_path: Path) -> None:
    """A job that waited its turn longer than the timeout (submitted two hours ago, the transcoder's queue busy
    all that time) still runs: the clock starts when ffmpeg does."""
    with prepped_clip(alice, data_dir, tmp_path / "a.mp4", seconds=2.0) as (upload_id, tc):
        tick(tc, timeout_seconds=3600)  # submitted: in the transcoder's queue
        with session_scope() as s:
            job = s.exec(select(MediaJob)).one()
            assert job.submitted_at is not None and job.started_at is None
            job.submitted_at = job.created_at = job.submitted_at - timedelta(hours=2)
            s.add(job)
        changed = run_until_terminal(tc)
    assert (alice.id, upload_id) in changed
    assert state_of(alice, upload_id) == "ready"


def test_stuck_job_times_out(alice: Member, data_dir: Path, tmp_path: Path) -> None:
    # 540p: one pass, one job (two passes time out alike, each its own job)
    with prepped_clip(alice, data_dir, tmp_path / "long.mp4", seconds=30.0, width=960, height=540) as (upload_id, tc):
        tick(tc, timeout_seconds=3600)  # submitted
        while not job_started():  # the job's clock starts when ffmpeg does (the tick that hears it run)
            tick(tc, timeout_seconds=3600)
        time.sleep(0.3)
        result = tick(tc, timeout_seconds=0.1)
    assert (alice.id, upload_id) in result.changed
    with session_scope() as s:
        status = productions.export_status(session=s, member=alice, upload_id=upload_id)
        job = s.exec(select(MediaJob)).one()
    assert status.state == "failed" and "stopped" in (status.detail or "")
    assert job.status == JobStatus.TIMED_OUT.value
    assert running_ladder_pids() == []  # the one timeout path (the tick's) stopped ffmpeg


def test_restart_mid_job_resumes(alice: Member, data_dir: Path, tmp_path: Path) -> None:
    upload_id = import_clip(alice, tmp_path / "a.mp4", seconds=2.0)
    first = LocalFfmpegTranscoder(data_dir / "hls")
    prep(alice, upload_id)
    tick(first, 3600)
    first.close()  # the app stops mid-job
    second = LocalFfmpegTranscoder(data_dir / "hls")  # and starts again
    try:
        run_until_terminal(second)
    finally:
        second.close()
    assert state_of(alice, upload_id) == "ready"


def test_killed_ffmpeg_fails_with_detail_and_retry_works(alice: Member, data_dir: Path, tmp_path: Path) -> None:
    import os
    import signal

    # 540p: one pass, one job (two passes time out alike, each its own job)
    with prepped_clip(alice, data_dir, tmp_path / "long.mp4", seconds=30.0, width=960, height=540) as (upload_id, tc):
        tick(tc, 3600)
        deadline = time.monotonic() + 60
        while not running_ladder_pids():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        for pid in running_ladder_pids():
            os.kill(pid, signal.SIGKILL)  # as the OOM killer would
        run_until_terminal(tc)
        with session_scope() as s:
            status = productions.export_status(session=s, member=alice, upload_id=upload_id)
        assert status.state == "failed" and "interrupted" in (status.detail or "")
        with session_scope() as s:
            status = productions.prep_hls(session=s, member=alice, upload_id=upload_id, provider="local")
            assert status.state == "in_progress"
        tick(tc, 3600)
        for row_pid in running_ladder_pids():
            os.kill(row_pid, signal.SIGKILL)
    assert running_ladder_pids() == []


def test_deleting_an_export_mid_transcode_is_safe(alice: Member, data_dir: Path, tmp_path: Path) -> None:
    with prepped_clip(alice, data_dir, tmp_path / "a.mp4", seconds=3.0) as (upload_id, tc):
        tick(tc, 3600)
        with session_scope() as s:
            exports.delete_export(session=s, member=alice, upload_id=upload_id)
        run_until_terminal(tc)
    assert running_ladder_pids() == []
    with session_scope() as s:
        job = s.exec(select(MediaJob)).one()
        assert job.status == JobStatus.SUCCEEDED.value  # the production stays and finishes
        assert productions.find_by_export_upload_id(session=s, upload_id=upload_id) is not None


def test_refresh_survives_the_database_going_away(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """The database server stops mid-job: the tick fails and is logged, the scheduler lives on, and once the
    server is back the next tick carries the job to ready. A private MariaDB, so stopping it harms no one."""
    from alembic import command
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from exports_app.jobs import push, scheduler
    from tests.support.database import alembic_config, app_pointed_at
    from tests.support.mariadb_server import MariaDB
    from tests.support.records import make_member

    pushed: list[set[tuple[int, int]]] = []

    async def record(changed: Iterable[tuple[int, int]], live: LiveApp) -> None:  # the browser push: e2e tests
        pushed.append(set(changed))

    monkeypatch.setattr(push, "notify", record)
    with MariaDB() as server:
        url = server.create("outage")
        command.upgrade(alembic_config(url), "head")
        with app_pointed_at(monkeypatch, tmp_path / "data", url):
            alice = make_member("alice")
            upload_id = import_clip(alice, tmp_path / "a.mp4", seconds=2.0)
            prep(alice, upload_id)

            async def run() -> None:
                runner = scheduler.RefreshRunner(AsyncIOScheduler(), asyncio.get_running_loop(), NO_APP)
                runner.transcoder = LocalFfmpegTranscoder(tmp_path / "data" / "hls")
                try:
                    server.stop()
                    await runner.run()  # fails inside (connection refused), logs, returns
                    assert pushed == []
                    assert "refresh tick failed" in caplog.text
                    server.start()
                    deadline = time.monotonic() + 120
                    while (alice.id, upload_id) not in set().union(*pushed) or state_of(alice, upload_id) != "ready":
                        assert time.monotonic() < deadline, "no recovery after the database came back"
                        await runner.run()
                        await asyncio.sleep(0.1)
                finally:
                    runner.transcoder.close()

            run_in_own_loop(run())


def test_a_slow_or_failing_push_never_holds_back_ticks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ticks go on while a push is slow; what they change meanwhile goes out in one later push; a push that
    fails is retried on the next tick. The tick and the browser push are faked here: their real selves
    have their own tests (above, and the e2e suite)."""
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from exports_app.jobs import push, refresh, scheduler

    changes = iter([{(1, 10)}, {(1, 11)}, {(2, 20)}, set(), {(1, 12)}, set()])
    monkeypatch.setattr(refresh, "tick", lambda tc, timeout: refresh.TickResult(changed=next(changes)))
    pushed: list[set[tuple[int, int]]] = []
    fail_next = [False]

    async def run() -> None:
        release = asyncio.Event()

        async def notify(changed: Iterable[tuple[int, int]], live: LiveApp) -> None:
            if fail_next[0]:
                fail_next[0] = False
                raise RuntimeError("database is gone")
            if not pushed:
                await release.wait()  # the first push hangs (a slow websocket, a busy loop)
            pushed.append(set(changed))

        monkeypatch.setattr(push, "notify", notify)
        runner = scheduler.RefreshRunner(AsyncIOScheduler(), asyncio.get_running_loop(), NO_APP)
        runner.transcoder = object()  # type: ignore[assignment]  # no transcoder: a tick that uses it fails
        await runner.run()
        await asyncio.sleep(0)
        await asyncio.wait_for(runner.run(), 5)  # not held back by the hanging push
        await asyncio.wait_for(runner.run(), 5)
        release.set()
        await asyncio.sleep(0.05)
        assert pushed == [{(1, 10)}, {(1, 11), (2, 20)}]  # in order, the two later changes coalesced

        fail_next[0] = True
        await runner.run()  # nothing changed; nothing to push
        await runner.run()  # (1, 12): the push fails
        await asyncio.sleep(0.05)
        assert pushed[-1] == {(1, 11), (2, 20)}
        await runner.run()  # the next tick retries it
        await asyncio.sleep(0.05)
        assert pushed[-1] == {(1, 12)}

    run_in_own_loop(run())
