"""The one gate media passes: a content-sniffed container allowlist, then a header probe that bounds the work.

Only MP4/MOV/M4V (ISO base media) and Matroska/WebM are accepted, decided by the file's first bytes, never
by its name. The probe opens the file with that one demuxer and the `file` protocol only, so a playlist,
a concat list or a reference inside a movie can never make it (or ffmpeg, given the same `input_args`)
open another file or a URL.

Before anything is decoded, the headers must promise bounded work: frame size (each side and the pixel
count), duration, and the frames a constant-rate output would have against the frames the file really
holds (a "gap bomb" of a few frames stamped hours apart would otherwise be filled with copies). The
decoder is told the same pixel cap, so the stream analysis PyAV runs on open cannot allocate a huge frame
either. Only then is one frame decoded: it proves the stream decodes and carries the rotation. A stream
that declares no field order has a few more decoded, for idet (transcode/interlace.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from itertools import chain
from pathlib import Path

import av
import av.container
import av.video.frame
import av.video.stream

from exports_app.text import one_line
from exports_app.transcode.interlace import Interlace, field_order

# ISO base media boxes a real MP4/MOV may start with (QuickTime files often begin with wide/free/mdat).
_ISO_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot"}
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
# The demuxer options that keep ffmpeg to this one file: no other protocols, no external data references.
# enable_drefs belongs to the MOV demuxer only: ffmpeg refuses it for Matroska ("Option not found").
PROTOCOL_OPTIONS = {"protocol_whitelist": "file"}
MOV_OPTIONS = {"enable_drefs": "0"}
SUPPORTED = "only MP4, MOV, M4V, MKV and WebM videos are accepted"

MAX_SIDE = 8192  # pixels, either side
MAX_PIXELS = 8192 * 4320  # 35.4 Mpx: 8K UHD
DEFAULT_MAX_DURATION_SECONDS = 4 * 3600.0
MAX_FRAME_RATE = Fraction(60)
# A constant-rate output may hold at most this many frames per frame the file really has.
MAX_FRAMES_PER_REAL_FRAME = 4
# ITU-T H.273 transfer characteristics of HDR video: 16 is SMPTE ST 2084 (PQ), 18 is ARIB STD-B67 (HLG).
HDR_TRANSFERS = {16: "pq", 18: "hlg"}
# H.273 matrix coefficients as ffmpeg's scale filter names them (in_color_matrix=).
SCALE_MATRICES = {1: "bt709", 4: "fcc", 5: "bt601", 6: "bt601", 7: "smpte240m", 9: "bt2020", 10: "bt2020"}


class NotAVideoError(Exception):
    """The file is not a video we accept; the message is one short human line without paths."""


@dataclass(frozen=True)
class VideoProbe:
    duration_seconds: float | None
    width: int  # as displayed: sample aspect ratio and rotation applied
    height: int
    has_audio: bool
    video_codec: str
    container: str  # the ffmpeg demuxer: "mov" or "matroska"
    frame_rate: Fraction = Fraction(25)  # the constant rate the output gets (nominal, ≤ 60; per field if interlaced)
    hdr: str | None = None  # "hlg" | "pq" for HDR sources, None for SDR
    rotation: int = 0  # degrees the player turns the coded frames (display matrix)
    color_matrix: str = "bt709"  # the source's YUV matrix (scale's in_color_matrix)
    audio_channels: int = 0
    interlace: Interlace | None = None  # None for progressive video

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
    if (
        len(head) >= 8
        and head[4:8] in _ISO_BOXES
        and (int.from_bytes(head[:4], "big") in (0, 1) or int.from_bytes(head[:4], "big") >= 8)
    ):
        return "mov"
    raise NotAVideoError(SUPPORTED)


def demuxer_options(container: str) -> dict[str, str]:
    """The options that keep the demuxer to this one file (drefs exist in MOV only)."""
    return {**PROTOCOL_OPTIONS, **(MOV_OPTIONS if container == "mov" else {})}


def input_args(path: Path, container: str) -> list[str]:
    """ffmpeg's input arguments for a probed file: its one demuxer, the file protocol only, no references."""
    options = [arg for key, value in demuxer_options(container).items() for arg in (f"-{key}", value)]
    return [*options, "-f", container, "-i", f"file:{path}"]


@contextmanager
def open_video(path: Path) -> Iterator[tuple[str, av.container.InputContainer]]:
    """(demuxer, container) of path opened through the gate: its sniffed demuxer only, no protocol but file.

    Every reader of stored media (the probe, the poster frame) opens it here. The decoders PyAV's stream
    analysis opens are capped at MAX_PIXELS, so no header can make it allocate a huge frame. PyAV's errors
    become NotAVideoError with one short line.
    """
    container_name = sniff_container(path)
    options = {**demuxer_options(container_name), "max_pixels": str(MAX_PIXELS)}
    try:
        with av.open(str(path), format=container_name, options=options) as container:
            yield container_name, container
    except NotAVideoError:
        raise
    except (av.error.FFmpegError, StopIteration, OSError, ValueError) as exc:
        message = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise NotAVideoError(one_line(message) or "the file could not be read") from exc


