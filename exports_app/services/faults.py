"""Server-side faults told once: a full disk, a quota or a read-only file system, and a database that is away.

Every path (prep, the API, sign-in, uploads, the CLI) asks `member_fault` what an exception means for the
member, so each fault has one message; `ensure_room` refuses new work up front when the data dir runs low.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import sqlalchemy.exc

from exports_app.config import get_settings
from exports_app.services.errors import ServiceError
from exports_app.storage_faults import (
    STORAGE_FULL_MESSAGE,
    causes,
    describe,
    free_bytes,
    is_storage_error,
    log_storage_fault,
)

log = logging.getLogger(__name__)

UNAVAILABLE_MESSAGE = "The service is temporarily unavailable. Try again later."
RETRY_AFTER_SECONDS = 30


class StorageFull(ServiceError):
    """The data dir (or the database's disk) cannot take a write: full, over quota, or read-only."""

    def __init__(self) -> None:
        super().__init__(STORAGE_FULL_MESSAGE)


class Unavailable(ServiceError):
    """A part the app needs (the database) does not answer; the member should simply try again."""

    def __init__(self) -> None:
        super().__init__(UNAVAILABLE_MESSAGE)


def is_database_away(exc: BaseException) -> bool:
    """True when the database did not answer (refused, dropped, unreadable), not when a statement was wrong."""
    for link in causes(exc):
        if isinstance(link, sqlalchemy.exc.DBAPIError) and link.connection_invalidated:
            return True
        if isinstance(link, (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError)):
            return True
        if isinstance(link, sqlalchemy.exc.TimeoutError):  # the pool waited for a connection in vain
            return True
    return False


def member_fault(exc: BaseException, path: Path | None = None) -> ServiceError | None:
    """The member-facing error a server fault becomes (logged here, once, for the operator), or None.

    Storage is checked first: SQLite's "disk is full" is also an OperationalError.
    """
    if isinstance(exc, ServiceError):
        return exc
    if is_storage_error(exc):
        log_storage_fault(describe(exc), path or _written_where(exc) or get_settings().data_dir)
        return StorageFull()
    if is_database_away(exc):
        log.error("database unavailable: %s", describe(exc))
        return Unavailable()
    return None


def _written_where(exc: BaseException) -> Path | None:
    """The folder of the file a failed write named (its file system is the full one), if it named one.

    A copy names its source first and its target second (filename2): the target is where the write failed.
    """
    for link in causes(exc):
        if isinstance(link, OSError):
            target = link.filename2 if isinstance(link.filename2, str) else link.filename
            if isinstance(target, str):
                return Path(target).parent
    return None


def room_short(path: Path | None = None) -> str | None:
    """Why new uploads and preps are refused now, in an operator's words, or None when the data dir has at least
    EXPORTS_MIN_FREE_BYTES free. Only new work waits for room: the app starts and serves what it has."""
    free, minimum = free_bytes(path or get_settings().data_dir), get_settings().min_free_bytes
    return f"{free} bytes free, below EXPORTS_MIN_FREE_BYTES ({minimum})" if free < minimum else None


_told_short = threading.Event()  # the shortage is logged once while it lasts, not at every refusal


def ensure_room(path: Path | None = None) -> None:
    """StorageFull before new work starts when the data dir has less than EXPORTS_MIN_FREE_BYTES free.

    Refusing at the start beats filling the disk halfway through an upload or a transcode.
    """
    where = path or get_settings().data_dir
    if room_short(where) is None:
        _told_short.clear()
        return
    if not _told_short.is_set():
        _told_short.set()
        minimum = get_settings().min_free_bytes  # the free bytes are in the line already
        log_storage_fault(
            f"below EXPORTS_MIN_FREE_BYTES ({minimum}): new uploads and preps refused until there is room", where
        )
    raise StorageFull()
