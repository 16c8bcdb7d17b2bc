"""Poster frames of exports: made at import, lazily on first view, or by the CLI backfill; stored beside the upload."""

from __future__ import annotations

from sqlmodel import Session, col, select

from exports_app.models import Upload
from exports_app.services import queries, storage
from exports_app.transcode.poster import POSTER_EXTENSION, poster_jpeg
from exports_app.transcode.probe import NotAVideoError

POSTER_NAME = f"poster{POSTER_EXTENSION}"
BACKFILL_BATCH = 50


def export_poster_url(upload_id: int) -> str:
    """Where the owner's browser fetches an export's poster (the media route, which makes it if missing)."""
    return f"/media/posters/exports/{upload_id}"


def ensure_poster(*, session: Session, upload: Upload) -> str | None:
    """The upload's poster key, made now if it has none; None when its file gives no frame (or is gone).

    The frame is read through the media gate, like every read of a stored upload.
    """
    if upload.poster_key:
        return upload.poster_key
    if upload.files_purged_at is not None:
        return None
    try:
        data = poster_jpeg(storage.path_for(upload.storage_key))
    except (NotAVideoError, FileNotFoundError):
        return None
    key = storage.beside(upload.storage_key, POSTER_NAME)
    storage.write_bytes(key, data)
    upload.poster_key = key
    session.add(upload)
    session.flush()
    return key


def remove_poster(upload: Upload) -> None:
    """Remove the upload's poster file, if it has one (before its own file, so their folder goes too)."""
    if upload.poster_key:
        try:
            storage.remove(upload.poster_key)
        except FileNotFoundError:  # a key outside the data dir: nothing of ours to remove
            pass


def backfill(*, session: Session) -> tuple[int, int]:
    """Make the missing posters of the live exports: (made, without a frame). Commits each batch."""
    made = failed = 0
    after = 0
    while True:
        batch = list(
            session.exec(
                select(Upload)
                .where(
                    col(Upload.id) > after,
                    queries.live_export(),
                    col(Upload.poster_key).is_(None),
                )
                .order_by(col(Upload.id))
                .limit(BACKFILL_BATCH)
            )
        )
        if not batch:
            return made, failed
        for upload in batch:
            assert upload.id is not None
            after = upload.id
            if ensure_poster(session=session, upload=upload):
                made += 1
            else:
                failed += 1
        session.commit()
