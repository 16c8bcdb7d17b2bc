"""What counts as a storage fault (a full disk, a quota, a read-only file system) and the one line members read.

On the ground floor so the transcoders can tell a write failure from a bad input by the same rule the
services use; services/faults.py adds the logging, the free-space guard and the member-facing errors.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterable
from pathlib import Path

import sqlalchemy.exc

log = logging.getLogger("exports_app.storage")

STORAGE_FULL_MESSAGE = "The server is out of storage space. Try again later."
STORAGE_FULL_CODE = "storage_full"  # media_jobs.error_code of a job stopped by one
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})
# How ffmpeg (strerror) and SQLite word the same three faults; SQLite says FULL or READONLY, not the errno.
_STORAGE_WORDS = (
    "no space left on device",
    "disk quota exceeded",
    "read-only file system",
    "database or disk is full",
    "attempt to write a readonly database",
)
_SQLITE_STORAGE_CODES = frozenset({sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY})


def causes(exc: BaseException) -> Iterable[BaseException]:
    """exc and the exceptions it was raised from or while handling (SQLAlchemy wraps the driver's)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def is_storage_error(exc: BaseException) -> bool:
    """True for ENOSPC, EDQUOT or EROFS however it arrives: an OSError, or SQLite's FULL / READONLY."""
    for link in causes(exc):
        if isinstance(link, OSError) and link.errno in STORAGE_ERRNOS:
            return True
        if isinstance(link, sqlite3.Error) and (getattr(link, "sqlite_errorcode", 0) & 0xFF) in _SQLITE_STORAGE_CODES:
            return True
        if isinstance(link, sqlalchemy.exc.OperationalError) and mentions_storage([str(link.orig)]):
            return True
    return False


def mentions_storage(lines: Iterable[str]) -> bool:
    """True when a tool's messages (ffmpeg's stderr) report one of the storage faults."""
    return any(word in line.lower() for line in lines for word in _STORAGE_WORDS)


def write_fails(folder: Path, size: int = 64 * 1024) -> OSError | None:
    """The storage fault a small write in folder meets now, or None if it can take one.

    For tools that lose their write errors: ffmpeg's HLS muxer exits 0 after segments failed to be written.
    """
    probe = folder / f".write-probe-{uuid.uuid4().hex}"
    try:
        with probe.open("wb") as out:
            out.write(b"\0" * size)
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        return exc if exc.errno in STORAGE_ERRNOS else None
    finally:
        probe.unlink(missing_ok=True)
    return None


def free_bytes(path: Path) -> int:
    """Free bytes for an unprivileged writer on the file system of path (or of its nearest existing parent)."""
    probe = path.resolve()
    while not probe.exists() and probe != probe.parent:  # the data dir is made on first write
        probe = probe.parent
    return shutil.disk_usage(probe).free


def log_storage_fault(what: str, path: Path) -> None:
    """The operator's one line about a storage fault: what failed, where, and the room left (no stack trace)."""
    try:
        free = f"{free_bytes(path)} bytes free"
    except OSError:
        free = "free space unknown"
    log.error("storage fault at %s (%s): %s", path, free, what)


def describe(exc: BaseException) -> str:
    """The exception's type and first line, for a log line."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
