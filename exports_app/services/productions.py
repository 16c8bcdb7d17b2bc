"""Productions of exports: lookup by export, status, and Prep for Publish (prep_hls)."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from exports_app.domain import EXPORT_ROLE, utcnow
from exports_app.hls_states import HLS_STATES, NOT_READY
from exports_app.models import AuthSession, MediaJob, Production, Upload
from exports_app.services import auth, exports, faults, media_jobs
from exports_app.services.auth import Member
from exports_app.services.errors import NotFound, SignedOut
from exports_app.services.hls_status import NOT_STARTED, HlsStatus, derive_hls_status


@dataclass(frozen=True)
class ProductionLookup:
    production: Production
    hls_status: HlsStatus


@dataclass(frozen=True)
class ExportView:
    """An export with its HLS status: a row of /exports and the head of its modal."""

    id: int
    title: str
    filename: str
    created_at: datetime
    duration_seconds: float | None
    size_bytes: int
    width: int | None
    height: int | None
    project_id: int | None
    status: HlsStatus


def _latest_job(session: Session, production_id: int) -> MediaJob | None:
    return media_jobs.latest_jobs(session=session, production_ids=[production_id]).get(production_id)


_Found = tuple[Upload, Production | None, MediaJob | None]
# The outer joins give None for an export never prepped and for a production without a job yet;
# select() types every entity as present, so _with_status states its row type with this.
_WithStatus = Select[Upload, Production | None, MediaJob | None]
_Query = TypeVar("_Query", _WithStatus, sa.Select[Any])  # an ORM or a Core select over uploads


@functools.cache
def _other_job() -> type[MediaJob]:
    """The alias _with_status finds a production's newest job with, made once: SQLAlchemy keys its cache of compiled
    statements on it, and a fresh alias per call made every statement compile again (several ms each on SQLite)."""
    return aliased(MediaJob, name="newest_job")


def _with_status(*where: sa.ColumnElement[bool]) -> _WithStatus:
    """Uploads with the production they point at and that production's newest job: one indexed query.

    The status API's hot path and every batch of statuses use it, so it is one query rather than three.
    """
    return _joined_to_status(select(Upload, Production, MediaJob), *where)


def _joined_to_status(query: _Query, *where: sa.ColumnElement[bool]) -> _Query:
    """`query` over uploads, joined to the production each points at and that production's newest job."""
    other = _other_job()
    newest = sa.select(sa.func.max(other.id)).where(col(other.production_id) == Production.id).scalar_subquery()
    return (
        query.select_from(Upload)
        .outerjoin(Production, col(Production.id) == Upload.create_video_production_id)
        .outerjoin(MediaJob, col(MediaJob.production_id) == Production.id)
        .where(*where, sa.or_(col(MediaJob.id).is_(None), col(MediaJob.id) == newest))
    )


def _lookup(session: Session, *where: sa.ColumnElement[bool]) -> _Found | None:
    return session.exec(_with_status(*where)).first()


def _view(found: _Found) -> ExportView:
    upload, production, job = found
    assert upload.id is not None
    return ExportView(
        upload.id,
        upload.title,
        upload.filename,
        upload.created_at,
        upload.duration_seconds,
        upload.size_bytes,
        upload.width,
        upload.height,
        upload.create_video_project_id,
        derive_hls_status(production, job),
    )


def find_by_export_upload_id(*, session: Session, upload_id: int) -> ProductionLookup | None:
    """The export's current production (the pointer) and its status, or None before the first prep."""
    found = _lookup(session, col(Upload.id) == upload_id)
    if found is None or found[1] is None:
        return None
    _, production, job = found
    assert production is not None
    return ProductionLookup(production, derive_hls_status(production, job))


def load_production_status(*, session: Session, production_id: int) -> HlsStatus:
    production = session.get(Production, production_id)
    if production is None:
        return NOT_STARTED
    return derive_hls_status(production, _latest_job(session, production_id))


def statuses_for(*, session: Session, member: Member | None, upload_ids: Iterable[int]) -> dict[int, HlsStatus]:
    """The statuses of many exports in one query; an id that is not found is left out.

    member: only that member's live exports; None only for the refresh push, which knows the owners.
    """
    ids = sorted(set(upload_ids))
    if not ids:
        return {}
    where: list[sa.ColumnElement[bool]] = [col(Upload.id).in_(ids)]
    if member is not None:
        where += exports.live_exports_clause(member)
    statuses: dict[int, HlsStatus] = {}
    for upload, production, job in session.exec(_with_status(*where)):
        assert upload.id is not None  # a stored row
        statuses[upload.id] = derive_hls_status(production, job)
    return statuses


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


