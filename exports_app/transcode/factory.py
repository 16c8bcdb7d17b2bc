"""The process's transcoder, chosen by EXPORTS_TRANSCODER and built lazily (never at import)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from exports_app.config import get_settings
from exports_app.transcode.base import Transcoder, WakeHook

if TYPE_CHECKING:
    from exports_app.transcode.mediaconvert import MediaConvertTranscoder

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

                _instance = MediaConvertTranscoder(settings.mediaconvert)
            elif settings.transcoder == "local":
                from exports_app.transcode.local_ffmpeg import LocalFfmpegTranscoder

                _instance = LocalFfmpegTranscoder(
                    settings.hls_dir,
                    concurrency=settings.local_concurrency,
                    wake=wake,
                    max_duration_seconds=settings.max_duration_seconds,
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


_reader: MediaConvertTranscoder | None = None


def read_output(uri: str) -> bytes:
    """Bytes of a MediaConvert output object ("s3://bucket/key"); FileNotFoundError if absent."""
    global _reader
    from exports_app.transcode.mediaconvert import MediaConvertTranscoder

    with _lock:
        if _reader is None:
            _reader = MediaConvertTranscoder(get_settings().mediaconvert)
        reader = _reader
    return reader.open_output(uri)
