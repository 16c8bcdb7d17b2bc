"""The one gate media passes: a content-sniffed container allowlist, then a PyAV probe of the first video frame.

Only MP4/MOV/M4V (ISO base media) and Matroska/WebM are accepted, decided by the file's first bytes, never
by its name. The probe opens the file with that one demuxer and the `file` protocol only, so a playlist,
a concat list or a reference inside a movie can never make it (or ffmpeg, given the same `input_args`)
open another file or a URL.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import av

from exports_app.text import one_line

# ISO base media boxes a real MP4/MOV may start with (QuickTime files often begin with wide/free/mdat).
_ISO_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot"}
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
# The demuxer options that keep ffmpeg to this one file: no other protocols, no external data references.
DEMUXER_OPTIONS = {"protocol_whitelist": "file", "enable_drefs": "0"}
SUPPORTED = "only MP4, MOV, M4V, MKV and WebM videos are accepted"


class NotAVideoError(Exception):
    """The file is not a video we accept; the message is one short human line without paths."""


@dataclass(frozen=True)
class VideoProbe:
    duration_seconds: float | None
    width: int
    height: int
    has_audio: bool
    video_codec: str
    container: str  # the ffmpeg demuxer: "mov" or "matroska"

    @property
    def extension(self) -> str:
        """The extension of the stored file's server-chosen name."""
        return ".mp4" if self.container == "mov" else ".mkv"


def sniff_container(path: Path) -> str:
    """The demuxer for path's content ("mov" or "matroska"); NotAVideoError for anything else."""
    try:
        with path.open("rb") as handle:
            head = handle.read(12)
    except OSError as exc:
        raise NotAVideoError("the file cannot be read") from exc
    if not head:
        raise NotAVideoError("the file is empty")
    if head.startswith(_EBML_MAGIC):
        return "matroska"
    if len(head) >= 8 and head[4:8] in _ISO_BOXES and (int.from_bytes(head[:4], "big") in (0, 1)
                                                        or int.from_bytes(head[:4], "big") >= 8):
        return "mov"
    raise NotAVideoError(SUPPORTED)


def input_args(path: Path, container: str) -> list[str]:
    """ffmpeg's input arguments for a probed file: its one demuxer, the file protocol only, no references."""
    options = [arg for key, value in DEMUXER_OPTIONS.items() for arg in (f"-{key}", value)]
    return [*options, "-f", container, "-i", f"file:{path}"]


@contextmanager
def open_video(path: Path) -> Iterator[tuple[str, av.container.InputContainer]]:
    """(demuxer, container) of path opened through the gate: its sniffed demuxer only, no protocol but file.

    Every reader of stored media (the probe, the poster frame) opens it here. PyAV's errors become
    NotAVideoError with one short line.
    """
    container_name = sniff_container(path)
    try:
        with av.open(str(path), format=container_name, options=dict(DEMUXER_OPTIONS)) as container:
            yield container_name, container
    except NotAVideoError:
        raise
    except (av.error.FFmpegError, StopIteration, OSError, ValueError) as exc:
        message = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise NotAVideoError(one_line(message) or "the file could not be read") from exc


def probe_video(path: Path) -> VideoProbe:
    """Sniff the container, open path with that demuxer only and decode its first video frame."""
    with open_video(path) as (container_name, container):
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
        return VideoProbe(duration, frame.width, frame.height, has_audio, video.codec_context.name,
                          container_name)
