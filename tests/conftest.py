"""Shared fixtures and hooks: a fresh data dir and migrated database per test (SQLite or a private server), members,
and the pytest-xdist work units and their order (tests/support/scheduling.py)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from alembic import command
from sqlmodel import Session

from exports_app import db
from exports_app.services.auth import Member
from tests.support.database import SERVER_DB, alembic_config, app_pointed_at
from tests.support.database_server import DatabaseServer
from tests.support.records import make_member
from tests.support.scheduling import known_durations, longest_first, store_durations, worker_group

if TYPE_CHECKING:
    from playwright.sync_api import Playwright

# The suite runs several pytest processes, apps and browsers side by side: a transcode at the production default
# (EXPORTS_TRANSCODE_NICE=19, below everything else) would wait for all of them. The apps the tests start inherit
# this; tests of the priority itself (test_local_ffmpeg) and bench/bench_isolation set it.
os.environ.setdefault("EXPORTS_TRANSCODE_NICE", "0")


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist: the server-database runs go without it
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """Work units as tests/support/scheduling.py groups them, handed out in the order collected (longest first)."""
    from xdist.scheduler import LoadScopeScheduling

    class SharedAppScheduling(LoadScopeScheduling):  # type: ignore[misc]  # xdist ships no types: its class is Any
        def _split_scope(self, nodeid: str) -> str:
            return worker_group(nodeid)

    config.option.loadscopereorder = False  # xdist's reorder is by number of tests
    return SharedAppScheduling(config, log)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--store-durations",
        action="store_true",
        help="write the seconds each work unit took to tests/durations.json (the next runs hand out the longest first)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items[:] = longest_first(items, known_durations())


_seconds_per_test: list[tuple[str, float]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _seconds_per_test.append((report.nodeid, report.duration))


def pytest_sessionfinish(session: pytest.Session) -> None:
    # Under xdist, the workers' reports reach the controller too: only it (or a run without xdist) writes.
    if session.config.getoption("store_durations") and not hasattr(session.config, "workerinput"):
        store_durations(_seconds_per_test)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    """The process's one Playwright: its sync API keeps an asyncio loop running while it is open, so a second
    sync_playwright() in the same process (another folder's browser) would refuse to start."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def server_db() -> Iterator[DatabaseServer | None]:
    """The private database server of this run, or None on SQLite."""
    if SERVER_DB == "sqlite":
        yield None
        return
    from tests.support.mariadb_server import MariaDB
    from tests.support.postgres_server import PostgreSQL

    server_class: type[MariaDB | PostgreSQL] = MariaDB if SERVER_DB == "mariadb" else PostgreSQL
    with server_class() as server:
        yield server


@pytest.fixture
def blank_database(tmp_path: Path, server_db: DatabaseServer | None) -> Iterator[str]:
    """The URL of a new, empty database (SQLite file, or a database on the server)."""
    if server_db is None:
        yield f"sqlite:///{tmp_path / 'blank.db'}"
        return
    name = f"t{uuid.uuid4().hex[:12]}"
    yield server_db.create(name)
    db.reset_engine()
    server_db.drop(name)


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated to head once; each test copies it (faster than migrating every time)."""
    path = tmp_path_factory.mktemp("template") / "exports.db"
    command.upgrade(alembic_config(f"sqlite:///{path}"), "head")
    return path


@pytest.fixture(scope="session")
def migrated_server_template(server_db: DatabaseServer | None) -> str | None:
    """On a database server, a database migrated to head once, that each test's database is cloned from."""
    if server_db is None:
        return None
    name = "migrated_template"
    command.upgrade(alembic_config(server_db.create(name)), "head")  # alembic's engine is disposed when done
    return name


@pytest.fixture
def data_dir(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    migrated_template: Path,
    server_db: DatabaseServer | None,
    migrated_server_template: str | None,
) -> Iterator[Path]:
    """EXPORTS_DATA_DIR in a temp dir with a migrated database (SQLite there, or a fresh one on the server)."""
    directory = tmp_path / "data"
    directory.mkdir()
    name = f"t{uuid.uuid4().hex[:12]}"
    if server_db is None:
        shutil.copyfile(migrated_template, directory / "exports.db")
        url = None
    else:
        assert migrated_server_template is not None
        url = server_db.clone(migrated_server_template, name)
    with app_pointed_at(monkeypatch, directory, url):
        yield directory
    if server_db is not None:
        server_db.drop(name)


@pytest.fixture
def session(data_dir: Path) -> Iterator[Session]:
    with Session(db.get_engine(), expire_on_commit=False) as s:
        yield s


@pytest.fixture
def alice(data_dir: Path) -> Member:
    return make_member("alice")


@pytest.fixture
def bob(data_dir: Path) -> Member:
    return make_member("bob")
