"""Productions of exports: lookup by export, status, and Prep for Publish (prep_hls)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from exports_app.domain import utcnow
from exports_app.hls_states import FAILED, HLS_STATES, NOT_READY
from exports_app.models import Production
from exports_app.services import auth, exports, faults, media_jobs, passes, queries
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


def find_by_export_upload_id(*, session: Session, upload_id: int) -> ProductionLookup | None:
    """The export's current production (the pointer) and its status, or None before the first prep."""
    row = session.execute(queries.EXPORT_BY_ID, {"upload_id": upload_id}).first()
    production = session.get(Production, row.production_id) if row is not None and row.production_id else None
    if row is None or production is None:
        return None
    return ProductionLookup(production, queries.row_status(row))


def load_production_status(*, session: Session, production_id: int) -> HlsStatus:
    row = session.execute(queries.PRODUCTION_STATUS, {"production_id": production_id}).first()
    return queries.row_status(row) if row is not None else NOT_STARTED


def statuses_for(*, session: Session, member: Member | None, upload_ids: Iterable[int]) -> dict[int, HlsStatus]:
    """The statuses of many exports in one query; an id that is not found is left out.

    member: only that member's live exports; None only for the refresh push, which knows the owners.
    """
    ids = sorted(set(upload_ids))
    if not ids:
        return {}
    if member is None:
        rows = session.execute(queries.STATUSES_OF, {"upload_ids": ids})
    else:
        rows = session.execute(queries.MEMBERS_STATUSES_OF, {"upload_ids": ids, "member_id": member.id})
    return {row.id: queries.row_status(row) for row in rows}


def status_for_session(*, connection: sa.Connection, token: str | None, upload_id: object) -> HlsStatus:
    """The export's status for the holder of this session cookie, in one round trip (the status API).

    SignedOut for an unknown, expired or revoked session (checked on every call: nothing is cached);
    NotFound unless the export is the member's own live export.
    """
    uid = exports.valid_id(upload_id)
    if not token:
        raise SignedOut("Not signed in.")
    row = connection.execute(
        queries.STATUS_BY_SESSION, {"token_hash": auth.token_hash(token), "now": utcnow(), "upload_id": uid or 0}
    ).first()
    if row is None:
        raise SignedOut("Not signed in.")
    if row.upload_id is None:
        raise NotFound(exports.NOT_FOUND_MESSAGE)
    return queries.row_status(row)


def _view(row: sa.Row[*tuple[Any, ...]]) -> ExportView:
    """An export row of the read model's (EXPORT_COLUMNS and STATUS_COLUMNS) as the list and the modal show it."""
    return ExportView(
        row.id,
        row.title,
        row.filename,
        row.created_at,
        row.duration_seconds,
        row.size_bytes,
        row.width,
        row.height,
        row.create_video_project_id,
        queries.row_status(row),
    )


def export_status(*, session: Session, member: Member, upload_id: object) -> HlsStatus:
    """The member's export's status; NotFound unless it is the member's live export."""
    return export_view(session=session, member=member, upload_id=upload_id).status


def export_view(*, session: Session, member: Member, upload_id: object) -> ExportView:
    """The member's live export with its status (one query); NotFound for anything else."""
    uid = exports.valid_id(upload_id)
    row = (
        session.execute(queries.MEMBERS_EXPORT_BY_ID, {"upload_id": uid, "member_id": member.id}).first()
        if uid is not None
        else None
    )
    if row is None:
        raise NotFound(exports.NOT_FOUND_MESSAGE)
    return _view(row)


@dataclass(frozen=True)
class ExportPage:
    """A page of the member's exports, newest first, and how many live exports they have in all."""

    views: list[ExportView]
    total: int


def export_page(*, connection: sa.Connection | Session, member: Member, limit: int, offset: int = 0) -> ExportPage:
    """The member's exports from `offset` on, newest first, at most `limit`, with status, and their total: one
    query, on a plain connection where every tab's page load runs it (db.read_connection: no ORM session)."""
    if limit < 1:
        return ExportPage([], exports.count_exports(session=connection, member=member))
    rows = connection.execute(queries.EXPORT_PAGE, {"member_id": member.id, "limit": limit, "offset": offset}).all()
    return ExportPage([_view(row) for row in rows], int(rows[0].total) if rows else 0)


def prep_hls(*, session: Session, member: Member, upload_id: object, provider: str) -> HlsStatus:
    """Prep for Publish: queue an HLS transcode of the member's export, at most one at a time.

    Under the upload's row lock: ready or in progress → nothing new; failed → a new production
    (pointer moved, old rows kept), unless its HD pass succeeded or still runs: then only its fast pass is queued
    again; none yet → a new production. A source above 540p gets two jobs, its fast and its HD pass
    (services/passes.py). Commits, then wakes the refresh tick, which submits the queued jobs to the transcoder.
    StorageFull (nothing written) when a new transcode would start with the data dir below EXPORTS_MIN_FREE_BYTES.
    """
    upload = exports.lock_export(session=session, member=member, upload_id=upload_id)
    assert upload.id is not None
    current = find_by_export_upload_id(session=session, upload_id=upload.id)
    if current is not None and not HLS_STATES[current.hls_status.state].prep_enabled:  # ready, or in progress
        session.commit()
        return current.hls_status
    faults.ensure_room()  # a new transcode only with room for its ladder: refused now, not halfway through
    retry = (
        current is not None
        and current.hls_status.state == FAILED
        and passes.hd_lives_on(session=session, production_id=current.hls_status.production_id or 0)
    )
    if current is not None and (retry or current.hls_status.state == NOT_READY):
        production = current.production  # no job yet, or a fast pass to try again beside an HD pass that lives on
    else:
        production = Production(user_id=member.id, upload_id=upload.id)
        session.add(production)
        session.flush()
        upload.create_video_production_id = production.id
    production.updated_at = utcnow()
    session.add(production)
    session.add(upload)
    job = passes.queue(session=session, production=production, upload=upload, provider=provider, retry=retry)
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
