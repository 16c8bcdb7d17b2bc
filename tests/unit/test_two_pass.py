"""Two passes on the local transcoder, ticked against a real database: the fast pass makes the production ready before
the HD pass starts, a failing HD pass leaves it ready, a restart mid-pass resumes either pass, and the HD lane pauses
while anyone's fast pass encodes.

The HD ffmpeg is found by its work dir (<production>.tmp-<job>) in /proc, and failed or frozen with a signal: a
kill as the OOM killer would, a SIGSTOP to hold a pass where it is while the pool is stopped around it.
"""

from __future__ import annotations

import dataclasses
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import m3u8
import pytest
from sqlmodel import col, select

from exports_app.db import session_scope
from exports_app.domain import ACTIVE_STATUSES, JobStatus, Pass
from exports_app.jobs.refresh import tick
from exports_app.models import MediaJob, Production
from exports_app.services import productions, publish
from exports_app.services.auth import Member
from exports_app.services.hls_status import HlsStatus
from exports_app.transcode.ffmpeg_run import ladder_problem
from exports_app.transcode.local_ffmpeg import LocalFfmpegTranscoder
from tests.support.clips import make_clip
from tests.support.local_jobs import final_report, pending, request, run_until_terminal, wait_for
from tests.support.media import running_ladder_pids
from tests.support.records import import_clip, prep

# A 720p source: the fast pass makes 640x360 and 416x234, the HD pass 1280x720 and 960x540. The one-pass master lists
# them nearest 2 Mbit/s first (540p), then highest first.
LADDER_ORDER = [(960, 540), (1280, 720), (640, 360), (416, 234)]
FAST_SIZES = [(640, 360), (416, 234)]


def clip_720p(path: Path) -> Path:
    """4 s of 1280x720: each pass runs long enough for its ffmpeg to be caught."""
    return make_clip(path, seconds=4.0, width=1280, height=720)


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return clip_720p(tmp_path / "a.mp4")


@pytest.fixture
def pool(data_dir: Path) -> Iterator[LocalFfmpegTranscoder]:
    tc = LocalFfmpegTranscoder(data_dir / "hls")
    yield tc
    tc.close()


def jobs_of(upload_id: int) -> list[MediaJob]:
    """Every media job of the export's productions, oldest first."""
    with session_scope() as s:
        query = (
            select(MediaJob)
            .join(Production, col(Production.id) == MediaJob.production_id)
            .where(Production.upload_id == upload_id)
            .order_by(col(MediaJob.id))
        )
        return list(s.exec(query).all())


def passes_of(upload_id: int) -> tuple[MediaJob, MediaJob]:
    """The export's newest fast pass and newest HD pass."""
    found = jobs_of(upload_id)
    fast = [j for j in found if j.pass_name == Pass.FAST.value]
    hd = [j for j in found if j.pass_name == Pass.HD.value]
    assert fast and hd, [(j.pass_name, j.status) for j in found]
    return fast[-1], hd[-1]


def status_of(member: Member, upload_id: int) -> HlsStatus:
    with session_scope() as s:
        return productions.export_status(session=s, member=member, upload_id=upload_id)


def master_of(data_dir: Path, status: HlsStatus) -> m3u8.M3U8:
    """The master the production serves (its file under the data dir)."""
    return m3u8.load(str(data_dir / "hls" / str(status.production_id) / "master.m3u8"))


def sizes(master: m3u8.M3U8) -> list[tuple[int, int]]:
    return [tuple(v.stream_info.resolution) for v in master.playlists]


def ffmpeg_of(job_id: int) -> int | None:
    """The pid of the ffmpeg this test process started that writes the job's work dir, if one runs."""
    mark = f".tmp-{job_id}/".encode()
    for pid in running_ladder_pids():
        try:
            if mark in (Path("/proc") / str(pid) / "cmdline").read_bytes():
                return pid
        except OSError:  # it ended meanwhile
            continue
    return None


def job_row(job_id: int) -> MediaJob:
    with session_scope() as s:
        job = s.get(MediaJob, job_id)
        assert job is not None
        return job


