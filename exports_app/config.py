"""One Settings object read from environment variables (the README lists them), validated at start-up."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Empty variables mean "use the default", as in a shell's `VAR= make run`.
_ENV = SettingsConfigDict(
    env_prefix="EXPORTS_", env_ignore_empty=True, frozen=True, populate_by_name=True, extra="ignore"
)


class MediaConvertSettings(BaseSettings):
    """Where and how AWS Elemental MediaConvert jobs run (used when EXPORTS_TRANSCODER=mediaconvert)."""

    model_config = _ENV

    region: str = Field("us-east-1", validation_alias=AliasChoices("EXPORTS_AWS_REGION", "region"))
    endpoint_url: str = Field("", validation_alias=AliasChoices("EXPORTS_MEDIACONVERT_ENDPOINT", "endpoint_url"))
    role_arn: str = Field("", validation_alias=AliasChoices("EXPORTS_MEDIACONVERT_ROLE_ARN", "role_arn"))
    queue_arn: str = Field("", validation_alias=AliasChoices("EXPORTS_MEDIACONVERT_QUEUE", "queue_arn"))
    job_template: str = Field("", validation_alias=AliasChoices("EXPORTS_MEDIACONVERT_TEMPLATE", "job_template"))
    s3_endpoint_url: str = Field("", validation_alias=AliasChoices("EXPORTS_S3_ENDPOINT", "s3_endpoint_url"))
    input_bucket: str = Field("", validation_alias=AliasChoices("EXPORTS_S3_INPUT_BUCKET", "input_bucket"))
    output_bucket: str = Field("", validation_alias=AliasChoices("EXPORTS_S3_OUTPUT_BUCKET", "output_bucket"))
    sqs_queue_url: str = Field("", validation_alias=AliasChoices("EXPORTS_SQS_QUEUE_URL", "sqs_queue_url"))

    def missing(self) -> list[str]:
        """The variables MediaConvert cannot run without that are not set."""
        required = {
            "EXPORTS_MEDIACONVERT_ENDPOINT": self.endpoint_url,
            "EXPORTS_MEDIACONVERT_ROLE_ARN": self.role_arn,
            "EXPORTS_S3_INPUT_BUCKET": self.input_bucket,
            "EXPORTS_S3_OUTPUT_BUCKET": self.output_bucket,
        }
        return [name for name, value in required.items() if not value]


class Settings(BaseSettings):
    """Everything configurable about the app; read once per process (see get_settings)."""

    model_config = _ENV

    data_dir: Path = Path("./data")
    database_url_override: str = Field(
        "", validation_alias=AliasChoices("EXPORTS_DATABASE_URL", "database_url_override")
    )
    port: int = Field(3000, ge=1, le=65535)
    transcoder: Literal["local", "mediaconvert"] = "local"
    # Seconds between refresh ticks; the local transcoder also wakes the tick when ffmpeg exits.
    refresh_seconds: float = Field(2.0, gt=0)
    # A job with no terminal report after this many seconds is failed as timed out.
    job_timeout_seconds: float = Field(3600.0, gt=0)
    # Sources above 540p are encoded in two passes: the low rungs first (the production is ready when they are), then
    # the HD rungs, added to the same master. Off: every source in one pass, ready only when its whole ladder is.
    two_pass: bool = True
    # Parallel ffmpeg jobs; one ffmpeg already uses every core for the whole ladder.
    local_concurrency: int = Field(1, ge=1)
    # How much lower than the app ffmpeg runs (a nice value for its session's scheduling group and its threads):
    # 19 lets the web worker win the CPU whenever it wants it, while an idle machine still gives ffmpeg every core.
    transcode_nice: int = Field(19, ge=0, le=19)
    session_days: int = Field(14, ge=1)
    # Set to 1 behind HTTPS so cookies carry the Secure flag (and pages send HSTS).
    secure_cookies: bool = False
    # Origins allowed besides the app's own (the request's Host) for the websocket and credentialed API
    # calls, comma separated; never "*".
    allowed_origins: Annotated[list[str], NoDecode] = []
    # Larger uploads are refused with 413 before they are stored.
    max_upload_bytes: int = Field(10 * 1024**3, ge=1)
    # New uploads and preps are refused (503) while the data dir has less free space than this: a local HLS
    # ladder writes about the source's size again, so the room is checked before work starts, not halfway.
    min_free_bytes: int = Field(1024**3, ge=0)
    # Uploads in flight at once in one server process, per member and in all (more get 429 before their body).
    max_uploads_per_member: int = Field(2, ge=1)
    max_uploads: int = Field(16, ge=1)
    # The websocket's event budget (state/socket_guard.py): a burst, then a sustained rate per second, for each tab
    # and for each member's tabs together (an address's, for tabs without a session). Past it events are dropped.
    tab_event_burst: int = Field(30, ge=1)
    tab_events_per_second: float = Field(10.0, gt=0)
    member_event_burst: int = Field(120, ge=1)
    member_events_per_second: float = Field(20.0, gt=0)
    # Live tabs (websockets) per member, and per client address for tabs without a session, in one server process:
    # past it the oldest is told it was closed and disconnected.
    max_tabs_per_member: int = Field(20, ge=1)
    max_tabs_per_address: int = Field(50, ge=1)
    # An upload that stops moving is cut off (408) and frees its slot (api/upload_body.py): nothing arrives for
    # upload_idle_seconds; or a window of upload_rate_window_seconds spent waiting for the client (the first one
    # is the grace period) brings less than upload_min_rate bytes a second (0: no rate check); or the whole
    # body takes longer than upload_time_floor_seconds plus its declared size at upload_total_rate bytes a second.
    upload_idle_seconds: float = Field(30.0, gt=0)
    upload_min_rate: int = Field(4096, ge=0)
    upload_rate_window_seconds: float = Field(60.0, gt=0)
    upload_time_floor_seconds: float = Field(300.0, gt=0)
    upload_total_rate: int = Field(65536, ge=1)
    # Rows one member can make (SECURITY.md, "Caps"): spaces; exports kept (not deleted); exports made in the last
    # hour, uploaded or imported, deleted or not; sign-in sessions (a new one ends the oldest beyond the cap).
    max_spaces_per_member: int = Field(500, ge=1)
    max_exports_per_member: int = Field(5000, ge=1)
    max_exports_per_hour: int = Field(60, ge=1)
    max_sessions_per_member: int = Field(20, ge=1)
    # Longer videos are refused at import (and before a transcode): bounds the work one file can cause.
    max_duration_seconds: float = Field(4 * 3600.0, gt=0)
    # Stored files of exports deleted longer ago than this are removed by the leader (rows stay).
    purge_days: float = Field(30.0, ge=0)
    # The key of the shared-state tokens; empty: a random one kept in the database (shared by all hosts).
    secret_key: str = ""
    # Serve the API's /api/docs and /api/openapi.json (off: they map the attack surface for anyone who asks).
    api_docs: bool = False
    # Server worker processes on this host (scripts/serve.sh); more than one needs REFLEX_REDIS_URL.
    workers: int = Field(1, ge=1)
    # /metrics is served only to a scraper sending "Authorization: Bearer <this>"; empty: not served at all.
    metrics_token: str = ""
    # "json": the app's log lines as one JSON object each, with the request id (see exports_app/logs.py).
    log_format: Literal["text", "json"] = "text"
    mediaconvert: MediaConvertSettings = Field(default_factory=MediaConvertSettings)

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            origins = [str(o).strip().rstrip("/").lower() for o in value]
            for origin in origins:
                if origin == "*" or "://" not in origin:
                    raise ValueError(f"{origin!r} is not an origin like https://example.com (and never *)")
            return origins
        return value

    @model_validator(mode="after")
    def _workers_share_state(self) -> Settings:
        if self.workers > 1 and not os.environ.get("REFLEX_REDIS_URL"):
            raise ValueError("EXPORTS_WORKERS above 1 needs REFLEX_REDIS_URL (the workers share tabs' state there)")
        return self

    @model_validator(mode="after")
    def _mediaconvert_complete(self) -> Settings:
        missing = self.mediaconvert.missing() if self.transcoder == "mediaconvert" else []
        if missing:
            raise ValueError(f"EXPORTS_TRANSCODER=mediaconvert needs {', '.join(missing)}")
        return self

    @property
    def database_url(self) -> str:
        if self.database_url_override:
            return self.database_url_override
        return f"sqlite:///{self.data_dir / 'exports.db'}"

    @property
    def hls_dir(self) -> Path:
        return self.data_dir / "hls"


class ConfigurationError(SystemExit):
    """A bad environment: stops the app (or the CLI) with one line naming the variable."""


def _one_line(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "mediaconvert")
    name = f"EXPORTS_{where.upper()}" if where and not where.startswith("EXPORTS_") else where
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    return f"exports_app: invalid configuration: {name + ': ' if name else ''}{message}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings; tests clear the cache after changing the environment."""
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigurationError(_one_line(exc)) from None
