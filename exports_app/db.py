"""The engine and session factory: the one place that knows the database URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import Session

from exports_app.config import get_settings


def make_engine(url: str) -> sa.Engine:
    """An engine for url; SQLite gets WAL and a busy timeout so concurrent writers wait, not fail."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, pool_recycle=3600)


@lru_cache(maxsize=1)
def get_engine() -> sa.Engine:
    settings = get_settings()
    if settings.database_url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return make_engine(settings.database_url)


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def read_connection() -> Iterator[sa.Connection]:
    """A pooled connection for one read statement (the status API's hot path), without a transaction where one costs.

    On PostgreSQL a transaction is a BEGIN and a ROLLBACK round trip around the statement, and psycopg forgets its
    prepared statements at every rollback, so the statement was planned anew on every request; outside a
    transaction psycopg prepares it on its fifth run on a connection and keeps it. One statement reads one
    snapshot either way. MySQL's driver would pay a SET autocommit round trip each way instead, and SQLite has no
    round trips: they keep the engine's default.
    """
    with get_engine().connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection


def reset_engine() -> None:
    """Forget the cached engine (tests that switch EXPORTS_DATA_DIR call this)."""
    if get_engine.cache_info().currsize:
        get_engine().dispose()
    get_engine.cache_clear()