def tick_until_submitted(tc: LocalFfmpegTranscoder, upload_id: int, which: Pass) -> MediaJob:
    """Ticks until the export's newest job of the pass is handed to the pool; that job."""

    def submitted() -> bool:
        tick(tc, 3600)
        job = passes_of(upload_id)[0 if which is Pass.FAST else 1]
        assert JobStatus(job.status) in ACTIVE_STATUSES, (job.status, job.error_message)
        return job.provider_job_id is not None

    wait_for(submitted)
    return passes_of(upload_id)[0 if which is Pass.FAST else 1]


def tick_until_ended(tc: LocalFfmpegTranscoder, job_id: int) -> MediaJob:
    """Ticks until the job has ended; its row."""
    wait_for(lambda: tick(tc, 3600) is not None and JobStatus(job_row(job_id).status).terminal)
    return job_row(job_id)


def catch_ffmpeg(job_id: int, sig: signal.Signals) -> None:
    """Send sig to the job's ffmpeg as soon as it runs (fails the test if the job never starts one)."""
    box: list[int] = []

    def started() -> bool:
        pid = ffmpeg_of(job_id)
        box[:] = [pid] if pid else []
        return pid is not None

    wait_for(started, timeout=60)
    os.kill(box[0], sig)


def proc_state(pid: int) -> str:
    """The process's state letter from /proc/<pid>/stat (T: stopped); "gone" once it has ended."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def test_fast_pass_is_ready_before_the_hd_pass_starts(alice: Member, data_dir: Path, clip: Path) -> None:
    """The HD pass is handed to the pool only once the fast pass succeeded; meanwhile the production is ready (and
    published) with the fast pass's two variants, and the HD pass then completes the master in the ladder's order."""
    upload_id = import_clip(alice, clip)
    prep(alice, upload_id)
    published: list[int] = []

    def step() -> bool:
        """One tick, then what must hold between ticks; True once no job is pending."""
        left = tick(tc, 3600).pending
        fast, hd = passes_of(upload_id)
        if hd.provider_job_id is not None or hd.started_at is not None:
            assert fast.status == JobStatus.SUCCEEDED.value, "the HD pass started before the fast pass ended"
            assert fast.finished_at is not None and hd.submitted_at is not None
            assert fast.finished_at <= hd.submitted_at
        if fast.status == JobStatus.SUCCEEDED.value and hd.status == JobStatus.QUEUED.value and not published:
            status = status_of(alice, upload_id)
            assert status.state == "ready" and status.hd is not None and status.hd.state == "in_progress"
            assert sizes(master_of(data_dir, status)) == FAST_SIZES
            with session_scope() as s:
                space = publish.create_space(session=s, member=alice, name="Team")
                published.append(
                    publish.publish(session=s, member=alice, production_id=status.production_id, space_ids=[space.id])
                )
        return left == 0

    tc = LocalFfmpegTranscoder(data_dir / "hls")
    try:
        wait_for(step)
    finally:
        tc.close()
    assert published == [1], "the production was never ready (and published) while its HD pass was to come"
    status = status_of(alice, upload_id)
    assert status.state == "ready" and status.hd is not None and status.hd.state == "ready"
    master = master_of(data_dir, status)
    assert sizes(master) == LADDER_ORDER
    assert [v.uri for v in master.playlists] == ["v1/index.m3u8", "v0/index.m3u8", "v2/index.m3u8", "v3/index.m3u8"]
    assert [i.uri for i in master.iframe_playlists] == [f"v{n}/iframes.m3u8" for n in (1, 0, 2, 3)]
    assert ladder_problem(data_dir / "hls" / str(status.production_id)) is None
    with session_scope() as s:
        production = s.get(Production, status.production_id)
        assert production is not None and production.renditions is not None
        stored = {(r["uri"], r["width"], r["height"]) for r in production.renditions}
    expected = {(f"hls/{status.production_id}/v{n}/index.m3u8", *LADDER_ORDER[i]) for i, n in enumerate((1, 0, 2, 3))}
    assert stored == expected
    assert len(jobs_of(upload_id)) == 2


def test_hd_pass_failing_twice_leaves_the_fast_ladder_ready(
    alice: Member, data_dir: Path, clip: Path, pool: LocalFfmpegTranscoder
) -> None:
    """A killed HD ffmpeg: the production stays ready while the HD pass is tried once more; when that try is killed
    too, the HD pass is failed with its reason, the fast pass's master is still served whole, and Retry does nothing."""
    upload_id = import_clip(alice, clip)
    prep(alice, upload_id)
    for attempt in (1, 2):
        hd = tick_until_submitted(pool, upload_id, Pass.HD)
        assert hd.attempt == attempt
        catch_ffmpeg(hd.id or 0, signal.SIGKILL)  # as the OOM killer would
        assert tick_until_ended(pool, hd.id or 0).status == JobStatus.FAILED.value
        status = status_of(alice, upload_id)
        assert status.state == "ready" and status.hd is not None
        assert status.hd.state == ("in_progress" if attempt == 1 else "failed"), status.hd
    assert status.hd is not None and status.hd.detail is not None and "interrupted" in status.hd.detail
    assert tick(pool, 3600).pending == 0  # no third try
    assert [(j.pass_name, j.status) for j in jobs_of(upload_id)] == [
        (Pass.FAST.value, JobStatus.SUCCEEDED.value),
        (Pass.HD.value, JobStatus.FAILED.value),
        (Pass.HD.value, JobStatus.FAILED.value),
    ]
    folder = data_dir / "hls" / str(status.production_id)
    assert sizes(master_of(data_dir, status)) == FAST_SIZES and ladder_problem(folder) is None
    assert not list(folder.parent.glob("*.tmp-*"))  # the failed passes' work dirs are gone
    again = prep(alice, upload_id)  # a member's Retry: nothing to restart while ready
    assert again.state == "ready" and again.production_id == status.production_id
    assert len(jobs_of(upload_id)) == 3 and tick(pool, 3600).pending == 0


