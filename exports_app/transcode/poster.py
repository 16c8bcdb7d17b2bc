"""Poster frames: one JPEG still of a video, taken about 10 % in, read through the media gate with PyAV."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av

from exports_app.transcode.probe import NotAVideoError, open_video

POSTER_AT = 0.10  # of the duration: past a fade-in or a black first frame, still early in the video
POSTER_WIDTH = 640  # wide enough for the preview player's poster; rows show it smaller
POSTER_CONTENT_TYPE = "image/jpeg"
POSTER_EXTENSION = ".jpg"
_MAX_FRAMES = 500  # decoded after the seek at most, so a file with sparse keyframes cannot take long


def poster_jpeg(path: Path, *, width: int = POSTER_WIDTH) -> bytes:
    """The JPEG bytes of the frame about POSTER_AT into path (the first frame when the duration is unknown).

    NotAVideoError when no frame can be decoded; never upscales.
    """
    with open_video(path) as (_, container):
        video = next((s for s in container.streams.video), None)
        if video is None:
            raise NotAVideoError("the file has no video stream")
        target = float(container.duration) / av.time_base * POSTER_AT if container.duration else 0.0
        if target > 0 and video.time_base:
            container.seek(int(target / video.time_base), stream=video, backward=True)
        chosen = None
        for count, frame in enumerate(container.decode(video)):
            chosen = frame
            if frame.time is None or frame.time >= target or count >= _MAX_FRAMES:
                break
        if chosen is None:
            raise NotAVideoError("no video frame could be decoded")
        return _encode(chosen, width)


def _encode(frame: av.VideoFrame, width: int) -> bytes:
    out_width = min(width, frame.width) // 2 * 2 or 2
    out_height = max(2, round(frame.height * out_width / frame.width / 2) * 2)
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height, encoder.pix_fmt = out_width, out_height, "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    still = frame.reformat(width=out_width, height=out_height, format="yuvj420p")
    return b"".join(bytes(packet) for packet in [*encoder.encode(still), *encoder.encode(None)])
