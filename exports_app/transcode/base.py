"""The Transcoder protocol and the reports it gives back about media jobs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from exports_app.domain import ACTIVE_STATUSES, TERMINAL_STATUSES, JobStatus, Pass, utcnow

# The statuses and the clock live on the ground floor; adapters and their callers may name them from here too.
__all__ = [
    "ACTIVE_STATUSES",
    "TERMINAL_STATUSES",
    "JobReport",
    "JobRequest",
    "JobStatus",
    "Pass",
    "PendingJob",
    "Rendition",
    "Transcoder",
    "WakeHook",
    "utcnow",
]


@dataclass(frozen=True)
class JobRequest:
    """Everything a transcoder needs to start (or restart) one media job."""

    media_job_id: int
    production_id: int
    upload_id: int
    idempotency_token: str
    input_path: Path  # the stored export on local disk
    duration_seconds: float | None  # probed at import; drives percent
    source_height: int | None  # the ladder never upscales past this
    owner_id: int = 0  # the member whose job it is: the local queue gives each member's jobs a fair turn
    pass_name: Pass = Pass.FULL  # the rungs it encodes: the whole ladder, or one pass of two (ladder.pass_rungs)


@dataclass(frozen=True)
class PendingJob:
    """A non-terminal job as the refresh tick hands it to poll()."""

    request: JobRequest
    provider_job_id: str | None
    status: JobStatus


@dataclass(frozen=True)
class Rendition:
    """One variant stream of a finished HLS ladder."""

    uri: str  # the variant playlist, in the master's form (a key under EXPORTS_DATA_DIR, or "s3://bucket/key")
    height: int
    bandwidth: int
    width: int = 0  # 0: not known (renditions stored before sizes were)
    frame_rate: float = 0.0


@dataclass(frozen=True)
class JobReport:
    """What a transcoder knows about one job at one moment."""

    media_job_id: int
    status: JobStatus
    percent: int | None = None
    phase: str | None = None  # e.g. QUEUED, PROBING, TRANSCODING, UPLOADING
    error_code: str | None = None
    error_message: str | None = None
    # Local: a key under EXPORTS_DATA_DIR ("hls/12/master.m3u8"); MediaConvert: "s3://bucket/key". A pass's job
    # names its pass's own master here, and in production_master_uri where the master that merges the production's
    # passes is served from (the folder both passes' outputs share).
    master_playlist_uri: str | None = None
    production_master_uri: str | None = None
    renditions: tuple[Rendition, ...] = ()
    # A poster frame the transcoder made beside the HLS (MediaConvert's frame capture), on success.
    poster_uri: str | None = None
    provider_job_id: str | None = None
    # When the provider observed this status; reports older than the last applied are ignored.
    reported_at: datetime = field(default_factory=utcnow)


class Transcoder(Protocol):
    """Submits, polls and cancels media jobs; implementations must be thread-safe."""

    name: str  # "local" | "mediaconvert" (media_jobs.provider)
    # Whether a production's HD pass is submitted only once its fast pass has succeeded (local: one machine's cores
    # go to the fast pass first), or with it (MediaConvert: the two run side by side).
    hd_after_fast: bool

    def submit(self, request: JobRequest) -> str:
        """Start the job; returns the provider job id. Idempotent per request.idempotency_token."""
        ...

    def poll(self, jobs: Sequence[PendingJob]) -> list[JobReport]:
        """Report on many jobs in one call; jobs it cannot speak for are simply left out."""
        ...

    def receive_events(self) -> list[JobReport]:
        """Reports the provider pushed since the last call (MediaConvert: EventBridge via SQS); may be empty."""
        ...

    def cancel(self, job: PendingJob) -> None:
        """Stop the job if it still runs; never raises for a job that already ended."""
        ...

    def close(self) -> None:
        """Stop background work (processes, threads) owned by this transcoder."""
        ...

    def is_transient(self, exc: Exception) -> bool:
        """Whether a submit that raised `exc` is worth another try on the next tick (throttling, 5xx, network)."""
        ...

    def open_output(self, uri: str) -> bytes:
        """The bytes of one of its outputs by the URI its reports named; FileNotFoundError if there is none."""
        ...


WakeHook = Callable[[], None]
"""Called (from any thread) when a transcoder has news, so the refresh tick runs now."""