def test_a_job_after_the_lanes_went_idle_starts(tmp_path: Path, pool: LocalFfmpegTranscoder) -> None:
    """Both lanes' workers wait on one condition: a new job wakes its own lane's worker, whichever waited first."""
    source = make_clip(tmp_path / "small.mp4", seconds=1.0)
    for job_id in (1, 2):  # the second is submitted once the first lane's worker waits behind the HD lane's
        req = request(source, job_id=job_id, production_id=10 + job_id)
        pool.submit(req)
        assert final_report(pool, req).status is JobStatus.SUCCEEDED


def test_a_failed_fast_pass_cancels_its_hd_pass_and_retry_makes_both(
    alice: Member, data_dir: Path, clip: Path, pool: LocalFfmpegTranscoder
) -> None:
    """A killed fast pass: its HD pass, waiting for it, is canceled without ever reaching the pool; the export is
    failed, and a member's Retry makes a new production of both passes."""
    upload_id = import_clip(alice, clip)
    first = prep(alice, upload_id)
    fast = tick_until_submitted(pool, upload_id, Pass.FAST)
    catch_ffmpeg(fast.id or 0, signal.SIGKILL)
    assert tick_until_ended(pool, fast.id or 0).status == JobStatus.FAILED.value
    fast, hd = passes_of(upload_id)
    assert hd.status == JobStatus.CANCELED.value and hd.error_code == "fast_pass_failed"
    assert hd.provider_job_id is None and hd.started_at is None  # never handed to the pool
    status = status_of(alice, upload_id)
    assert status.state == "failed" and status.detail is not None and "interrupted" in status.detail
    retry = prep(alice, upload_id)
    assert retry.state == "in_progress" and retry.production_id != first.production_id
    run_until_terminal(pool)
    status = status_of(alice, upload_id)
    assert status.state == "ready" and status.hd is not None and status.hd.state == "ready"
    assert sizes(master_of(data_dir, status)) == LADDER_ORDER
    assert [(j.production_id, j.pass_name, j.status) for j in jobs_of(upload_id)] == [
        (first.production_id, Pass.FAST.value, JobStatus.FAILED.value),
        (first.production_id, Pass.HD.value, JobStatus.CANCELED.value),
        (retry.production_id, Pass.FAST.value, JobStatus.SUCCEEDED.value),
        (retry.production_id, Pass.HD.value, JobStatus.SUCCEEDED.value),
    ]


