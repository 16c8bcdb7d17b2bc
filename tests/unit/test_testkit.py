"""The testkit's shortcuts keep what the tests rely on: members made with one shared hash still sign in (and only
with their password), a running app's command line runs in the test's process, on the app's data, a clip asked
for again is a copy of the one encoded first, and xdist's work units go out whole, longest first."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import select

from exports_app.db import session_scope
from exports_app.models import User
from exports_app.services import auth
from exports_app.transcode import clips
from exports_app.transcode.ffmpeg import ffmpeg_exe
from tests.support import clips as test_clips
from tests.support import scheduling
from tests.support.app_process import RunningApp
from tests.support.clips import CLIPS_CACHE_ENV, encoded_once, make_clip
from tests.support.records import PASSWORD, make_member


def no_new_process(*args: object, **kwargs: object) -> None:
    raise AssertionError(f"a new process: {args}")


def test_members_share_one_argon2_hash_and_each_signs_in_with_the_password(data_dir: Path) -> None:
    ann, ben = make_member("ann"), make_member("ben")
    with session_scope() as s:
        hashes = {user.username: user.password_hash for user in s.exec(select(User))}
        assert hashes["ann"] == hashes["ben"] and hashes["ann"].startswith("$argon2id$")
        for member in (ann, ben):
            assert auth.authenticate(session=s, username=member.username, password=PASSWORD) == member
            assert auth.authenticate(session=s, username=member.username, password="not the password") is None


def test_a_running_apps_command_line_runs_in_this_process_on_the_apps_data(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    finished = subprocess.Popen(["true"])  # stands for the app's server process, which cli() never touches
    finished.wait()
    app = RunningApp(
        "http://127.0.0.1:9", data_dir, {"EXPORTS_DATA_DIR": str(data_dir)}, tmp_path / "log", finished, tmp_path
    )

    monkeypatch.setattr(subprocess, "run", no_new_process)
    monkeypatch.setattr(subprocess, "Popen", no_new_process)
    made = app.cli("user", "create", "carl", "--password", PASSWORD)
    with session_scope() as s:
        (carl,) = s.exec(select(User).where(User.username == "carl"))
    assert made == f"created user carl (id {carl.id})"
    # A refusal fails the caller with the command's one line, as a non-zero exit did.
    with pytest.raises(AssertionError, match="A password needs at least 8 characters"):
        app.cli("user", "create", "dana", "--password", "short")


def test_a_clip_is_encoded_once_on_the_machine_and_each_caller_gets_a_copy_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv(CLIPS_CACHE_ENV, str(cache))  # an empty cache, as a new machine has
    first = make_clip(tmp_path / "first.mp4", seconds=0.2, width=64, height=48)
    assert [found.suffix for found in cache.iterdir()] == [".mp4"]  # the clip alone: no partial file left
    with monkeypatch.context() as no_encoder:
        no_encoder.setattr(subprocess, "run", no_new_process)
        again = make_clip(tmp_path / "again" / "again.mp4", 0.2, 64, 48)  # the same arguments, given by position
        assert again.read_bytes() == first.read_bytes() and again.stat().st_ino != first.stat().st_ino
        again.write_bytes(b"a test's own change")
        assert make_clip(tmp_path / "third.mp4", seconds=0.2, width=64, height=48).read_bytes() == first.read_bytes()
        with pytest.raises(AssertionError, match="a new process"):  # other arguments: another clip, encoded anew
            make_clip(tmp_path / "silent.mp4", seconds=0.2, width=64, height=48, audio=False)
        # Another process, or a later run, finds it in the cache too: a fresh wrapper has nothing of its own.
        later_run = encoded_once(clips.make_clip)
        assert later_run(tmp_path / "later.mp4", 0.2, 64, 48).read_bytes() == first.read_bytes()
    # A clip that another ffmpeg binary would make is made anew.
    (tmp_path / "other-ffmpeg").symlink_to(ffmpeg_exe())
    monkeypatch.setattr(clips, "ffmpeg_exe", lambda: str(tmp_path / "other-ffmpeg"))
    monkeypatch.setattr(test_clips, "ffmpeg_exe", lambda: str(tmp_path / "other-ffmpeg"))
    make_clip(tmp_path / "other.mp4", seconds=0.2, width=64, height=48)
    assert len(list(cache.iterdir())) == 2


def test_work_units_go_out_longest_first_each_whole_and_in_its_order(tmp_path: Path) -> None:
    @dataclass(frozen=True)
    class Test:
        nodeid: str

    collected = [
        Test("tests/unit/test_a.py::one"),
        Test("tests/security/test_x.py::one"),
        Test("tests/unit/test_a.py::two"),
        Test("tests/e2e/test_slow.py::one"),
        Test("tests/security/test_y.py::one"),
        Test("tests/unit/test_new.py::one"),  # unknown: UNKNOWN_SECONDS_PER_TEST (3 s) a test
    ]
    stored = tmp_path / "durations.json"
    scheduling.store_durations(
        [
            ("tests/unit/test_a.py::one", 0.5),
            ("tests/unit/test_a.py::two", 0.5),
            ("tests/security/test_x.py::one", 30.0),
            ("tests/security/test_y.py::one", 40.0),
            ("tests/e2e/test_slow.py::one", 60.0),
        ],
        stored,
    )
    durations = scheduling.known_durations(stored)
    assert durations == {"tests/security/": 70.0, "tests/e2e/test_slow.py": 60.0, "tests/unit/test_a.py": 1.0}
    assert [t.nodeid for t in scheduling.longest_first(collected, durations)] == [
        "tests/security/test_x.py::one",
        "tests/security/test_y.py::one",
        "tests/e2e/test_slow.py::one",
        "tests/unit/test_new.py::one",
        "tests/unit/test_a.py::one",
        "tests/unit/test_a.py::two",
    ]
    stored.write_text("not json")
    assert scheduling.known_durations(stored) == {} == scheduling.known_durations(tmp_path / "absent.json")
