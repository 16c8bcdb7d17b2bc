"""Rows a test needs, made through the app's own services: members (all with one password), their uploads (a bare
row, or a real file imported), a prep, a production made ready."""

from __future__ import annotations

import functools
from datetime import datetime
from pathlib import Path
from typing import TypedDict, Unpack

from exports_app.db import session_scope
from exports_app.domain import JobStatus
from exports_app.models import Upload, User
from exports_app.services import auth, exports, media_jobs, productions
from exports_app.services.auth import Member
from exports_app.services.hls_status import HlsStatus
from exports_app.transcode.base import JobReport, Rendition

PASSWORD = "correct horse battery"


@functools.cache
def password_hash() -> str:
    """PASSWORD's argon2 hash, made once per test process: each hash costs about a quarter second of CPU, and a run
    makes hundreds of members. (create_user's own checks and hashing are tested in test_auth_service.)"""
    return auth.hash_password(PASSWORD)


def make_member(username: str) -> Member:
    """A member signing in with PASSWORD."""
    with session_scope() as s:
        user = User(username=username, password_hash=password_hash())
        s.add(user)
        s.flush()
        return Member(flushed_id(user.id), username)


class UploadFields(TypedDict, total=False):
    """The Upload columns a test may set beyond add_upload's defaults."""

    create_video_project_id: int | None
    deleted_at: datetime | None
    width: int  # 320 unless set (with height: a source above 540p is made in two passes)
    height: int  # 240 unless set


def add_upload(member: Member, role: str = "export", title: str = "Clip", **fields: Unpack[UploadFields]) -> int:
    """An upload row without a file (for routes that never read it)."""
    sized: UploadFields = {"width": 320, "height": 240, **fields}
    with session_scope() as s:
        upload = Upload(
            user_id=member.id,
            video_role=role,
            title=title,
            filename="clip.mp4",
            storage_key=f"uploads/{member.id}/x/clip.mp4",
            size_bytes=1000,
            duration_seconds=2.0,
            **sized,
        )
        s.add(upload)
        s.flush()
        assert upload.id is not None
        return upload.id


class ImportOptions(TypedDict, total=False):
    """import_export's options that tests pass."""

    filename: str
    staged: bool


def import_clip(member: Member, path: Path, **kwargs: Unpack[ImportOptions]) -> int:
    """A real file imported as the member's export, as the CLI and the upload do; its upload id."""
    with session_scope() as session:
        upload = exports.import_export(session=session, member=member, source=path, **kwargs)
        assert upload.id is not None
        return upload.id


def prep(member: Member, upload_id: int) -> HlsStatus:
    """The export prepped for the local transcoder, as its Prep button does."""
    with session_scope() as s:
        return productions.prep_hls(session=s, member=member, upload_id=upload_id, provider="local")


def ready_production(member: Member, title: str, renditions: tuple[Rendition, ...] = ()) -> int:
    """A new export of the member's, prepped and its job reported done: the ready production's id."""
    status = prep(member, add_upload(member, title=title))
    with session_scope() as s:
        (job,) = media_jobs.pending_jobs(session=s, provider="local")
        done = JobReport(
            job.pending.request.media_job_id,
            JobStatus.SUCCEEDED,
            master_playlist_uri=f"hls/{status.production_id}/master.m3u8",
            renditions=renditions,
        )
        media_jobs.apply_report(session=s, report=done)
    assert status.production_id is not None
    return status.production_id


def flushed_id(row_id: int | None) -> int:
    """A row's id once the session has flushed it (SQLModel types every primary key as optional)."""
    assert row_id is not None, "row not flushed"
    return row_id
