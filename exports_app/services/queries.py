"""The read model: the named conditions and the few prebuilt statements that every read of sessions, exports and
statuses is made of.

A rule such as "a live session" or "an export of this member's" is written once here, as a condition, and the
statements that the status API, the /exports list, the push, the prep lookup and the tab checks run are composed of
them. Each statement is Core and built once at import (SQLAlchemy caches its compiled form; no ORM object is made per
row), and every statement that reads a status gives its rows the one shape that `row_status` reads.

How each table is read (docs/architecture.md, "The status query's plan"): an export's production is joined by the
export's pointer and its newest job by its primary key, the `max(id)` of the production's jobs
(`ix_media_jobs_production_id_id`), so no planner can reach a row through a range that grows with the tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa

from exports_app.domain import EXPORT_ROLE, Pass
from exports_app.models import AuthSession, MediaJob, Production, Upload, User
from exports_app.services.hls_status import HlsStatus, derive_hls_status

# The models' Core tables (their __table__, which SQLModel sets but does not declare).
SESSIONS, USERS, UPLOADS, PRODUCTIONS, JOBS = (
    sa.inspect(model).local_table for model in (AuthSession, User, Upload, Production, MediaJob)
)
_NEWER = JOBS.alias("newer")
_NEWER_HD = JOBS.alias("newer_hd")
# A production's HD pass (of two): extra information beside its status, read by the same statements.
HD_JOBS = JOBS.alias("hd")


def live_session(now: sa.ColumnElement[datetime] | datetime) -> sa.ColumnElement[bool]:
    """A sign-in session that is neither revoked nor expired at `now`."""
    return sa.and_(SESSIONS.c.revoked_at.is_(None), SESSIONS.c.expires_at > now)


def live_export() -> sa.ColumnElement[bool]:
    """An upload that is an export and is not deleted."""
    return sa.and_(UPLOADS.c.video_role == EXPORT_ROLE, UPLOADS.c.deleted_at.is_(None))


def members_export(member_id: sa.ColumnElement[int] | int) -> sa.ColumnElement[bool]:
    """A live export of the member's (the member's id as a value, a bound parameter or a column)."""
    return sa.and_(UPLOADS.c.user_id == member_id, live_export())


def newest_job(hd: bool = False) -> sa.ScalarSelect[Any]:
    """The id of the newest job of the production in the statement that makes it ready (a whole ladder or a fast
    pass), or with hd, of its newest HD pass: one probe of (production_id, id)."""
    newer = _NEWER_HD if hd else _NEWER
    is_hd = newer.c.pass_name == Pass.HD.value
    return (
        sa.select(sa.func.max(newer.c.id))
        .where(newer.c.production_id == PRODUCTIONS.c.id, is_hd if hd else ~is_hd)
        .scalar_subquery()
    )


def with_newest_job(productions: sa.FromClause) -> sa.Join:
    """`productions` (or a join that holds them) joined to each production's newest job, and to its newest HD pass
    if it has one, by their primary keys."""
    # The newest job implies its production, but SQLAlchemy's check for a cartesian product looks for a link outside
    # the subquery. Written `+ 0` so that it is no index condition: with it, PostgreSQL probed (production_id, id)
    # instead of the primary key.
    return productions.outerjoin(
        JOBS, sa.and_(JOBS.c.id == newest_job(), JOBS.c.production_id + 0 == PRODUCTIONS.c.id)
    ).outerjoin(HD_JOBS, sa.and_(HD_JOBS.c.id == newest_job(hd=True), HD_JOBS.c.production_id + 0 == PRODUCTIONS.c.id))


def with_status(exports: sa.FromClause, production_too: sa.ColumnElement[bool] | None = None) -> sa.Join:
    """`exports` (uploads, or a join that holds them) joined to the production each points at and to that
    production's newest job; production_too: a further condition for reading the production at all."""
    production = PRODUCTIONS.c.id == UPLOADS.c.create_video_production_id
    return with_newest_job(
        exports.outerjoin(PRODUCTIONS, production if production_too is None else sa.and_(production, production_too))
    )


# What every status row carries, read by row_status.
STATUS_COLUMNS = (
    PRODUCTIONS.c.id.label("production_id"),
    PRODUCTIONS.c.hls_master_uri,
    PRODUCTIONS.c.updated_at.label("production_updated_at"),
    JOBS.c.status,
    JOBS.c.percent,
    JOBS.c.phase,
    JOBS.c.error_message,
    JOBS.c.updated_at.label("job_updated_at"),
    JOBS.c.attempt,
    JOBS.c.finished_at,
    HD_JOBS.c.status.label("hd_status"),
    HD_JOBS.c.percent.label("hd_percent"),
    HD_JOBS.c.error_message.label("hd_error_message"),
)
# What a row of the /exports list shows besides its status.
EXPORT_COLUMNS = (
    UPLOADS.c.id,
    UPLOADS.c.title,
    UPLOADS.c.filename,
    UPLOADS.c.created_at,
    UPLOADS.c.duration_seconds,
    UPLOADS.c.size_bytes,
    UPLOADS.c.width,
    UPLOADS.c.height,
    UPLOADS.c.create_video_project_id,
)
_NOW = sa.bindparam("now", type_=SESSIONS.c.expires_at.type)
_MEMBER = sa.bindparam("member_id", type_=sa.Integer)
_NEWEST_FIRST = (UPLOADS.c.created_at.desc(), UPLOADS.c.id.desc())

