"""The process's transcoder, chosen by EXPORTS_TRANSCODER and built lazily (never at import), and what callers
outside transcode/ ask of it: its outputs, and whether it is configured to run here."""

from __future__ import annotations

import threading

from exports_app.config import get_settings
from exports_app.transcode.base import Transcoder, WakeHook

_lock = threading.Lock()
_instance: Transcoder | None = None


def get_transcoder(wake: WakeHook | None = None) -> Transcoder:
    """The one transcoder of this process; `wake` is wired on first creation (by the scheduler)."""
    global _instance
    with _lock:
        if _instance is None:
            settings = get_settings()
            if settings.transcoder == "mediaconvert":
                from exports_app.transcode.mediaconvert import MediaConvertTranscoder

                _instance = MediaConvertTranscoder(
                    settings.mediaconvert, max_duration_seconds=settings.max_duration_seconds
                )
            elif settings.transcoder == "local":
                from exports_app.transcode.local_ffmpeg import LocalFfmpegTranscoder

                _instance = LocalFfmpegTranscoder(
                    settings.hls_dir,
                    concurrency=settings.local_concurrency,
                    wake=wake,
                    max_duration_seconds=settings.max_duration_seconds,
                    nice=settings.transcode_nice,
                )
            else:
                raise ValueError(f"EXPORTS_TRANSCODER must be 'local' or 'mediaconvert', not {settings.transcoder!r}")
        return _instance


def close_transcoder() -> None:
    global _instance
    with _lock:
        if _instance is not None:
            _instance.close()
        _instance = None


def is_remote(uri: str) -> bool:
    """Whether an output URI a report named lives outside the data dir (e.g. "s3://bucket/key"), so it is read
    through the transcoder rather than served as a file."""
    return "://" in uri


def read_output(uri: str) -> bytes:
    """The bytes of a remote output, read by the configured transcoder; FileNotFoundError if absent."""
    return get_transcoder().open_output(uri)


def configuration() -> tuple[bool, str]:
    """Whether the configured transcoder can run here, and in a few words why (for the readiness check)."""
    settings = get_settings()
    if settings.transcoder == "mediaconvert":
        missing = settings.mediaconvert.missing()
        return not missing, f"mediaconvert needs {', '.join(missing)}" if missing else "mediaconvert configured"
    from exports_app.transcode.ffmpeg_run import ffmpeg_problem

    problem = ffmpeg_problem()
    return problem is None, problem or "local ffmpeg present"
