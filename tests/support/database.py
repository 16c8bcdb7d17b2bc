"""The database a test runs on: SQLite, or a private MariaDB or PostgreSQL server (EXPORTS_TEST_DB); Alembic's
configuration for a URL; the app's settings and engine pointed at a data dir and database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic.config import Config

from exports_app import config as app_config
from exports_app import db

# EXPORTS_TEST_DB=mariadb or =postgresql runs the database-backed tests on a private server of that kind
# instead of SQLite.
SERVER_DB = os.environ.get("EXPORTS_TEST_DB") or "sqlite"
if SERVER_DB not in ("sqlite", "mariadb", "postgresql"):
    raise pytest.UsageError(f"EXPORTS_TEST_DB={SERVER_DB}: use mariadb or postgresql (or nothing for SQLite)")


def alembic_config(url: str) -> Config:
    """The app's Alembic config on url, leaving the test process's logging alone."""
    return db.alembic_config(url, logs=False)


@contextmanager
def app_pointed_at(monkeypatch: pytest.MonkeyPatch, directory: Path, url: str | None) -> Iterator[None]:
    """The app's settings and engine on this data dir and database URL (None: SQLite in the data dir)."""
    monkeypatch.setenv("EXPORTS_DATA_DIR", str(directory))
    monkeypatch.setenv("EXPORTS_TRANSCODER", "local")
    if url is None:
        monkeypatch.delenv("EXPORTS_DATABASE_URL", raising=False)
    else:
        monkeypatch.setenv("EXPORTS_DATABASE_URL", url)
    app_config.get_settings.cache_clear()
    db.reset_engine()
    try:
        yield
    finally:
        db.reset_engine()
        app_config.get_settings.cache_clear()
