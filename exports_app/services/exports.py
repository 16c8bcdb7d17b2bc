"""Exports of a member: listing, ownership checks, import from a file, and delete."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path
from typing import SupportsIndex, SupportsInt

import sqlalchemy as sa
from sqlmodel import Session, col, select

from exports_app.config import get_settings
from exports_app.domain import EXPORT_ROLE, as_utc, utcnow
from exports_app.models import Upload, VideoProject
from exports_app.services import faults, posters, queries, quotas, storage
from exports_app.services.auth import Member
from exports_app.services.errors import Invalid, LimitReached, NotFound
from exports_app.transcode.probe import NotAVideoError, VideoProbe, probe_video, sniff_container

NOT_FOUND_MESSAGE = "Export not found."
# Ids are INTEGER (32-bit on MySQL/MariaDB and PostgreSQL, which refuses a larger parameter with an error);
# only productions' ids are BIGINT.
MAX_ID = 2**31 - 1
MAX_BIG_ID = 2**63 - 1


def valid_id(value: object, maximum: int = MAX_ID) -> int | None:
    """A positive database id from client input, or None for anything malformed or out of range."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        if not (value.isascii() and value.isdigit()):
            return None
    elif not isinstance(value, (bytes, bytearray, SupportsInt, SupportsIndex)):
        return None  # int() refuses anything else (TypeError): not an id either
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an event argument of Infinity
        return None
    return number if 0 < number <= maximum else None


def owned_export_clause(member: Member, upload_id: int) -> sa.ColumnElement[bool]:
    return sa.and_(col(Upload.id) == upload_id, queries.members_export(member.id))


def get_export(*, session: Session, member: Member, upload_id: object) -> Upload:
    """The member's live export, or NotFound (missing, deleted, not an export, or someone else's)."""
    uid = valid_id(upload_id)
    if uid is None:
        raise NotFound(NOT_FOUND_MESSAGE)
    upload = session.exec(select(Upload).where(owned_export_clause(member, uid))).first()
    if upload is None:
        raise NotFound(NOT_FOUND_MESSAGE)
    return upload


def lock_export(*, session: Session, member: Member, upload_id: object) -> Upload:
    """get_export inside a write lock on the upload row, so concurrent preps of one export serialize.

    An UPDATE takes the row lock on every database (and SQLite's write lock), unlike FOR UPDATE.
    """
    uid = valid_id(upload_id)
    if uid is None:
        raise NotFound(NOT_FOUND_MESSAGE)
    result = session.exec(sa.update(Upload).where(owned_export_clause(member, uid)).values(updated_at=utcnow()))
    if not result.rowcount:
        raise NotFound(NOT_FOUND_MESSAGE)
    session.expire_all()
    return get_export(session=session, member=member, upload_id=uid)


def count_exports(*, session: Session | sa.Connection, member: Member) -> int:
    return int(
        session.execute(
            sa.select(sa.func.count()).select_from(Upload).where(queries.members_export(member.id))
        ).scalar_one()
    )


HOUR = timedelta(hours=1)


def check_export_quota(*, session: Session, member: Member, lock: bool = False) -> None:
    """LimitReached when the member may not add an export now: EXPORTS_MAX_EXPORTS_PER_MEMBER kept (not deleted),
    or EXPORTS_MAX_EXPORTS_PER_HOUR made in the last hour (deleted ones too: a delete gives no upload back).

    lock: count under the member's row lock (held until the caller's transaction ends), as the import does right
    before it adds the row, so uploads at once on any worker cannot pass the caps together.
    """
    if lock:
        quotas.lock_member(session=session, member_id=member.id)
    settings = get_settings()
    kept = sa.select(sa.func.count()).select_from(Upload).where(queries.members_export(member.id))
    if session.execute(kept).scalar_one() >= settings.max_exports_per_member:
        raise LimitReached(quotas.at_most(settings.max_exports_per_member, "export") + " Delete one to add another.")
    cap, now = settings.max_exports_per_hour, utcnow()
    # The cap-th newest export of the last hour: while there is one, the hour is full, until it is an hour old.
    recent = (
        col(Upload.user_id) == member.id,
        col(Upload.video_role) == EXPORT_ROLE,
        col(Upload.created_at) > now - HOUR,
    )
    full_since = session.execute(
        sa.select(col(Upload.created_at))
        .where(*recent)
        .order_by(col(Upload.created_at).desc())
        .offset(cap - 1)
        .limit(1)
    ).scalar_one_or_none()
    if full_since is not None:
        left = (as_utc(full_since) + HOUR - now).total_seconds()
        raise LimitReached(
            f"You have uploaded {quotas.count_of(cap, 'video')} in the last hour, the most a member can. "
            + quotas.come_back_in(left),
            retry_after=max(1, math.ceil(left)),
        )


