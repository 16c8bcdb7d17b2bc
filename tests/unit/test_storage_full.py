"""A full disk (a real tmpfs filled to the brim) is told as the server's fault, in every path, and loses nothing."""

from __future__ import annotations

import errno
import logging
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy.exc

from exports_app.domain import JobStatus
from exports_app.services import faults
from exports_app.services.auth import Member
from exports_app.storage_faults import STORAGE_FULL_CODE, STORAGE_FULL_MESSAGE, is_storage_error, mentions_storage
from exports_app.transcode.local_ffmpeg import LocalFfmpegTranscoder
from tests.support.clips import make_clip
from tests.support.local_jobs import final_report, request
from tests.support.tmpfs import fill, full_disk_data_dir, small_tmpfs  # noqa: F401  (a fixture)

# ruff: noqa: F811  (test parameters named after the fixtures imported above)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EROFS])
def test_each_storage_errno_is_one_fault(code: int) -> None:
    assert is_storage_error(OSError(code, "x"))
    wrapped = RuntimeError("while storing")
    wrapped.__cause__ = OSError(code, "x")
    assert is_storage_error(wrapped)


def test_sqlite_full_is_a_storage_fault_and_a_locked_database_is_not() -> None:
    full = sqlite3.OperationalError("database or disk is full")
    assert is_storage_error(sqlalchemy.exc.OperationalError("INSERT", {}, full))
    locked = sqlalchemy.exc.OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
    assert not is_storage_error(locked)
    assert isinstance(faults.member_fault(locked), faults.Unavailable)
    assert not is_storage_error(OSError(errno.ENOENT, "missing"))
    assert faults.member_fault(ValueError("a bug")) is None


def test_ffmpeg_words_for_a_full_disk() -> None:
    assert mentions_storage(["[hls @ 0x1] Failed to open file 'seg.ts': No space left on device"])
    assert not mentions_storage(["Invalid data found when processing input"])


def test_prep_on_a_full_disk_fails_as_the_servers_fault(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    clip = make_clip(tmp_path / "in.mp4", seconds=4.0, width=640, height=360)
    with small_tmpfs(tmp_path / "disk", "256k") as disk:
        fill(disk)
        transcoder = LocalFfmpegTranscoder(disk / "hls")
        try:
            req = request(clip)
            transcoder.submit(req)
            with caplog.at_level(logging.ERROR):
                report = final_report(transcoder, req)
        finally:
            transcoder.close()
        assert report.status is JobStatus.FAILED
        assert (report.error_code, report.error_message) == (STORAGE_FULL_CODE, STORAGE_FULL_MESSAGE)
        assert not any((disk / "hls").glob("*.tmp-*")), "the half-written ladder is removed"
        told = [r.getMessage() for r in caplog.records if "storage fault" in r.getMessage()]
        assert len(told) == 1 and str(disk / "hls") in told[0] and "bytes free" in told[0]


def test_room_is_checked_before_new_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from exports_app import config

    with small_tmpfs(tmp_path / "disk", "1m") as disk:
        monkeypatch.setenv("EXPORTS_DATA_DIR", str(disk))
        monkeypatch.setenv("EXPORTS_MIN_FREE_BYTES", str(512 * 1024))
        config.get_settings.cache_clear()
        try:
            faults.ensure_room()  # 1 MiB free
            ballast = fill(disk)
            with pytest.raises(faults.StorageFull) as refused:
                faults.ensure_room()
            assert refused.value.message == STORAGE_FULL_MESSAGE
            ballast.unlink()
            faults.ensure_room()
        finally:
            config.get_settings.cache_clear()


def test_cli_on_a_full_disk_says_one_line(
    full_disk_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    from exports_app.cli import main

    assert main(["user", "create", "gus", "--password", "long enough pw"]) == 0
    clip = make_clip(tmp_path / "clip.mp4", seconds=1.0, width=320, height=240)
    ballast = fill(full_disk_data_dir)
    assert main(["export", "import", "--user", "gus", str(clip)]) == 1
    assert capsys.readouterr().err == f"error: {STORAGE_FULL_MESSAGE}\n"
    (told,) = [r.getMessage() for r in caplog.records if "storage fault" in r.getMessage()]
    assert told.startswith(f"storage fault at {full_disk_data_dir / 'uploads'}") and "(0 bytes free)" in told
    ballast.unlink()
    assert not list((full_disk_data_dir / "uploads").rglob("source*")), "nothing half-stored"


def test_staging_on_a_file_system_of_its_own_still_stores(data_dir: Path, alice: Member, tmp_path: Path) -> None:
    """An operator may mount the staging folder apart (its own small disk): the staged upload is copied into
    place, since a rename cannot cross file systems."""
    import shutil

    from exports_app.db import session_scope
    from exports_app.services import exports, storage

    with small_tmpfs(data_dir / storage.STAGING, "4m"):
        staged = storage.staging_path()
        shutil.copyfile(make_clip(tmp_path / "clip.mp4", seconds=1.0, width=320, height=240), staged)
        with session_scope() as s:
            upload = exports.import_export(session=s, member=alice, source=staged, staged=True)
        assert (data_dir / upload.storage_key).stat().st_size == upload.size_bytes
