"""Productions of exports: lookup by export, status, and Prep for Publish (prep_hls)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from exports_app.models import MediaJob, Production, Upload
from exports_app.services import exports, media_jobs
from exports_app.services.auth import Member
from exports_app.services.errors import NotFound
from exports_app.services.hls_status import NOT_READY, HlsStatus, derive_hls_status
from exports_app.transcode.base import utcnow


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
    return media_jobs.latest_jobs(session, [production_id]).get(production_id)


def _lookup(session: Session, *where: sa.ColumnElement[bool]) -> tuple[Upload, Production | None, MediaJob | None] | None:
    """One query: an upload, the production it points at, and that production's newest job.

    This is the status API's hot path, so it is one indexed query rather than three lookups.
    """
    other = aliased(MediaJob)
    newest = sa.select(sa.func.max(other.id)).where(other.production_id == Production.id).scalar_subquery()
    return session.exec(  # type: ignore[return-value]
        select(Upload, Production, MediaJob)
        .outerjoin(Production, Production.id == Upload.create_video_production_id)
        .outerjoin(MediaJob, MediaJob.production_id == Production.id)
        .where(*where, sa.or_(MediaJob.id.is_(None), MediaJob.id == newest))  # type: ignore[union-attr]
    ).first()


def find_by_export_upload_id(session: Session, upload_id: int) -> ProductionLookup | None:
    """The export's current production (the pointer) and its status, or None before the first prep."""
    found = _lookup(session, Upload.id == upload_id)
    if found is None or found[1] is None:
        return None
    _, production, job = found
    return ProductionLookup(production, derive_hls_status(production, job))


def load_production_status(session: Session, production_id: int) -> HlsStatus:
    production = session.get(Production, production_id)
    if production is None:
        return NOT_READY
    return derive_hls_status(production, _latest_job(session, production_id))


def export_status(session: Session, member: Member, upload_id: object) -> HlsStatus:
    """The member's export's status; NotFound unless it is the member's live export."""
    uid = exports.valid_id(upload_id)
    found = _lookup(session, exports.owned_export_clause(member, uid)) if uid is not None else None
    if found is None:
        raise NotFound(exports.NOT_FOUND_MESSAGE)
    _, production, job = found
    return derive_hls_status(production, job)


def export_views(session: Session, member: Member, limit: int = 500, offset: int = 0) -> list[ExportView]:
    """The member's exports, newest first, with status: three queries whatever the count."""
    uploads = exports.list_exports(session, member, limit=limit, offset=offset)
    pointers = [u.create_video_production_id for u in uploads if u.create_video_production_id]
    productions = {
        p.id: p for p in session.exec(select(Production).where(Production.id.in_(pointers)))  # type: ignore[union-attr]
    } if pointers else {}
    jobs = media_jobs.latest_jobs(session, productions.keys())  # type: ignore[arg-type]
    views = []
    for u in uploads:
        production = productions.get(u.create_video_production_id) if u.create_video_production_id else None
        status = derive_hls_status(production, jobs.get(production.id) if production and production.id else None)
        views.append(ExportView(u.id, u.title, u.filename, u.created_at, u.duration_seconds,  # type: ignore[arg-type]
                                u.size_bytes, u.width, u.height, u.create_video_project_id, status))
    return views


def prep_hls(session: Session, member: Member, upload_id: object, provider: str) -> HlsStatus:
    """Prep for Publish: queue an HLS transcode of the member's export, at most one at a time.

    Under the upload's row lock: ready or in progress → nothing new; failed → a new production
    (pointer moved, old rows kept); none yet → a new production. Commits, then wakes the refresh
    tick, which submits the queued job to the transcoder.
    """
    upload = exports.lock_export(session, member, upload_id)
    assert upload.id is not None
    current = find_by_export_upload_id(session, upload.id)
    if current is not None and current.hls_status.state in ("ready", "in_progress"):
        session.commit()
        return current.hls_status
    if current is not None and current.hls_status.state == "not_ready":
        production = current.production  # a production with no job yet: give it its first job
    else:
        production = Production(user_id=member.id, upload_id=upload.id)
        session.add(production)
        session.flush()
        upload.create_video_production_id = production.id
    production.updated_at = utcnow()
    session.add(production)
    session.add(upload)
    job = media_jobs.new_job(session, production, provider)
    status = derive_hls_status(production, job)
    session.commit()
    media_jobs.request_refresh()
    return status


def owned_production(session: Session, member: Member, production_id: object) -> Production:
    """The member's production, or NotFound."""
    pid = exports.valid_id(production_id, exports.MAX_BIG_ID)
    production = session.get(Production, pid) if pid is not None else None
    if production is None or production.user_id != member.id:
        raise NotFound("Production not found.")
    return production
