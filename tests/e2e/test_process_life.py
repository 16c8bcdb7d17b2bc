"""ffmpeg ends with the app that started it. The app as `make run` starts it is stopped in the middle of a transcode,
once by SIGTERM to its process group (a clean shutdown, slowed by a request still arriving) and once by SIGKILL (a
crash): no ffmpeg of it is left either time. Started again on the same data dir, it takes both preps to Ready with a
complete HLS, and the member never sees Failed. Then a SIGTERM to its main process alone ends its server too."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import m3u8
import pytest

from tests.support.app_process import RunningApp, group_pids, start_app
from tests.support.clips import make_clip
from tests.support.http import app_client
from tests.support.local_jobs import wait_for
from tests.support.media import ffmpeg_processes

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery"
ENV = {"EXPORTS_SKIP_SEED": "1", "EXPORTS_REFRESH_SECONDS": "1"}
CLIP_S = 20.0  # long enough to be caught mid-transcode (then held by SIGSTOP, so the rest of the test is not a race)
STOP_GRACE_S = 15.0  # what the test gives a SIGTERM before SIGKILL, as a supervisor does
GONE_GRACE_S = 10.0  # once the app's processes are gone, the time its ffmpeg gets to be gone too


def app_ladders(data_dir: Path) -> list[int]:
    """The app's running ffmpeg processes: those whose command line names its data dir."""
    return [pid for pid, args in ffmpeg_processes() if str(data_dir).encode() in b" ".join(args)]


def signed_in(app: RunningApp) -> httpx.Client:
    client = app_client(base_url=app.url, timeout=60)
    assert client.post("/api/auth/login", json={"username": "ida", "password": PASSWORD}).status_code == 200
    client.headers["X-CSRF-Token"] = client.cookies["csrf_token"]
    return client


@contextmanager
def request_still_arriving(app: RunningApp) -> Iterator[None]:
    """A request whose body has not all arrived, as a long upload's: a graceful shutdown waits for it to end."""
    url = urlsplit(app.url)
    with socket.create_connection((url.hostname, url.port)) as held:
        held.sendall(
            b"POST /api/auth/login HTTP/1.1\r\nHost: " + url.netloc.encode() + b"\r\n"
            b"Content-Type: application/json\r\nContent-Length: 4096\r\n\r\n{"
        )
        yield


def stop_mid_transcode(app: RunningApp, how: signal.Signals) -> list[int]:
    """Hold the app's running ffmpeg (SIGSTOP), stop the app's process group with `how`: its ffmpeg left."""
    wait_for(lambda: bool(app_ladders(app.data_dir)), timeout=240)
    for pid in app_ladders(app.data_dir):
        os.kill(pid, signal.SIGSTOP)  # mid-transcode it stays, whatever the machine's load: no race with its end
    group = app.process.pid
    left: set[int] = set()
    if how is signal.SIGTERM:
        with request_still_arriving(app):
            os.killpg(group, signal.SIGTERM)
            try:  # ffmpeg goes at once, not once the shutdown is through (the request holds that up)
                wait_for(lambda: not app_ladders(app.data_dir), timeout=STOP_GRACE_S)
            except AssertionError:
                left |= set(app_ladders(app.data_dir))
    else:
        os.killpg(group, how)
    try:
        app.process.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        os.killpg(group, signal.SIGKILL)
    wait_for(lambda: not group_pids(group), timeout=60)
    try:
        wait_for(lambda: not app_ladders(app.data_dir), timeout=GONE_GRACE_S)
    except AssertionError:
        left |= set(app_ladders(app.data_dir))
    return sorted(left)


def forked_children(pid: int) -> int:
    """How many child processes `pid` has, each running its program (a fork); AssertionError for any other."""
    # Each thread's children are listed under its own task: a child started from another thread counts too.
    children = [
        child for task in Path(f"/proc/{pid}/task").iterdir() for child in (task / "children").read_text().split()
    ]
    program = Path(f"/proc/{pid}/cmdline").read_bytes()
    for child in children:
        assert Path(f"/proc/{child}/cmdline").read_bytes() == program, f"{pid} started another program: {child}"
    return len(children)


def assert_complete_hls(client: httpx.Client, hls_url: str, seconds: float) -> None:
    master = m3u8.loads(client.get(hls_url).text)
    assert master.playlists
    for variant in master.playlists:
        playlist = m3u8.loads(client.get(hls_url.rsplit("/", 1)[0] + "/" + variant.uri).text)
        assert playlist.is_endlist and playlist.segments, variant.uri
        assert abs(sum(segment.duration for segment in playlist.segments) - seconds) <= 0.5, variant.uri


def test_ffmpeg_ends_with_the_app_and_the_prep_still_ends_ready(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    clip = make_clip(tmp_path / "clip.mp4", seconds=CLIP_S, width=320, height=180)
    left: dict[str, list[int]] = {}
    uploads: list[str] = []
    try:
        for how in (signal.SIGTERM, signal.SIGKILL):
            app = start_app(data_dir, ENV)
            try:
                if not uploads:
                    app.cli("user", "create", "ida", "--password", PASSWORD)
                uploads.append(app.cli("export", "import", "--user", "ida", str(clip), "--title", how.name))
                prep = signed_in(app).post(f"/api/exports/{uploads[-1]}/prep-hls")
                assert prep.json()["state"] == "in_progress", prep.text
                left[how.name] = stop_mid_transcode(app, how)
            finally:
                app.stop()
    finally:
        for pid in {pid for pids in left.values() for pid in pids}:  # the ffmpeg this test's apps left: ended here
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    print(f"ffmpeg left: {', '.join(f'{name} {len(pids)}' for name, pids in left.items())}")
    assert {name: len(pids) for name, pids in left.items()} == {"SIGTERM": 0, "SIGKILL": 0}

    app = start_app(data_dir, ENV)
    try:
        # The process `make run` starts is the server: gunicorn's master, its one worker forked from it. (Reflex starts
        # gunicorn as a program of its own, which imported the whole app again and could outlive its starter.)
        assert forked_children(app.process.pid) == 1
        client = signed_in(app)
        states: set[str] = set()  # every state the member was shown, both exports
        for upload in uploads:
            status = f"/api/exports/{upload}/hls-status"

            def ended(status: str = status) -> bool:
                state = client.get(status).json()["state"]
                states.add(state)
                return state in ("ready", "failed")

            wait_for(ended, timeout=240)
            body = client.get(status).json()
            assert body["state"] == "ready", body
            assert_complete_hls(client, body["hlsUrl"], CLIP_S)
        assert "failed" not in states
        # A SIGTERM to the app's main process alone (`kill PID`, a supervisor that signals only it): its server does
        # not serve on as an orphan (its gunicorn, once a child process, did; it now runs in that process).
        os.kill(app.process.pid, signal.SIGTERM)
        app.process.wait(timeout=STOP_GRACE_S)
        wait_for(lambda: not group_pids(app.process.pid), timeout=STOP_GRACE_S)
    finally:
        app.stop()