def _status_by_session() -> sa.Select[Any]:
    """The status API's one statement: the live session, the member's export, its production, its newest job.

    Core only and built once: SQLAlchemy caches its compiled form, and no ORM object is made per request.
    Each table is joined on its own key only (the session's token, the export's id, the production's id, the
    newest job's id), so no planner can reach a row through a range that grows with the tables: see
    docs/architecture.md, "The status query's plan".
    """
    # The models' Core tables (their __table__, which SQLModel sets but does not declare).
    sessions, uploads, prods, jobs = (
        sa.inspect(model).local_table for model in (AuthSession, Upload, Production, MediaJob)
    )
    # Ownership is tested on the row the id found, not joined on: with user_id in the join, PostgreSQL without
    # fresh statistics read the export through (user_id, video_role, created_at), every export of the member.
    owned = sa.and_(
        uploads.c.user_id == sessions.c.user_id,
        uploads.c.video_role == EXPORT_ROLE,
        uploads.c.deleted_at.is_(None),
    )
    # The newest job by its primary key: one probe of ix_media_jobs_production_id_id for max(id), then one of the
    # key, however many jobs the production has (joining every job and keeping the newest ran this once per job).
    newer = jobs.alias("newer")
    newest = sa.select(sa.func.max(newer.c.id)).where(newer.c.production_id == prods.c.id).scalar_subquery()
    return (
        sa.select(
            sa.case((owned, uploads.c.id)).label("upload_id"),  # NULL unless the member's live export
            prods.c.id.label("production_id"),
            prods.c.hls_master_uri,
            prods.c.updated_at.label("production_updated_at"),
            jobs.c.status,
            jobs.c.percent,
            jobs.c.phase,
            jobs.c.error_message,
            jobs.c.updated_at.label("job_updated_at"),
            jobs.c.attempt,
            jobs.c.finished_at,
        )
        .select_from(
            sessions.outerjoin(uploads, uploads.c.id == sa.bindparam("upload_id"))
            # Someone else's export's production and jobs are not even read.
            .outerjoin(prods, sa.and_(prods.c.id == uploads.c.create_video_production_id, owned))
            # newest implies production_id, but SQLAlchemy's check for a cartesian product looks for a link outside
            # the subquery. Written `+ 0` so that it is no index condition: with it, PostgreSQL probed
            # (production_id, id) instead of the primary key.
            .outerjoin(jobs, sa.and_(jobs.c.id == newest, jobs.c.production_id + 0 == prods.c.id))
        )
        .where(
            sessions.c.token_hash == sa.bindparam("token_hash"),
            sessions.c.revoked_at.is_(None),
            sessions.c.expires_at > sa.bindparam("now", type_=sessions.c.expires_at.type),
        )
    )


_STATUS_BY_SESSION = _status_by_session()


def status_for_session(*, connection: sa.Connection, token: str | None, upload_id: object) -> HlsStatus:
    """The export's status for the holder of this session cookie, in one round trip (the status API).

    SignedOut for an unknown, expired or revoked session (checked on every call: nothing is cached);
    NotFound unless the export is the member's own live export.
    """
    uid = exports.valid_id(upload_id)
    if not token:
        raise SignedOut("Not signed in.")
    row = connection.execute(
        _STATUS_BY_SESSION, {"token_hash": auth.token_hash(token), "now": utcnow(), "upload_id": uid or 0}
    ).first()
    if row is None:
        raise SignedOut("Not signed in.")
    if row.upload_id is None:
        raise NotFound(exports.NOT_FOUND_MESSAGE)
    return _row_status(row)


def _row_status(row: sa.Row[Any]) -> HlsStatus:
    """The status of a row of columns labelled as _status_by_session's and _export_page_query's."""
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
    return derive_hls_status(production, job)


def export_status(*, session: Session, member: Member, upload_id: object) -> HlsStatus:
    """The member's export's status; NotFound unless it is the member's live export."""
    return export_view(session=session, member=member, upload_id=upload_id).status


def export_view(*, session: Session, member: Member, upload_id: object) -> ExportView:
    """The member's live export with its status (one query); NotFound for anything else."""
    uid = exports.valid_id(upload_id)
    found = _lookup(session, exports.owned_export_clause(member, uid)) if uid is not None else None
    if found is None:
        raise NotFound(exports.NOT_FOUND_MESSAGE)
    return _view(found)


@functools.cache
def _export_views_query() -> _WithStatus:
    """export_views' statement, built once with the member and the page bound per call: every tab's page load runs
    it (a connect rush, thousands), and building it each time cost as much as running it."""
    return (
        _with_status(*exports.live_exports_clause(sa.bindparam("member_id", type_=sa.Integer)))
        .order_by(col(Upload.created_at).desc(), col(Upload.id).desc())
        .offset(sa.bindparam("offset", type_=sa.Integer))
        .limit(sa.bindparam("limit", type_=sa.Integer))
    )