def output_frame_rate(video: av.video.stream.VideoStream) -> Fraction:
    """The constant rate to encode at: the nominal rate, or the average one when the source's rate varies.

    r_frame_rate (base_rate) is the smallest rate all timestamps fit; a variable-rate screen recording
    stamped in 1/60 s steps says 60 there while it averages 36. When the average is clearly below it, the
    average (rounded to whole frames) is the honest rate; copies would only inflate the output.
    """
    nominal = video.base_rate or video.guessed_rate
    average = video.average_rate
    rate = Fraction(nominal) if nominal else (Fraction(average) if average else Fraction(25))
    if average and rate and Fraction(average) < rate * Fraction(9, 10):
        rate = Fraction(max(1, round(average)))
    return min(rate, MAX_FRAME_RATE).limit_denominator(1001)


def _real_frames(container: av.container.InputContainer, video: av.video.stream.VideoStream, enough: int) -> int:
    """The frames the file really holds: the container's count (MP4's sample table), else its packets.

    Counting packets reads without decoding, and stops at `enough` (the count that settles the question).
    """
    if video.frames:
        return int(video.frames)
    count = 0
    for packet in container.demux(video):
        if packet.size:
            count += 1
            if count >= enough:
                break
    container.seek(0)
    return count


def _check_bounds(width: int, height: int, duration: float | None, max_duration: float) -> None:
    if width <= 0 or height <= 0:
        raise NotAVideoError("the video stream has no frame size")
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise NotAVideoError(
            f"the video is {width}x{height}; at most {MAX_SIDE} pixels a side and 8K (8192x4320) in all are accepted"
        )
    if duration is not None and duration > max_duration:
        raise NotAVideoError(f"the video is longer than {max_duration / 3600:g} hours")


def probe_video(path: Path, *, max_duration_seconds: float = DEFAULT_MAX_DURATION_SECONDS) -> VideoProbe:
    """Sniff the container, bound the work from its headers, then decode one video frame."""
    with open_video(path) as (container_name, container):
        video = next((s for s in container.streams.video), None)
        if video is None:
            raise NotAVideoError("the file has no video stream")
        audio = next((s for s in container.streams.audio), None)
        has_audio = audio is not None
        duration = float(container.duration) / av.time_base if container.duration else None
        if duration is None and video.duration and video.time_base:
            duration = float(video.duration * video.time_base)
        coded_width, coded_height = video.codec_context.width, video.codec_context.height
        _check_bounds(coded_width, coded_height, duration, max_duration_seconds)
        rate = output_frame_rate(video)
        if duration is not None:
            output_frames = int(duration * rate) + 1
            enough = output_frames // MAX_FRAMES_PER_REAL_FRAME + 1
            if _real_frames(container, video, enough) < enough:
                raise NotAVideoError(
                    f"the video's {duration:.0f} s hold too few frames (its timestamps "
                    f"have gaps that would be filled with copies)"
                )
        frame = next(container.decode(video=0), None)
        if frame is None:
            raise NotAVideoError("no video frame could be decoded")
        if duration is None and next(container.decode(video=0), None) is None:
            raise NotAVideoError("the file is a still image, not a video")
        interlace = _interlace(video, chain([frame], container.decode(video=0)), rate)
        if interlace is not None and interlace.per_field:
            rate *= 2
        rotation = int(frame.rotation) % 360
        width, height = display_size(frame.width, frame.height, video.sample_aspect_ratio, rotation)
        hdr = HDR_TRANSFERS.get(int(video.codec_context.color_trc or 0))
        # Untagged video is read as players read it: BT.601 below 720 lines, BT.709 from there up.
        matrix = SCALE_MATRICES.get(
            int(video.codec_context.colorspace or 0), "bt709" if coded_height >= 720 else "bt601"
        )
        return VideoProbe(
            duration,
            width,
            height,
            has_audio,
            video.codec_context.name,
            container_name,
            frame_rate=rate,
            hdr=hdr,
            rotation=rotation,
            color_matrix=matrix,
            audio_channels=audio.channels if audio is not None else 0,
            interlace=interlace,
        )


def _interlace(
    video: av.video.stream.VideoStream, frames: Iterator[av.video.frame.VideoFrame], rate: Fraction
) -> Interlace | None:
    """How an interlaced stream is made progressive: one frame per field when twice its rate is within the cap."""
    order = field_order(video, frames)
    if order is None:
        return None
    return Interlace(order[0], declared=order[1], per_field=rate * 2 <= MAX_FRAME_RATE)


def display_size(width: int, height: int, sample_aspect: Fraction | None, rotation: int) -> tuple[int, int]:
    """The frame as shown: stretched by its sample aspect ratio (anamorphic PAL 720x576 16:9 is 1024x576
    wide), then turned by its rotation."""
    if sample_aspect and sample_aspect > 0 and sample_aspect != 1:
        width = max(2, round(width * sample_aspect))
    return (height, width) if rotation % 180 == 90 else (width, height)
