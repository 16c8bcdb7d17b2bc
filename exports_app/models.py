"""SQLModel tables: members, sessions, uploads (exports), productions, media jobs, spaces, publications."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.ext.compiler import compiles
from sqlmodel import Field, SQLModel

from exports_app.domain import Pass, utcnow


@compiles(sa.DateTime, "mysql")
@compiles(sa.DateTime, "mariadb")
def _mysql_datetime_with_microseconds(type_: sa.DateTime, compiler: object, **kw: object) -> str:
    """MySQL's DATETIME drops fractions of a second; report ordering and leases need them."""
    return "DATETIME(6)"


# The plan's pointer is BIGINT UNSIGNED on MySQL. SQLite only autoincrements an INTEGER primary key,
# so productions.id is INTEGER there; every other database gets a BIGINT.
BigId = (
    sa.BigInteger().with_variant(mysql.BIGINT(unsigned=True), "mysql", "mariadb").with_variant(sa.Integer(), "sqlite")
)


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, unique=True))
    password_hash: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, nullable=False)


class AuthSession(SQLModel, table=True):
    """A server-side sign-in; the cookie holds a random token whose SHA-256 is stored here."""

    __tablename__ = "sessions"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, unique=True))
    user_id: int = Field(foreign_key="users.id", nullable=False, index=True)
    csrf_token: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, nullable=False)
    expires_at: datetime = Field(nullable=False)
    revoked_at: datetime | None = Field(default=None)


class VideoProject(SQLModel, table=True):
    """A timeline project; exports are rendered from one (uploads.create_video_project_id)."""

    __tablename__ = "video_projects"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", nullable=False, index=True)
    title: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    description: str = Field(default="", sa_column=sa.Column(sa.Text(), nullable=False, default=""))
    created_at: datetime = Field(default_factory=utcnow, nullable=False)