def export_views(*, session: Session, member: Member, limit: int = 500, offset: int = 0) -> list[ExportView]:
    """The member's exports, newest first, with status: one query whatever the count."""
    found = session.exec(_export_views_query(), params={"member_id": member.id, "offset": offset, "limit": limit})
    return [_view(row) for row in found]


@dataclass(frozen=True)
class ExportPage:
    """The first page of the member's exports and how many live exports they have in all."""

    views: list[ExportView]
    total: int


@functools.cache
def _export_page_query() -> sa.Select[Any]:
    """export_page's statement: columns, not ORM entities, so it runs on a plain connection (every tab's page load
    runs it: a connect rush, thousands), built once with the member and the limit bound per call."""
    columns: tuple[Any, ...] = (  # the models' columns (mypy knows them as Mapped) and labels
        col(Upload.id),
        col(Upload.title),
        col(Upload.filename),
        col(Upload.created_at),
        col(Upload.duration_seconds),
        col(Upload.size_bytes),
        col(Upload.width),
        col(Upload.height),
        col(Upload.create_video_project_id),
        col(Production.id).label("production_id"),
        col(Production.hls_master_uri),
        col(Production.updated_at).label("production_updated_at"),
        col(MediaJob.status),
        col(MediaJob.percent),
        col(MediaJob.phase),
        col(MediaJob.error_message),
        col(MediaJob.updated_at).label("job_updated_at"),
        col(MediaJob.attempt),
        col(MediaJob.finished_at),
        # The total as a window over the whole filtered set (counted before LIMIT applies), on every row of the
        # page: the /exports list and its "N total" in one round trip instead of two.
        sa.func.count().over().label("total"),
    )
    return (
        _joined_to_status(
            sa.select(*columns), *exports.live_exports_clause(sa.bindparam("member_id", type_=sa.Integer))
        )
        .order_by(col(Upload.created_at).desc(), col(Upload.id).desc())
        .limit(sa.bindparam("limit", type_=sa.Integer))
        .offset(sa.bindparam("offset", type_=sa.Integer))
    )


def export_page(*, connection: sa.Connection, member: Member, limit: int, offset: int = 0) -> ExportPage:
    """The member's newest `limit` exports with status (after the newest `offset`: a later page), and their total:
    one query on a plain connection (db.read_connection), no ORM session and no ORM objects."""
    if limit < 1:
        return ExportPage([], exports.count_exports(session=connection, member=member))
    rows = connection.execute(_export_page_query(), {"member_id": member.id, "limit": limit, "offset": offset}).all()
    views = [
        ExportView(
            row.id,
            row.title,
            row.filename,
            row.created_at,
            row.duration_seconds,
            row.size_bytes,
            row.width,
            row.height,
            row.create_video_project_id,
            _row_status(row),
        )
        for row in rows
    ]
    return ExportPage(views, int(rows[0].total) if rows else 0)


def prep_hls(*, session: Session, member: Member, upload_id: object, provider: str) -> HlsStatus:
    """Prep for Publish: queue an HLS transcode of the member's export, at most one at a time.

    Under the upload's row lock: ready or in progress → nothing new; failed → a new production
    (pointer moved, old rows kept); none yet → a new production. Commits, then wakes the refresh
    tick, which submits the queued job to the transcoder. StorageFull (nothing written) when a new
    transcode would start with the data dir below EXPORTS_MIN_FREE_BYTES.
    """
    upload = exports.lock_export(session=session, member=member, upload_id=upload_id)
    assert upload.id is not None
    current = find_by_export_upload_id(session=session, upload_id=upload.id)
    if current is not None and not HLS_STATES[current.hls_status.state].prep_enabled:  # ready, or in progress
        session.commit()
        return current.hls_status
    faults.ensure_room()  # a new transcode only with room for its ladder: refused now, not halfway through
    if current is not None and current.hls_status.state == NOT_READY:
        production = current.production  # a production with no job yet: give it its first job
    else:
        production = Production(user_id=member.id, upload_id=upload.id)
        session.add(production)
        session.flush()
        upload.create_video_production_id = production.id
    production.updated_at = utcnow()
    session.add(production)
    session.add(upload)
    job = media_jobs.new_job(session=session, production=production, provider=provider)
    status = derive_hls_status(production, job)
    session.commit()
    media_jobs.request_refresh()
    return status


def owned_production(*, session: Session, member: Member, production_id: object) -> Production:
    """The member's production, or NotFound."""
    pid = exports.valid_id(production_id, exports.MAX_BIG_ID)
    production = session.get(Production, pid) if pid is not None else None
    if production is None or production.user_id != member.id:
        raise NotFound("Production not found.")
    return production
