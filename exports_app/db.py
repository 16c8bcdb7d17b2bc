"""The engine and session factory: the one place that knows the database URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql.compiler import SQLCompiler
from sqlmodel import Session

from exports_app.config import get_settings

if TYPE_CHECKING:
    from alembic.config import Config


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
    # READ COMMITTED on every server: PostgreSQL's default, and MySQL/MariaDB's REPEATABLE READ would otherwise read
    # a transaction's snapshot of its first read, so a read made after waiting for a row lock (prep_hls under the
    # export's, a quota under the member's) missed what the lock's previous holder had committed.
    return sa.create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=20, pool_recycle=3600, isolation_level="READ COMMITTED"
    )


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


def alembic_config(url: str | None = None, *, logs: bool = True) -> Config:
    """Alembic's config for this app (alembic.ini beside the package, its env.py): the settings' database, or url.
    logs=False leaves the process's logging as it is (alembic.ini's set-up is for the command line)."""
    from alembic.config import Config

    config = Config(str(Path(__file__).resolve().parents[1] / "alembic.ini"))
    if url is not None:
        config.attributes["database_url"] = url
    config.attributes["configure_logger"] = logs
    return config


def upgrade_to_head(url: str | None = None, *, logs: bool = True) -> None:
    """The database migrated to Alembic's newest revision, as `alembic upgrade head` migrates it."""
    from alembic import command

    command.upgrade(alembic_config(url, logs=logs), "head")


def reset_engine() -> None:
    """Forget the cached engine (tests that switch EXPORTS_DATA_DIR call this)."""
    if get_engine.cache_info().currsize:
        get_engine().dispose()
    get_engine.cache_clear()


class utc_now_plus(sa.sql.expression.FunctionElement[datetime]):  # noqa: N801  (an SQL function, named like one)
    """The database server's clock, in UTC, `seconds` from now, as a value of a DateTime column.

    Times that several hosts compare (a lease's expiry) are taken from the one clock they share, the database's:
    two hosts whose own clocks differ would otherwise each judge the lease by their own.
    """

    type = sa.DateTime()
    inherit_cache = True

    def __init__(self, seconds: float) -> None:
        super().__init__(sa.literal(int(round(seconds * 1_000_000)), sa.BigInteger()))


@compiles(utc_now_plus, "sqlite")
def _sqlite_utc_now_plus(element: utc_now_plus, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLAlchemy keeps SQLite datetimes as UTC ISO text with microseconds, so the text compares in time order.
    micros = compiler.process(element.clauses, **kw)
    return f"strftime('%Y-%m-%d %H:%M:%f000', 'now', (({micros}) / 1000000.0) || ' seconds')"


@compiles(utc_now_plus, "postgresql")
def _postgresql_utc_now_plus(element: utc_now_plus, compiler: SQLCompiler, **kw: Any) -> str:
    micros = compiler.process(element.clauses, **kw)
    return f"(clock_timestamp() + ({micros}) * interval '1 microsecond')"  # timestamptz, as the columns are


@compiles(utc_now_plus, "mysql")
@compiles(utc_now_plus, "mariadb")
def _mysql_utc_now_plus(element: utc_now_plus, compiler: SQLCompiler, **kw: Any) -> str:
    micros = compiler.process(element.clauses, **kw)
    return f"(UTC_TIMESTAMP(6) + INTERVAL ({micros}) MICROSECOND)"  # the columns hold UTC without an offset