class Upload(SQLModel, table=True):
    """A stored video of a member; video_role 'export' marks the rendered result of a project."""

    __tablename__ = "uploads"
    __table_args__ = (
        sa.Index("ix_uploads_create_video_production_id", "create_video_production_id"),
        sa.Index("ix_uploads_video_role_production", "video_role", "create_video_production_id"),
        sa.Index("ix_uploads_user_role_created", "user_id", "video_role", "created_at"),
        sa.Index("ix_uploads_deleted_at", "deleted_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", nullable=False)
    video_role: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    title: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    filename: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    storage_key: str = Field(sa_column=sa.Column(sa.String(512), nullable=False))
    size_bytes: int = Field(sa_column=sa.Column(sa.BigInteger(), nullable=False))
    duration_seconds: float | None = Field(default=None)
    width: int | None = Field(default=None)
    height: int | None = Field(default=None)
    create_video_project_id: int | None = Field(default=None, foreign_key="video_projects.id")
    create_video_production_id: int | None = Field(
        default=None,
        # No foreign key: the plan's plain pointer; a production may outlive or predate it.
        sa_column=sa.Column(BigId, nullable=True),
    )
    created_at: datetime = Field(default_factory=utcnow, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, nullable=False)
    deleted_at: datetime | None = Field(default=None)
    # Set when the stored file of a deleted export was removed (EXPORTS_PURGE_DAYS after the delete).
    files_purged_at: datetime | None = Field(default=None)
    # The poster frame stored beside the file (made at import, or lazily for older exports).
    poster_key: str | None = Field(default=None, sa_column=sa.Column(sa.String(512), nullable=True))


class Production(SQLModel, table=True):
    """An HLS production made from an export; it outlives the export (deletes keep it)."""

    __tablename__ = "productions"

    id: int | None = Field(default=None, sa_column=sa.Column(BigId, primary_key=True, autoincrement=True))
    user_id: int = Field(foreign_key="users.id", nullable=False, index=True)
    upload_id: int = Field(foreign_key="uploads.id", nullable=False, index=True)
    hls_master_uri: str | None = Field(default=None, sa_column=sa.Column(sa.String(1024), nullable=True))
    # The transcoder's own frame capture (MediaConvert), if it made one; else the export's poster stands in.
    poster_uri: str | None = Field(default=None, sa_column=sa.Column(sa.String(1024), nullable=True))
    # The ladder's variant streams, [{"uri", "height", "bandwidth"}, ...] (uri in hls_master_uri's form), written
    # with hls_master_uri when a job succeeds; NULL when unknown (made before 0005, or the transcoder did not say).
    renditions: list[dict[str, Any]] | None = Field(
        default=None, sa_column=sa.Column(sa.JSON(none_as_null=True), nullable=True)
    )
    # The master playlist as the app serves it when the app itself merged it from its passes' masters (MediaConvert,
    # whose output bucket the app never writes); NULL when the file at hls_master_uri is served as it is.
    master_playlist: str | None = Field(default=None, sa_column=sa.Column(sa.Text(), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, nullable=False)


class MediaJob(SQLModel, table=True):
    """One transcode attempt of a production."""

    __tablename__ = "media_jobs"
    __table_args__ = (sa.Index("ix_media_jobs_production_id_id", "production_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    production_id: int = Field(sa_column=sa.Column(BigId, sa.ForeignKey("productions.id"), nullable=False))
    provider: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    # Which rungs it encodes (domain.Pass): the whole ladder, or the fast or the HD pass of a two-pass production.
    pass_name: str = Field(
        default=Pass.FULL.value,
        sa_column=sa.Column(sa.String(8), nullable=False, default=Pass.FULL.value, server_default=Pass.FULL.value),
    )
    provider_job_id: str | None = Field(default=None, sa_column=sa.Column(sa.String(128), nullable=True))
    status: str = Field(sa_column=sa.Column(sa.String(16), nullable=False, index=True))
    percent: int = Field(default=0, nullable=False)
    phase: str | None = Field(default=None, sa_column=sa.Column(sa.String(32), nullable=True))
    error_code: str | None = Field(default=None, sa_column=sa.Column(sa.String(64), nullable=True))
    error_message: str | None = Field(default=None, sa_column=sa.Column(sa.String(1024), nullable=True))
    attempt: int = Field(default=1, nullable=False)
    idempotency_token: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, unique=True))
    submitted_at: datetime | None = Field(default=None)
    started_at: datetime | None = Field(default=None)
    finished_at: datetime | None = Field(default=None)
    last_report_at: datetime | None = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, nullable=False)


class Space(SQLModel, table=True):
    """A place a member publishes productions to."""

    __tablename__ = "spaces"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", nullable=False, index=True)
    name: str = Field(sa_column=sa.Column(sa.String(128), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, nullable=False)


class Publication(SQLModel, table=True):
    """A production published to a space; at most one per (production, space)."""

    __tablename__ = "publications"
    __table_args__ = (sa.UniqueConstraint("production_id", "space_id", name="uq_publications_production_space"),)

    id: int | None = Field(default=None, primary_key=True)
    production_id: int = Field(sa_column=sa.Column(BigId, sa.ForeignKey("productions.id"), nullable=False))
    space_id: int = Field(foreign_key="spaces.id", nullable=False, index=True)
    user_id: int = Field(foreign_key="users.id", nullable=False)
    created_at: datetime = Field(default_factory=utcnow, nullable=False)


class Lease(SQLModel, table=True):
    """A named lease held by one process until it expires: elects the one refresh leader across hosts."""

    __tablename__ = "leases"

    name: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    holder: str = Field(sa_column=sa.Column(sa.String(128), nullable=False))
    expires_at: datetime = Field(nullable=False)


class AppSecret(SQLModel, table=True):
    """A random key made once and shared by every worker and host that uses this database."""

    __tablename__ = "app_secrets"

    name: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    value: str = Field(sa_column=sa.Column(sa.String(128), nullable=False))


class LoginFailure(SQLModel, table=True):
    """One failed sign-in, counted per account+address and per address by every worker."""

    __tablename__ = "login_failures"
    __table_args__ = (
        sa.Index("ix_login_failures_account_address", "account", "address", "failed_at"),
        sa.Index("ix_login_failures_address", "address", "failed_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    address: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    failed_at: datetime = Field(nullable=False)
