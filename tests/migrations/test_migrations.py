"""Migrations: upgrade head on an empty database, the plan's columns and indexes, downgrade, upgrade, no drift."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import exports_app.models  # noqa: F401
from tests.conftest import alembic_config

TABLES = {"users", "sessions", "uploads", "productions", "media_jobs", "spaces", "publications", "video_projects",
          "leases", "app_secrets", "login_failures"}


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
            column_type = conn.execute(sa.text(
                "SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"
                " AND TABLE_NAME = 'uploads' AND COLUMN_NAME = 'create_video_production_id'")).scalar_one()
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
