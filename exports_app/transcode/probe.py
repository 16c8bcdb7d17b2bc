"""Probe a file with PyAV: duration, size and audio of a decodable video, or a one-line refusal."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av


class NotAVideoError(Exception):
    """The file is not a video we can decode; the message is one short human line."""


@dataclass(frozen=True)
class VideoProbe:
    duration_seconds: float | None
    width: int
    height: int
    has_audio: bool
    video_codec: str


def probe_video(path: Path) -> VideoProbe:
    """Open path and decode its first video frame; raises NotAVideoError for anything else."""
    if not path.is_file() or path.stat().st_size == 0:
        raise NotAVideoError("the file is empty")
    try:
        with av.open(str(path)) as container:
            video = next((s for s in container.streams.video), None)
            if video is None:
                raise NotAVideoError("the file has no video stream")
            has_audio = any(True for _ in container.streams.audio)
            frame = next(container.decode(video=0), None)
            if frame is None:
                raise NotAVideoError("no video frame could be decoded")
            duration = float(container.duration) / av.time_base if container.duration else None
            if duration is None and video.duration and video.time_base:
                duration = float(video.duration * video.time_base)
            if duration is None and next(container.decode(video=0), None) is None:
                raise NotAVideoError("the file is a still image, not a video")
            return VideoProbe(duration, frame.width, frame.height, has_audio, video.codec_context.name)
    except NotAVideoError:
        raise
    except (av.error.FFmpegError, StopIteration, OSError, ValueError) as exc:
        raise NotAVideoError(_short(exc)) from exc


def _short(exc: Exception) -> str:
    message = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return " ".join(str(message).split())[:200]
