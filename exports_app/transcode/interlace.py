"""Telling interlaced video from progressive: the field order a stream declares, else `idet` on a few frames.

Apple's HLS authoring spec wants interlaced sources de-interlaced (1.10), 30i made 60p (1.11), so the probe
says which field comes first and whether the stream itself said so. A stream that declares a field order, or
declares itself progressive, is taken at its word: nothing more is decoded. Only one that declares nothing
(MPEG-4 Part 2, some MOV and Matroska muxers) is shown to ffmpeg's `idet` filter, through PyAV on the
container the probe already holds open (its demuxer and pixel cap), for at most IDET_FRAMES frames.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice

import av
import av.filter
import av.video.frame
import av.video.stream


@dataclass(frozen=True)
class Interlace:
    """How an interlaced source is made progressive."""

    field_order: str  # "tff" | "bff": the field shown first
    declared: bool  # the stream says so; False when only idet found it (its frames may claim to be progressive)
    per_field: bool  # one output frame per field (29.97i → 59.94p) where the doubled rate fits the cap


# libavcodec's AVFieldOrder. Its header says the letters of TB and BT give the coded order, but ffmpeg's own
# encoders and muxers write TB for top-field-first frames and BT for bottom-field-first ones (a bottom-first
# H.264 in Matroska reads back as BT), so the first letter is taken as the field shown first.
PROGRESSIVE = 1
FIELD_ORDERS = {2: "tff", 3: "bff", 4: "tff", 5: "bff"}
IDET_FRAMES = 24  # decoded at most for a stream that declares nothing
# idet's multi-frame verdicts must name fields for at least half the frames, and twice as often as progressive:
# a still or a cut leaves frames undetermined. (idet can take razor-sharp synthetic pictures for combed ones;
# only streams that declare nothing are shown to it.)
IDET_MIN_FIELDS = IDET_FRAMES // 2


def field_order(
    video: av.video.stream.VideoStream, frames: Iterable[av.video.frame.VideoFrame]
) -> tuple[str, bool] | None:
    """(the field shown first, whether the stream declared it) for interlaced video; None for progressive."""
    declared = int(video.codec_context.field_order or 0)
    if declared in FIELD_ORDERS:
        return FIELD_ORDERS[declared], True
    if declared == PROGRESSIVE:
        return None
    tff, bff, progressive = idet_counts(video, frames)
    if tff + bff < IDET_MIN_FIELDS or tff + bff < 2 * progressive:
        return None
    return ("tff" if tff >= bff else "bff"), False


def idet_counts(
    video: av.video.stream.VideoStream, frames: Iterable[av.video.frame.VideoFrame], limit: int | None = IDET_FRAMES
) -> tuple[int, int, int]:
    """idet's multi-frame counts (TFF, BFF, progressive) over the first `limit` frames (None: all of them);
    zeros if it cannot run."""
    graph = av.filter.Graph()
    source = graph.add_buffer(template=video)
    detector = graph.add("idet")
    sink = graph.add("buffersink")
    source.link_to(detector)
    detector.link_to(sink)
    counts: dict[str, str] = {}
    try:
        graph.configure()
        for frame in islice(frames, limit):
            graph.push(frame)
            counts = _drain(graph) or counts
        graph.push(None)
        counts = _drain(graph) or counts
    except (av.error.FFmpegError, ValueError):
        # A stream whose frames change size or format mid-way: no verdict, so it is taken as progressive.
        return 0, 0, 0

    def count(name: str) -> int:
        return round(float(counts.get(f"lavfi.idet.multiple.{name}", "0")))

    return count("tff"), count("bff"), count("progressive")


def _drain(graph: av.filter.Graph) -> dict[str, str]:
    """The metadata of the last frame the graph has ready (idet's running totals); {} if none is."""
    latest: dict[str, str] = {}
    while True:
        try:
            frame = graph.pull()
        except (av.error.BlockingIOError, av.error.EOFError):
            return latest
        latest = dict(frame.metadata) if isinstance(frame, av.video.frame.VideoFrame) else latest