def import_export(
    *,
    session: Session,
    member: Member,
    source: Path,
    title: str | None = None,
    filename: str | None = None,
    project_id: int | None = None,
    staged: bool = False,
    allow_undecodable: bool = False,
) -> Upload:
    """Probe source, store it under a server-chosen name and record it as the member's export; refuses non-videos.

    Nothing is stored when the probe fails, and the stored file is removed if the row cannot be written.
    staged: source is an upload staged in the data dir, moved into place instead of copied (the caller
    removes it on failure). allow_undecodable is for the demo seed only: it stores a corrupt export (its
    container is still sniffed) so the failure path shows.
    """
    check_export_quota(session=session, member=member)  # before the probe and the copy; again under the lock below
    if not staged:  # a staged upload was let in by storage.staging_path's check already
        faults.ensure_room()
    try:
        probe: VideoProbe | None = probe_video(source, max_duration_seconds=get_settings().max_duration_seconds)
    except NotAVideoError as exc:
        if not allow_undecodable:
            raise Invalid(f"Not a supported video: {exc}") from exc
        try:
            sniff_container(source)  # even the seed's corrupt export has a video container's header
        except NotAVideoError as wrong:
            raise Invalid(f"Not a supported video: {wrong}") from wrong
        probe = None
    if project_id is not None:
        project = session.get(VideoProject, project_id)
        if project is None or project.user_id != member.id:
            raise NotFound("Project not found.")
    name = storage.safe_filename(filename or source.name)
    extension = probe.extension if probe else ".mp4"
    key, size = storage.store_file(source, member.id, extension, move=staged)
    upload: Upload | None = None
    try:
        check_export_quota(session=session, member=member, lock=True)  # what landed while this one was probed
        upload = Upload(
            user_id=member.id,
            video_role=EXPORT_ROLE,
            title=(title or Path(name).stem).strip()[:255] or "Untitled export",
            filename=name,
            storage_key=key,
            size_bytes=size,
            duration_seconds=probe.duration_seconds if probe else None,
            width=probe.width if probe else None,
            height=probe.height if probe else None,
            create_video_project_id=project_id,
        )
        session.add(upload)
        session.flush()
        posters.ensure_poster(session=session, upload=upload)
    except Exception:
        if upload is not None:
            posters.remove_poster(upload)
        storage.remove(key)
        raise
    return upload


def delete_export(*, session: Session, member: Member, upload_id: object) -> Upload:
    """Soft-delete the export only: its productions, jobs and publications stay."""
    upload = lock_export(session=session, member=member, upload_id=upload_id)
    upload.deleted_at = utcnow()
    session.add(upload)
    session.flush()
    return upload


PURGE_BATCH = 200


def purge_deleted_files(*, session: Session, older_than: timedelta) -> int:
    """Remove the stored files of exports deleted longer ago than older_than; rows and productions stay."""
    cutoff = utcnow() - older_than
    due = session.exec(
        select(Upload).where(col(Upload.deleted_at) < cutoff, col(Upload.files_purged_at).is_(None)).limit(PURGE_BATCH)
    ).all()
    for upload in due:
        posters.remove_poster(upload)
        try:
            storage.remove(upload.storage_key)
        except FileNotFoundError:  # a key outside the data dir: nothing of ours to remove
            pass
        upload.files_purged_at = utcnow()
        session.add(upload)
    session.flush()
    return len(due)
