"""One Settings object read from environment variables (the README lists them)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


def _env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, "").strip() or default


@dataclass(frozen=True)
class MediaConvertSettings:
    """Where and how AWS Elemental MediaConvert jobs run (used when EXPORTS_TRANSCODER=mediaconvert)."""

    region: str = field(default_factory=lambda: _env_str("EXPORTS_AWS_REGION", "us-east-1"))
    endpoint_url: str = field(default_factory=lambda: _env_str("EXPORTS_MEDIACONVERT_ENDPOINT"))
    role_arn: str = field(default_factory=lambda: _env_str("EXPORTS_MEDIACONVERT_ROLE_ARN"))
    queue_arn: str = field(default_factory=lambda: _env_str("EXPORTS_MEDIACONVERT_QUEUE"))
    job_template: str = field(default_factory=lambda: _env_str("EXPORTS_MEDIACONVERT_TEMPLATE"))
    s3_endpoint_url: str = field(default_factory=lambda: _env_str("EXPORTS_S3_ENDPOINT"))
    input_bucket: str = field(default_factory=lambda: _env_str("EXPORTS_S3_INPUT_BUCKET"))
    output_bucket: str = field(default_factory=lambda: _env_str("EXPORTS_S3_OUTPUT_BUCKET"))
    sqs_queue_url: str = field(default_factory=lambda: _env_str("EXPORTS_SQS_QUEUE_URL"))


@dataclass(frozen=True)
class Settings:
    """Everything configurable about the app; read once per process (see get_settings)."""

    data_dir: Path = field(
        default_factory=lambda: Path(_env_str("EXPORTS_DATA_DIR", "./data")).resolve()
    )
    database_url_override: str = field(default_factory=lambda: _env_str("EXPORTS_DATABASE_URL"))
    port: int = field(default_factory=lambda: _env_int("EXPORTS_PORT", 3000))
    transcoder: str = field(default_factory=lambda: _env_str("EXPORTS_TRANSCODER", "local"))
    # Seconds between refresh ticks; the local transcoder also wakes the tick when ffmpeg exits.
    refresh_seconds: float = field(default_factory=lambda: _env_float("EXPORTS_REFRESH_SECONDS", 2.0))
    # A job with no terminal report after this many seconds is failed as timed out.
    job_timeout_seconds: float = field(
        default_factory=lambda: _env_float("EXPORTS_JOB_TIMEOUT_SECONDS", 3600.0)
    )
    # Parallel ffmpeg jobs; one ffmpeg already uses every core for the whole ladder.
    local_concurrency: int = field(default_factory=lambda: _env_int("EXPORTS_LOCAL_CONCURRENCY", 1))
    session_days: int = field(default_factory=lambda: _env_int("EXPORTS_SESSION_DAYS", 14))
    # Set to 1 behind HTTPS so cookies carry the Secure flag.
    secure_cookies: bool = field(default_factory=lambda: _env_str("EXPORTS_SECURE_COOKIES") == "1")
    # Origins allowed besides the app's own (the request's Host) for the websocket and credentialed API
    # calls, comma separated; never "*".
    allowed_origins: list[str] = field(
        default_factory=lambda: [o.strip().rstrip("/").lower()
                                 for o in _env_str("EXPORTS_ALLOWED_ORIGINS").split(",") if o.strip()]
    )
    # Larger uploads are refused with 413 before they are stored.
    max_upload_bytes: int = field(default_factory=lambda: _env_int("EXPORTS_MAX_UPLOAD_BYTES", 10 * 1024**3))
    # Stored files of exports deleted longer ago than this are removed by the leader (rows stay).
    purge_days: float = field(default_factory=lambda: _env_float("EXPORTS_PURGE_DAYS", 30.0))
    # The key of the shared-state tokens; empty: a random one kept in the database (shared by all hosts).
    secret_key: str = field(default_factory=lambda: _env_str("EXPORTS_SECRET_KEY"))
    mediaconvert: MediaConvertSettings = field(default_factory=MediaConvertSettings)

    def __post_init__(self) -> None:
        for origin in self.allowed_origins:
            if origin == "*" or "://" not in origin:
                raise ValueError(f"EXPORTS_ALLOWED_ORIGINS: {origin!r} is not an origin like https://example.com")

    @property
    def database_url(self) -> str:
        if self.database_url_override:
            return self.database_url_override
        return f"sqlite:///{self.data_dir / 'exports.db'}"

    @property
    def hls_dir(self) -> Path:
        return self.data_dir / "hls"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings; tests clear the cache after changing the environment."""
    return Settings()