@pytest.mark.parametrize("stopped", [Pass.FAST, Pass.HD])
def test_a_restart_mid_pass_resumes_that_pass(alice: Member, data_dir: Path, clip: Path, stopped: Pass) -> None:
    """The app stops (its pool closed, as its shutdown does) while a pass encodes; the next pool resumes that pass and
    the one after it, each once: two jobs in all, the fast pass's output not made again."""
    upload_id = import_clip(alice, clip)
    prep(alice, upload_id)
    first = LocalFfmpegTranscoder(data_dir / "hls")
    try:
        job = tick_until_submitted(first, upload_id, stopped)
        catch_ffmpeg(job.id or 0, signal.SIGSTOP)  # held mid-pass, so the stop comes before it ends
        status = status_of(alice, upload_id)
        assert status.state == ("ready" if stopped is Pass.HD else "in_progress")
    finally:
        first.close()
    tick(first, 3600)  # a tick under way as the app stops polls the closed pool: the pass is not failed
    assert running_ladder_pids() == []
    assert JobStatus(job_row(job.id or 0).status) in ACTIVE_STATUSES  # left for the next pool, not failed
    folder = data_dir / "hls" / str(status.production_id)
    fast_output = (folder / "v2" / "seg000.ts").stat().st_ino if stopped is Pass.HD else None
    second = LocalFfmpegTranscoder(data_dir / "hls")
    try:
        run_until_terminal(second)
    finally:
        second.close()
    status = status_of(alice, upload_id)
    assert status.state == "ready" and status.hd is not None and status.hd.state == "ready"
    assert sizes(master_of(data_dir, status)) == LADDER_ORDER and ladder_problem(folder) is None
    assert [(j.pass_name, j.status) for j in jobs_of(upload_id)] == [
        (Pass.FAST.value, JobStatus.SUCCEEDED.value),
        (Pass.HD.value, JobStatus.SUCCEEDED.value),
    ]
    if fast_output is not None:
        assert (folder / "v2" / "seg000.ts").stat().st_ino == fast_output  # the fast pass was not done again
    assert not list(folder.parent.glob("*.tmp-*"))


def test_a_fast_pass_never_waits_for_an_hd_pass(tmp_path: Path, pool: LocalFfmpegTranscoder) -> None:
    """One worker a lane: member A's HD pass runs, member B's fast pass comes and starts at once; A's HD ffmpeg is
    stopped (SIGSTOP) while B's encodes, and goes on to its end after."""
    a_hd = dataclasses.replace(
        request(make_clip(tmp_path / "a.mp4", seconds=6.0, width=1280, height=720), job_id=1, production_id=11),
        owner_id=1,
        pass_name=Pass.HD,
    )
    b_fast = dataclasses.replace(
        request(clip_720p(tmp_path / "b.mp4"), job_id=2, production_id=12),
        owner_id=2,
        pass_name=Pass.FAST,
    )
    (pool.hls_dir / "11").mkdir(parents=True)
    (pool.hls_dir / "11" / "master.m3u8").write_text("#EXTM3U\n")  # A's fast pass's master, for its HD to join
    pool.submit(a_hd)
    wait_for(lambda: ffmpeg_of(1) is not None)
    a_pid = ffmpeg_of(1) or 0
    pool.submit(b_fast)

    def b_encodes_while_a_is_stopped() -> bool:
        a, b = pool.poll([pending(a_hd), pending(b_fast)])
        assert not a.status.terminal, "A's HD pass ended before B's fast pass started"
        assert not b.status.terminal, "B's fast pass ended and A's HD ffmpeg was never stopped"
        return b.phase == "TRANSCODING" and proc_state(a_pid) == "T"

    wait_for(b_encodes_while_a_is_stopped)
    assert final_report(pool, b_fast).status is JobStatus.SUCCEEDED
    assert proc_state(a_pid) != "T"  # continued as B's ended
    assert final_report(pool, a_hd).status is JobStatus.SUCCEEDED
