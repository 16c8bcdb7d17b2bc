"""Housekeeping and server secrets: purge of deleted exports' files, shared-state tokens, staged uploads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import col

from exports_app.db import session_scope
from exports_app.domain import utcnow
from exports_app.models import Upload
from exports_app.services import exports, secrets, storage
from exports_app.services.auth import Member
from tests.support.clips import make_clip
from tests.support.records import import_clip

pytestmark = pytest.mark.server_db  # re-run on MariaDB and PostgreSQL by `make test`


def stored_path(upload_id: int) -> Path:
    with session_scope() as session:
        upload = session.get(Upload, upload_id)
        assert upload is not None
        return storage.path_for(upload.storage_key)


def test_purge_removes_files_of_long_deleted_exports_only(data_dir: Path, alice: Member, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "c.mp4", seconds=1.0, width=160, height=120)
    old, recent, live = (import_clip(alice, clip) for _ in range(3))
    with session_scope() as session:
        exports.delete_export(session=session, member=alice, upload_id=old)
        exports.delete_export(session=session, member=alice, upload_id=recent)
        session.execute(sa.update(Upload).where(col(Upload.id) == old).values(deleted_at=utcnow() - timedelta(days=31)))
    with session_scope() as session:
        assert exports.purge_deleted_files(session=session, older_than=timedelta(days=30)) == 1
    assert not stored_path(old).exists()
    assert stored_path(recent).exists() and stored_path(live).exists()
    with session_scope() as session:
        assert exports.purge_deleted_files(session=session, older_than=timedelta(days=30)) == 0  # marked, not redone
        row = session.get(Upload, old)
        assert row is not None and row.files_purged_at is not None and row.deleted_at is not None


def test_member_tokens_are_keyed_and_never_look_like_a_tab(data_dir: Path, monkeypatch: object) -> None:
    from exports_app.api.guard import CLIENT_TOKEN

    first, second = secrets.member_token(1), secrets.member_token(2)
    assert first != second and first == secrets.member_token(1)
    assert "_" not in first and "1" != first and not CLIENT_TOKEN.fullmatch(first)
    assert len(first) > 40  # 192 bits of HMAC: not guessable from the member id


def test_the_database_key_is_made_once_and_shared(data_dir: Path) -> None:
    with session_scope() as session:
        key = secrets._stored_key(session)
    with session_scope() as session:
        assert secrets._stored_key(session) == key


def test_concurrent_first_uses_agree_on_one_key(data_dir: Path) -> None:
    """Every worker that finds no key makes one at once: the first insert wins and all of them use it."""
    start = threading.Barrier(8)

    def first_use(_: int) -> str:
        with session_scope() as session:
            session.connection()
            start.wait(timeout=60)
            return secrets._stored_key(session)

    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = set(pool.map(first_use, range(8)))
    with session_scope() as session:
        assert keys == {secrets._stored_key(session)}


def test_a_staged_upload_is_moved_not_copied(data_dir: Path, alice: Member, tmp_path: Path) -> None:
    staged = storage.staging_path()
    make_clip(staged.with_suffix(".mp4"), seconds=1.0, width=160, height=120).rename(staged)
    inode = staged.stat().st_ino
    upload_id = import_clip(alice, staged, filename="holiday.mov", staged=True)
    assert not staged.exists() and stored_path(upload_id).stat().st_ino == inode


@pytest.mark.parametrize("key", ["../outside.mp4", "uploads/../../outside.mp4", "/etc/passwd", "uploads/a\x00b"])
def test_a_key_that_leaves_the_data_dir_is_refused_every_time(data_dir: Path, key: str) -> None:
    for _ in range(2):  # a refusal is not remembered as an answer
        with pytest.raises(FileNotFoundError):
            storage.path_for(key)


def counted_resolves(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    resolved: list[Path] = []
    real_resolve = Path.resolve

    def counting_resolve(self: Path, strict: bool = False) -> Path:
        resolved.append(self)
        return real_resolve(self, strict)

    monkeypatch.setattr(Path, "resolve", counting_resolve)
    return resolved


def test_a_stored_keys_path_is_resolved_once(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The refresh tick asks for the export of every job in progress on every tick; each resolve walks the path.
    resolved = counted_resolves(monkeypatch)
    key = "uploads/7/0123456789abcdef/source.mp4"
    first = storage.path_for(key)
    calls = len(resolved)
    assert storage.path_for(key) == first == (data_dir / key).resolve()
    assert len(resolved) == calls + 1  # only the check's own resolve above


def test_a_long_key_from_a_client_is_not_kept(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A made-up HLS file name reaches path_for from the URL: thousands of long ones must not fill memory.
    resolved = counted_resolves(monkeypatch)
    key = "hls/1/" + "a" * (storage.CACHED_KEY_CHARS + 1) + ".ts"
    storage.path_for(key)
    calls = len(resolved)
    storage.path_for(key)
    assert len(resolved) > calls  # resolved again: nothing of it was kept