# The member of a session cookie (every event of every tab, thousands in a connect rush): token_hash, now.
MEMBER_OF_SESSION = (
    sa.select(USERS.c.id, USERS.c.username)
    .join(SESSIONS, SESSIONS.c.user_id == USERS.c.id)
    .where(SESSIONS.c.token_hash == sa.bindparam("token_hash"), live_session(_NOW))
)
# The members of many session fingerprints at once (the push's tab checks): token_hashes (a list), now.
MEMBERS_OF_SESSIONS = (
    sa.select(SESSIONS.c.token_hash, USERS.c.id, USERS.c.username)
    .join(SESSIONS, SESSIONS.c.user_id == USERS.c.id)
    .where(SESSIONS.c.token_hash.in_(sa.bindparam("token_hashes", expanding=True)), live_session(_NOW))
)

# The status API's one statement: the live session, the export by its id, and (only when the export is the session
# member's live export: someone else's production and jobs are not even read) its production and newest job.
# Ownership is tested on the row the id found, not joined on: with user_id in the join, PostgreSQL without fresh
# statistics read the export through (user_id, video_role, created_at), every export of the member.
# token_hash, now, upload_id; upload_id comes back NULL unless the export is the member's.
_OWNED_BY_THE_SESSION = members_export(SESSIONS.c.user_id)
STATUS_BY_SESSION = (
    sa.select(sa.case((_OWNED_BY_THE_SESSION, UPLOADS.c.id)).label("upload_id"), *STATUS_COLUMNS)
    .select_from(
        with_status(SESSIONS.outerjoin(UPLOADS, UPLOADS.c.id == sa.bindparam("upload_id")), _OWNED_BY_THE_SESSION)
    )
    .where(SESSIONS.c.token_hash == sa.bindparam("token_hash"), live_session(_NOW))
)

# The member's live exports with their statuses, newest first, and how many there are in all (a window over the
# whole filtered set, on every row: the list and its "N total" in one round trip): member_id, limit, offset.
EXPORT_PAGE = (
    sa.select(*EXPORT_COLUMNS, *STATUS_COLUMNS, sa.func.count().over().label("total"))
    .select_from(with_status(UPLOADS))
    .where(members_export(_MEMBER))
    .order_by(*_NEWEST_FIRST)
    .limit(sa.bindparam("limit", type_=sa.Integer))
    .offset(sa.bindparam("offset", type_=sa.Integer))
)
# One export with its status, whoever's (the prep lookup, under the export's row lock): upload_id.
EXPORT_BY_ID = (
    sa.select(*EXPORT_COLUMNS, *STATUS_COLUMNS)
    .select_from(with_status(UPLOADS))
    .where(UPLOADS.c.id == sa.bindparam("upload_id", type_=sa.Integer))
)
# The member's live export with its status: upload_id, member_id.
MEMBERS_EXPORT_BY_ID = EXPORT_BY_ID.where(members_export(_MEMBER))
# The statuses of many exports (the push knows their owners): upload_ids (a list).
STATUSES_OF = (
    sa.select(UPLOADS.c.id, *STATUS_COLUMNS)
    .select_from(with_status(UPLOADS))
    .where(UPLOADS.c.id.in_(sa.bindparam("upload_ids", expanding=True)))
)
# The same for the member's live exports only: upload_ids, member_id.
MEMBERS_STATUSES_OF = STATUSES_OF.where(members_export(_MEMBER))
# A production's status, whoever's export it is of (the publish page checks the owner first): production_id.
PRODUCTION_STATUS = (
    sa.select(*STATUS_COLUMNS)
    .select_from(with_newest_job(PRODUCTIONS))
    .where(PRODUCTIONS.c.id == sa.bindparam("production_id", type_=PRODUCTIONS.c.id.type))
)


class _ProductionRow(NamedTuple):
    id: int | None
    hls_master_uri: str | None
    updated_at: datetime | None


class _JobRow(NamedTuple):
    status: str
    percent: int
    phase: str | None
    error_message: str | None
    updated_at: datetime | None
    attempt: int
    finished_at: datetime | None


class _HdRow(NamedTuple):
    status: str
    percent: int
    error_message: str | None


def row_status(row: sa.Row[*tuple[Any, ...]]) -> HlsStatus:
    """The status of a row that carries STATUS_COLUMNS: the one derivation's (services/hls_status.py)."""
    production = (
        _ProductionRow(row.production_id, row.hls_master_uri, row.production_updated_at)
        if row.production_id is not None
        else None
    )
    job = (
        _JobRow(row.status, row.percent, row.phase, row.error_message, row.job_updated_at, row.attempt, row.finished_at)
        if row.status is not None
        else None
    )
    hd = _HdRow(row.hd_status, row.hd_percent, row.hd_error_message) if row.hd_status is not None else None
    return derive_hls_status(production, job, hd)
