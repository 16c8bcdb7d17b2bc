"""Shared fixtures: a fresh data dir and migrated database per test, members, an API client."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Iterator

import pytest
from alembic import command
from alembic.config import Config
from sqlmodel import Session

from exports_app import config as app_config
from exports_app import db
from exports_app.models import Upload
from exports_app.services import auth
from exports_app.services.auth import Member

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery"


def alembic_config(url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "alembic"))
    cfg.attributes["database_url"] = url
    cfg.attributes["configure_logger"] = False
    return cfg


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database migrated to head once; each test copies it (faster than migrating every time)."""
    path = tmp_path_factory.mktemp("template") / "exports.db"
    command.upgrade(alembic_config(f"sqlite:///{path}"), "head")
    return path


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, migrated_template: Path) -> Iterator[Path]:
    """EXPORTS_DATA_DIR in a temp dir with a migrated SQLite database."""
    directory = tmp_path / "data"
    directory.mkdir()
    shutil.copyfile(migrated_template, directory / "exports.db")
    monkeypatch.setenv("EXPORTS_DATA_DIR", str(directory))
    monkeypatch.delenv("EXPORTS_DATABASE_URL", raising=False)
    monkeypatch.setenv("EXPORTS_TRANSCODER", "local")
    app_config.get_settings.cache_clear()
    db.reset_engine()
    yield directory
    db.reset_engine()
    app_config.get_settings.cache_clear()


@pytest.fixture(autouse=True)
def fresh_login_throttle() -> None:
    from exports_app.services.throttle import login_throttle

    login_throttle.reset()


@pytest.fixture
def session(data_dir: Path) -> Iterator[Session]:
    with Session(db.get_engine(), expire_on_commit=False) as s:
        yield s


def make_member(username: str) -> Member:
    with db.session_scope() as s:
        return auth.create_user(s, username, PASSWORD)


def add_upload(member: Member, role: str = "export", title: str = "Clip", **fields: object) -> int:
    """An upload row without a file (for routes that never read it)."""
    with db.session_scope() as s:
        upload = Upload(user_id=member.id, video_role=role, title=title, filename="clip.mp4",
                        storage_key=f"uploads/{member.id}/x/clip.mp4", size_bytes=1000, duration_seconds=2.0,
                        width=320, height=240, **fields)
        s.add(upload)
        s.flush()
        assert upload.id is not None
        return upload.id


@pytest.fixture
def alice(data_dir: Path) -> Member:
    return make_member("alice")


@pytest.fixture
def bob(data_dir: Path) -> Member:
    return make_member("bob")
