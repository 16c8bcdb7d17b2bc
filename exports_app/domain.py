"""The ground floor: the export role, the media job statuses and the clock, depending on nothing else in the app."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

EXPORT_ROLE = "export"  # uploads.video_role of a rendered export


class JobStatus(str, enum.Enum):  # noqa: UP042 (StrEnum would change str(status) and every f-string of one)
    """A media job's status as stored in media_jobs.status."""

    QUEUED = "queued"  # row written, not yet accepted by the transcoder
    SUBMITTED = "submitted"  # accepted by the transcoder, waiting for a worker
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    TIMED_OUT = "timed_out"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED, JobStatus.TIMED_OUT})
ACTIVE_STATUSES = frozenset({JobStatus.QUEUED, JobStatus.SUBMITTED, JobStatus.RUNNING})


class Pass(str, enum.Enum):  # noqa: UP042 (as JobStatus: stored and compared as its value)
    """Which rungs of the ladder a media job encodes (media_jobs.pass_name).

    A source above 540p is encoded in two passes: the fast one (the low rungs) makes the production ready, the HD one
    adds the rest to the same master later. A smaller source is encoded whole, in one pass.
    """

    FULL = "full"
    FAST = "fast"
    HD = "hd"


# A job that reports success without a master playlist has nothing to serve: it is stored, and shown, as failed.
NO_MASTER_PLAYLIST = "The transcode finished without an HLS master playlist."


def utcnow() -> datetime:
    """Aware UTC now: SQLModel stores aware datetimes and returns them in UTC."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """A moment read back from the database as aware UTC (SQLite and naive columns return it without a zone)."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
