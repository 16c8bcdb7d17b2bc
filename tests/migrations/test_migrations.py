"""Migrations: upgrade head on an empty database, the plan's columns and indexes, downgrade, upgrade, no drift.

Also 0005 on a database holding a production from before it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import exports_app.models  # noqa: F401
from tests.support.database import alembic_config

pytestmark = pytest.mark.server_db  # re-run on MariaDB and PostgreSQL by `make test`

TABLES = {
    "users",
    "sessions",
    "uploads",
    "productions",
    "media_jobs",
    "spaces",
    "publications",
    "video_projects",
    "leases",
    "app_secrets",
    "login_failures",
}


def test_upgrade_downgrade_upgrade(blank_database: str) -> None:
    url = blank_database
    cfg = alembic_config(url)
    engine = sa.create_engine(url)

    command.upgrade(cfg, "head")
    inspector = sa.inspect(engine)
    assert TABLES <= set(inspector.get_table_names())
    columns = {c["name"]: c for c in inspector.get_columns("uploads")}
    assert columns["create_video_production_id"]["nullable"] is True
    assert "create_video_project_id" in columns
    indexes = {tuple(i["column_names"]) for i in inspector.get_indexes("uploads")}
    assert ("create_video_production_id",) in indexes
    assert ("video_role", "create_video_production_id") in indexes

    command.downgrade(cfg, "base")
    assert not TABLES & set(sa.inspect(engine).get_table_names())

    command.upgrade(cfg, "head")
    assert TABLES <= set(sa.inspect(engine).get_table_names())
    if engine.dialect.name in ("mysql", "mariadb"):
        with engine.connect() as conn:
            column_type = conn.execute(
                sa.text(
                    "SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"
                    " AND TABLE_NAME = 'uploads' AND COLUMN_NAME = 'create_video_production_id'"
                )
            ).scalar_one()
        assert column_type == "bigint(20) unsigned"
    engine.dispose()


def test_models_match_migrations(blank_database: str) -> None:
    url = blank_database
    command.upgrade(alembic_config(url), "head")
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata)
    engine.dispose()
    assert diff == []


def test_mysql_ddl_is_bigint_unsigned() -> None:
    from sqlalchemy.dialects import mysql
    from sqlalchemy.schema import CreateTable

    ddl = str(CreateTable(SQLModel.metadata.tables["uploads"]).compile(dialect=mysql.dialect()))
    assert "create_video_production_id BIGINT UNSIGNED" in ddl


def test_renditions_arrive_empty_hold_a_ladder_and_leave_with_the_downgrade(blank_database: str) -> None:
    """0005 adds productions.renditions (NULL for the productions made before it); its downgrade keeps the rows."""
    from exports_app.domain import utcnow

    url = blank_database
    cfg = alembic_config(url)
    engine = sa.create_engine(url)
    command.upgrade(cfg, "0004")
    now = utcnow()
    with engine.begin() as conn:  # a production made before 0005, written with 0004's columns only
        conn.execute(
            sa.text("INSERT INTO users (id, username, password_hash, created_at) VALUES (5, 'u', 'h', :t)"), {"t": now}
        )
        conn.execute(
            sa.text(
                "INSERT INTO uploads (id, user_id, video_role, title, filename, storage_key, size_bytes, created_at,"
                " updated_at) VALUES (7, 5, 'export', 'T', 'f.mp4', 'k', 1, :t, :t)"
            ),
            {"t": now},
        )
        conn.execute(
            sa.text(
                "INSERT INTO productions (id, user_id, upload_id, created_at, updated_at) VALUES (9, 5, 7, :t, :t)"
            ),
            {"t": now},
        )

    command.upgrade(cfg, "head")
    column = {c["name"]: c for c in sa.inspect(engine).get_columns("productions")}["renditions"]
    assert column["nullable"] is True
    productions = SQLModel.metadata.tables["productions"]
    ladder = [
        {"uri": "v0/index.m3u8", "height": 720, "bandwidth": 2_928_000},
        {"uri": "v1/index.m3u8", "height": 360, "bandwidth": 928_000},
    ]
    with engine.begin() as conn:
        assert conn.execute(sa.select(productions.c.renditions)).scalar_one() is None
        conn.execute(productions.update().values(renditions=ladder))
        assert conn.execute(sa.select(productions.c.renditions)).scalar_one() == ladder
        conn.execute(productions.update().values(renditions=None))  # unknown again is SQL NULL, not JSON null
        assert conn.execute(sa.select(sa.func.count()).where(productions.c.renditions.is_(None))).scalar_one() == 1

    command.downgrade(cfg, "0004")
    assert "renditions" not in {c["name"] for c in sa.inspect(engine).get_columns("productions")}
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT id FROM productions")).scalar_one() == 9
    engine.dispose()
