"""The command line: user create, export import (refusing non-videos, storing nothing), seed-demo, start."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from exports_app import cli
from exports_app.cli import main
from exports_app.db import session_scope
from exports_app.models import Space, Upload, User, VideoProject
from tests.support.clips import make_clip
from tests.support.database import app_pointed_at

pytestmark = pytest.mark.server_db  # re-run on MariaDB and PostgreSQL by `make test`


def stored_files(data_dir: Path) -> list[Path]:
    root = data_dir / "uploads"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_user_create_and_import(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["user", "create", "frank", "--password", "long enough pw"]) == 0
    clip = make_clip(tmp_path / "clip.mp4", seconds=1.0, width=320, height=240)
    assert main(["export", "import", "--user", "frank", str(clip), "--title", "My cut"]) == 0
    upload_id = int(capsys.readouterr().out.strip().splitlines()[-1])
    with session_scope() as s:
        upload = s.get(Upload, upload_id)
        assert upload is not None and upload.title == "My cut" and upload.video_role == "export"
        assert (upload.width, upload.height) == (320, 240)
        assert upload.duration_seconds == pytest.approx(1.0, abs=0.2)
        assert (data_dir / upload.storage_key).stat().st_size == upload.size_bytes


@pytest.mark.parametrize("content", [b"", b"this is a text file, not a video\n", b"\x00" * 2048])
def test_import_refuses_non_videos_and_stores_nothing(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    assert main(["user", "create", "frank", "--password", "long enough pw"]) == 0
    bad = tmp_path / "movie.mp4"
    bad.write_bytes(content)
    assert main(["export", "import", "--user", "frank", str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: Not a supported video:") and "\n" not in err
    assert stored_files(data_dir) == []
    with session_scope() as s:
        assert s.exec(select(Upload)).all() == []


def test_import_for_unknown_user_fails_cleanly(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = make_clip(tmp_path / "clip.mp4", seconds=1.0)
    assert main(["export", "import", "--user", "ghost", str(clip)]) == 1
    assert "No user named 'ghost'" in capsys.readouterr().err


def test_seed_demo_is_idempotent(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("EXPORTS_DEMO_PASSWORD", raising=False)
    assert main(["seed-demo"]) == 0
    first = capsys.readouterr().out
    password = first.split("password:")[1].strip()
    assert (data_dir / "demo-password.txt").read_text().strip() == password
    assert main(["seed-demo"]) == 0
    again = capsys.readouterr().out
    assert again.startswith("demo member: demo") and password not in again  # printed once, on creation
    with session_scope() as s:
        assert len(s.exec(select(User)).all()) == 1
        assert len(s.exec(select(Space)).all()) == 2
        assert len(s.exec(select(VideoProject)).all()) == 1
        uploads = s.exec(select(Upload)).all()
        assert len(uploads) == 3 and sum(u.width is None for u in uploads) == 1  # one corrupt export


@pytest.mark.parametrize("skip_seed", ["0", "1"])
def test_start_migrates_an_empty_database_and_seeds_before_it_serves(
    blank_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, skip_seed: str
) -> None:
    """`start` (what `make run` runs) does in one process what `alembic upgrade head` and `seed-demo` did before
    `serve`: the server starts on a migrated (and, unless told not to, seeded) database."""
    monkeypatch.setenv("EXPORTS_SKIP_SEED", skip_seed)
    served: list[tuple[int, int]] = []

    def serve(args: object) -> int:  # the server itself is the e2e tests' (each starts the app through `start`)
        with session_scope() as s:
            served.append((len(s.exec(select(User)).all()), len(s.exec(select(Upload)).all())))
        return 0

    monkeypatch.setattr(cli, "cmd_serve", serve)
    with app_pointed_at(monkeypatch, tmp_path / "data", blank_database):
        assert main(["start", "--port", "1"]) == 0
    assert served == ([(0, 0)] if skip_seed == "1" else [(1, 3)])
