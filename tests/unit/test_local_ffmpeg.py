"""The local transcoder with real ffmpeg: a valid ladder, progress, errors, queueing, cancel, resume."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import m3u8
import pytest

from exports_app.domain import JobStatus
from exports_app.transcode.base import JobRequest
from exports_app.transcode.ffmpeg import ffmpeg_exe
from exports_app.transcode.ffmpeg_run import human_error
from exports_app.transcode.hls_encode import build_ladder_command
from exports_app.transcode.ladder import choose_renditions
from exports_app.transcode.local_ffmpeg import LocalFfmpegTranscoder
from exports_app.transcode.probe import probe_video
from tests.support.clips import make_clip
from tests.support.local_jobs import final_report, pending, request, wait_for
from tests.support.media import running_ladder_pids


def assert_valid_ladder(master_path: Path, source_seconds: float) -> None:
    master = m3u8.load(str(master_path))
    assert master.is_variant and master.playlists
    for variant in master.playlists:
        info = variant.stream_info
        assert info.bandwidth and info.resolution and info.codecs
        playlist = m3u8.load(str(master_path.parent / variant.uri))
        assert playlist.is_endlist and playlist.playlist_type == "vod"
        for segment in playlist.segments:
            seg = master_path.parent / Path(variant.uri).parent / segment.uri
            assert seg.is_file() and seg.stat().st_size > 0
        assert abs(sum(s.duration for s in playlist.segments) - source_seconds) <= 0.5


@pytest.fixture
def hls_dir(tmp_path: Path) -> Path:
    return tmp_path / "hls"


@pytest.fixture
def transcoder(hls_dir: Path) -> Iterator[LocalFfmpegTranscoder]:
    tc = LocalFfmpegTranscoder(hls_dir)
    yield tc
    tc.close()


def test_command_is_one_process_for_the_whole_ladder(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", seconds=1.0, width=1280, height=720, audio=False)
    probe = probe_video(clip)
    cmd = build_ladder_command("ffmpeg", clip, tmp_path, choose_renditions(probe.width, probe.height), probe)
    assert cmd.count("-i") == 1 and "-master_pl_name" in cmd
    assert "v:0,name:v0 v:1,name:v1 v:2,name:v2 v:3,name:v3" in cmd


def test_success_makes_a_playable_ladder(tmp_path: Path, hls_dir: Path, transcoder: LocalFfmpegTranscoder) -> None:
    clip = make_clip(tmp_path / "in.mp4", seconds=3.0, width=640, height=360)
    req = request(clip)
    assert transcoder.submit(req) == "local-1"
    report = final_report(transcoder, req)
    assert report.status is JobStatus.SUCCEEDED and report.percent == 100
    assert report.master_playlist_uri == "hls/10/master.m3u8"
    assert [(r.width, r.height) for r in report.renditions] == [(640, 360), (416, 234)]
    assert_valid_ladder(hls_dir / "10" / "master.m3u8", 3.0)
    assert not list(hls_dir.glob("*.tmp-*"))  # the work dir was renamed into place


def test_source_without_audio(tmp_path: Path, hls_dir: Path, transcoder: LocalFfmpegTranscoder) -> None:
    clip = make_clip(tmp_path / "silent.mp4", seconds=2.0, width=854, height=480, audio=False)
    report = final_report(transcoder, transcoder_submit(transcoder, request(clip)))
    assert report.status is JobStatus.SUCCEEDED
    assert len(report.renditions) == 2
    assert_valid_ladder(hls_dir / "10" / "master.m3u8", 2.0)


def transcoder_submit(tc: LocalFfmpegTranscoder, req: JobRequest) -> JobRequest:
    tc.submit(req)
    return req


@pytest.mark.parametrize(("content", "code"), [(b"this is text, not a video", "input_invalid"), (b"", "input_invalid")])
def test_corrupt_input_fails_with_a_readable_detail(
    tmp_path: Path, transcoder: LocalFfmpegTranscoder, content: bytes, code: str
) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    report = final_report(transcoder, transcoder_submit(transcoder, request(bad)))
    assert report.status is JobStatus.FAILED and report.error_code == code
    assert report.error_message and len(report.error_message) <= 200 and str(tmp_path) not in report.error_message


def test_missing_input_fails(tmp_path: Path, transcoder: LocalFfmpegTranscoder) -> None:
    report = final_report(transcoder, transcoder_submit(transcoder, request(tmp_path / "gone.mp4")))
    assert report.status is JobStatus.FAILED and report.error_code == "input_missing"


def test_human_error_picks_the_telling_line(tmp_path: Path) -> None:
    lines = [
        "ffmpeg version 9",
        "[in#0 @ 0x55] Error opening input: Invalid data found when processing input",
        f"Error opening input file {tmp_path}/x.mp4.",
        "Error opening input files: Invalid data found when processing input",
    ]
    assert human_error(lines, tmp_path / "x.mp4") == "Invalid data found when processing input"
    assert human_error([]) == "Ffmpeg failed without a message"


def test_concurrency_limit_queues_and_submit_is_idempotent(tmp_path: Path, transcoder: LocalFfmpegTranscoder) -> None:
    clip = make_clip(tmp_path / "in.mp4", seconds=6.0, width=640, height=360)
    first, second = request(clip, 1, 10), request(clip, 2, 11)
    transcoder.submit(first)
    transcoder.submit(first)  # a duplicate submit starts nothing new
    transcoder.submit(second)
    wait_for(lambda: transcoder.poll([pending(first)])[0].status is JobStatus.RUNNING)
    assert transcoder.poll([pending(second)])[0].phase == "QUEUED"
    assert final_report(transcoder, first).status is JobStatus.SUCCEEDED
    assert final_report(transcoder, second).status is JobStatus.SUCCEEDED


def test_cancel_kills_ffmpeg(tmp_path: Path, hls_dir: Path, transcoder: LocalFfmpegTranscoder) -> None:
    clip = make_clip(tmp_path / "long.mp4", seconds=30.0, width=1280, height=720)
    req = transcoder_submit(transcoder, request(clip))
    wait_for(lambda: transcoder.poll([pending(req)])[0].phase == "TRANSCODING")
    transcoder.cancel(pending(req))
    report = final_report(transcoder, req)
    assert report.status is JobStatus.CANCELED
    assert running_ladder_pids() == [] and not list(hls_dir.glob("*.tmp-*"))


def test_close_stops_ffmpeg_and_leaves_its_job_to_the_next_leader(tmp_path: Path, hls_dir: Path) -> None:
    """The app's shutdown: ffmpeg is killed and waited for, but its job is not failed (a tick still under way would
    write that down); it stays pending, and whoever leads next starts it over. A submit now is put off, not failed."""
    tc = LocalFfmpegTranscoder(hls_dir)
    req = transcoder_submit(tc, request(make_clip(tmp_path / "long.mp4", seconds=30.0, width=1280, height=720)))
    wait_for(lambda: tc.poll([pending(req)])[0].phase == "TRANSCODING")
    tc.close()
    assert not tc.poll([pending(req)])[0].status.terminal
    assert running_ladder_pids() == [] and not list(hls_dir.glob("*.tmp-*"))
    with pytest.raises(RuntimeError) as refused:
        tc.submit(request(tmp_path / "long.mp4", job_id=2))
    assert tc.is_transient(refused.value)


def test_unknown_pending_job_is_resumed_and_wake_is_called(tmp_path: Path, hls_dir: Path) -> None:
    woke = threading.Event()
    tc = LocalFfmpegTranscoder(hls_dir, wake=woke.set)
    try:
        clip = make_clip(tmp_path / "in.mp4", seconds=1.0)
        req = request(clip, job_id=7, production_id=70)
        # As after a restart: the database says submitted, this process never saw the job.
        first = tc.poll([pending(req)])[0]
        assert first.status in (JobStatus.SUBMITTED, JobStatus.RUNNING) and not first.status.terminal
        assert final_report(tc, req).status is JobStatus.SUCCEEDED
        assert woke.wait(10)
    finally:
        tc.close()


def test_progress_rises(tmp_path: Path, transcoder: LocalFfmpegTranscoder) -> None:
    clip = make_clip(tmp_path / "in.mp4", seconds=12.0, width=1280, height=720)
    req = transcoder_submit(transcoder, request(clip))
    seen: set[int] = set()

    def done() -> bool:
        report = transcoder.poll([pending(req)])[0]
        seen.add(report.percent or 0)
        return report.status.terminal

    wait_for(done)
    assert 100 in seen and any(0 < p < 100 for p in seen)


def test_members_take_turns_in_the_queue() -> None:
    from exports_app.transcode.fair_queue import FairQueue

    line = FairQueue()
    for job_id in (1, 2, 3):
        line.append("ann", job_id)  # one member's batch first
    line.append("ben", 4)
    line.append("cat", 5)
    line.append("ben", 6)
    assert line.remove(3) and not line.remove(3)
    assert len(line) == 5
    assert [line.pop() for _ in range(5)] == [1, 4, 5, 2, 6]
    assert not line


def scheduling(pid: int) -> tuple[int, str]:
    """(nice of the process's main thread, its session's scheduling group line) as the kernel reports them."""
    autogroup = Path(f"/proc/{pid}/autogroup")
    return os.getpriority(os.PRIO_PROCESS, pid), autogroup.read_text().strip() if autogroup.exists() else ""


def test_ffmpeg_runs_below_the_app_and_its_session_group_too(tmp_path: Path, hls_dir: Path) -> None:
    """The web worker must win the CPU while a transcode runs: ffmpeg's threads and its session's group get the
    configured nice (a session of its own would otherwise compete with the app's as an equal)."""
    clip = make_clip(tmp_path / "src.mp4", seconds=1.0)
    slow_start = tmp_path / "ffmpeg"  # the real ffmpeg, started a moment late so its priority can be read
    slow_start.write_text(f'#!/bin/sh\nsleep 3\nexec "{ffmpeg_exe()}" "$@"\n')
    slow_start.chmod(0o755)
    app_nice = os.getpriority(os.PRIO_PROCESS, 0)
    tc = LocalFfmpegTranscoder(hls_dir, ffmpeg_exe=str(slow_start), nice=19)
    try:
        req = request(clip)
        tc.submit(req)
        wait_for(lambda: tc._jobs[req.media_job_id].process is not None, timeout=30)
        process = tc._jobs[req.media_job_id].process
        assert process is not None
        # Read once the child has become the (slow-starting) ffmpeg: before its exec it may still be starting
        # Python, its priority not set yet (a loaded machine makes that moment long).
        pid = process.pid
        wait_for(lambda: "bound_child" not in Path(f"/proc/{pid}/cmdline").read_text(), timeout=30)
        nice, group = scheduling(pid)
        assert final_report(tc, req).status is JobStatus.SUCCEEDED  # and it still finishes
    finally:
        tc.close()
    assert nice == 19 and os.getpriority(os.PRIO_PROCESS, 0) == app_nice  # the app itself keeps its priority
    if group:  # where the kernel groups sessions (autogroup), the group is lowered too
        assert group.endswith("nice 19"), group
