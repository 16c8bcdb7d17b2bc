"""The one derivation of an export's HLS state from its production and latest media job."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from exports_app.domain import ACTIVE_STATUSES, NO_MASTER_PLAYLIST, JobStatus
from exports_app.hls_states import ENDED_STATES, FAILED, IN_PROGRESS, NOT_READY, READY, HlsState
from exports_app.text import one_line
from exports_app.transcode.ladder import FAST_UP_TO

DETAIL_MAX = 200

_DEFAULT_DETAIL = {
    JobStatus.FAILED: "The transcode failed.",
    JobStatus.CANCELED: "The transcode was canceled.",
    JobStatus.TIMED_OUT: "The transcode timed out.",
}


@dataclass(frozen=True)
class HlsStatus:
    """What the API, the modal and the row badge show about an export's HLS production."""

    state: HlsState
    production_id: int | None = None
    detail: str | None = None
    percent: int | None = None
    phase: str | None = None
    hls_url: str | None = None
    poster_url: str | None = None  # when ready: the HLS preview's poster
    updated_at: datetime | None = None
    # When failed: which attempt (counted across the export's productions) failed, and when.
    attempt: int | None = None
    failed_at: datetime | None = None
    # A production of two passes: its HD pass, as one of the same four states (never the export's state), its
    # percent while it runs and why it failed; None for a production of one pass.
    hd: HdPass | None = None


@dataclass(frozen=True)
class HdPass:
    """The HD pass of a production made in two passes: extra information, beside the state the fast pass gives."""

    state: HlsState
    percent: int | None = None
    detail: str | None = None


NOT_STARTED = HlsStatus(state=NOT_READY)
# What a production made in two passes plays without its HD pass: the fast pass's rungs, up to this size.
WITHOUT_HD_UP_TO = f"{FAST_UP_TO}p"


def short_detail(message: str | None) -> str | None:
    """One line of at most DETAIL_MAX characters without server paths, or None for an empty message."""
    return one_line(message, DETAIL_MAX)


def production_poster_url(production_id: int) -> str:
    """Where the owner's browser fetches a production's poster (its frame capture, or its export's poster)."""
    return f"/media/posters/productions/{production_id}"


def hls_url_for(production_id: int) -> str:
    """Where the owner's browser fetches the master playlist (served by the media route)."""
    return f"/media/hls/{production_id}/master.m3u8"


class ProductionFacts(Protocol):
    """What the derivation reads of a production (an ORM row or a Core row alike)."""

    @property
    def id(self) -> int | None: ...
    @property
    def hls_master_uri(self) -> str | None: ...
    @property
    def updated_at(self) -> datetime | None: ...


class JobFacts(Protocol):
    """What the derivation reads of the production's latest media job."""

    @property
    def status(self) -> str: ...
    @property
    def percent(self) -> int: ...
    @property
    def phase(self) -> str | None: ...
    @property
    def error_message(self) -> str | None: ...
    @property
    def updated_at(self) -> datetime | None: ...
    @property
    def attempt(self) -> int: ...
    @property
    def finished_at(self) -> datetime | None: ...


class HdJobFacts(Protocol):
    """What the derivation reads of the production's newest HD pass."""

    @property
    def status(self) -> str: ...
    @property
    def percent(self) -> int: ...
    @property
    def error_message(self) -> str | None: ...


def derive_hd_pass(hd_job: HdJobFacts | None) -> HdPass | None:
    """The HD pass's state: in progress (with its percent) while it is queued or runs, ready, or failed (why)."""
    if hd_job is None:
        return None
    status = JobStatus(hd_job.status)
    if status in ACTIVE_STATUSES:
        return HdPass(IN_PROGRESS, hd_job.percent)
    if status is JobStatus.SUCCEEDED:
        return HdPass(READY, 100)
    return HdPass(FAILED, detail=short_detail(hd_job.error_message) or _DEFAULT_DETAIL.get(status))


def derive_hls_status(
    production: ProductionFacts | None, latest_job: JobFacts | None, hd_job: HdJobFacts | None = None
) -> HlsStatus:
    """The derivation, in order (docs/api.md): no production; ready; in progress; failed; production without a job.

    Prep writes a production together with its queued job, so "a job being submitted" (rule 5) is the
    queued job of rule 3; a production without any job is not_ready. latest_job is the newest job that makes the
    production ready (a whole ladder or a fast pass); an HD pass (hd_job) adds to the status, never changes its state.
    """
    if production is None or production.id is None:
        return NOT_STARTED
    pid = production.id
    if latest_job is None:
        return HlsStatus(state=NOT_READY, production_id=pid, updated_at=production.updated_at)
    hd = derive_hd_pass(hd_job)
    status = JobStatus(latest_job.status)
    updated = latest_job.updated_at
    if status is JobStatus.SUCCEEDED and production.hls_master_uri:
        return HlsStatus(
            state=READY,
            production_id=pid,
            percent=100,
            phase="COMPLETE",
            hls_url=hls_url_for(pid),
            poster_url=production_poster_url(pid),
            updated_at=updated,
            hd=hd,
        )
    if status in ACTIVE_STATUSES:
        return HlsStatus(
            state=IN_PROGRESS,
            production_id=pid,
            percent=latest_job.percent,
            phase=latest_job.phase or status.value.upper(),
            updated_at=updated,
            hd=hd,
        )
    detail = short_detail(latest_job.error_message) or _DEFAULT_DETAIL.get(status, NO_MASTER_PLAYLIST)
    return HlsStatus(
        state=FAILED,
        production_id=pid,
        detail=detail,
        updated_at=updated,
        attempt=latest_job.attempt,
        failed_at=latest_job.finished_at or updated,
        hd=hd,
    )


def prep_finished(before: HlsState | None, after: HlsStatus) -> bool:
    """True when a status change is a prep ending: in progress before, ready or failed now (worth telling)."""
    return before == IN_PROGRESS and after.state in ENDED_STATES
