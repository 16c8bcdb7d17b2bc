"""Reading HLS output back: IDRs and keyframes in MPEG-TS segments, I-frame byte ranges, fields, waiting for jobs."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import av
import m3u8

from exports_app.transcode.base import JobReport, PendingJob, Transcoder
from exports_app.transcode.interlace import idet_counts

IDR = 5  # H.264 NAL unit type of an IDR slice
SLICE = 1


def nal_types(data: bytes) -> list[int]:
    """The NAL unit types in an Annex B byte stream, in order."""
    types = []
    at = data.find(b"\x00\x00\x01")
    while at != -1 and at + 3 < len(data):
        types.append(data[at + 3] & 0x1F)
        at = data.find(b"\x00\x00\x01", at + 3)
    return types


def _is_idr(data: bytes) -> bool:
    slices = [t for t in nal_types(data) if t in (IDR, SLICE)]
    return bool(slices) and slices[0] == IDR


def starts_with_idr(segment: Path) -> bool:
    """The segment's first video access unit is an IDR picture."""
    with av.open(str(segment), format="mpegts") as container:
        first = next(p for p in container.demux(video=0) if p.size)
        return _is_idr(bytes(first))


def keyframe_times(segment: Path) -> list[float]:
    """Presentation times (s) of the segment's IDR pictures (read from the NAL units, not container flags)."""
    with av.open(str(segment), format="mpegts") as container:
        return [
            float(p.pts * p.time_base)
            for p in container.demux(video=0)
            if p.size and p.pts is not None and p.time_base is not None and _is_idr(bytes(p))
        ]


def assert_iframe_playlist_points_at_keyframes(path: Path) -> None:
    """Every entry's byte range, behind the EXT-X-MAP's tables, demuxes to an IDR picture."""
    playlist = m3u8.load(str(path))
    assert playlist.is_i_frames_only and playlist.is_endlist and playlist.segments
    init = playlist.segment_map[0]
    offset, length = _byterange(init.byterange)
    tables = (path.parent / init.uri).read_bytes()[offset : offset + length]
    for segment in playlist.segments:
        offset, length = _byterange(segment.byterange)
        data = (path.parent / segment.uri).read_bytes()[offset : offset + length]
        assert len(data) == length and length % 188 == 0, "whole TS packets"
        probe = path.parent / "iframe-probe.ts"
        probe.write_bytes(tables + data)
        try:
            assert starts_with_idr(probe), f"{segment.uri} @{offset} is an IDR"
        finally:
            probe.unlink()
        assert round(segment.duration) <= playlist.target_duration


def _byterange(text: str | None) -> tuple[int, int]:
    assert text, "a byte range"
    length, _, offset = text.partition("@")
    return int(offset or 0), int(length)


def wait_terminal(transcoder: Transcoder, jobs: Sequence[PendingJob], timeout: float = 600.0) -> dict[int, JobReport]:
    """media_job_id → final report, polling as the refresh tick does (the timeout only stops a hung test)."""
    deadline = time.monotonic() + timeout
    while True:
        reports = {r.media_job_id: r for r in transcoder.poll(jobs)}
        if all(r.status.terminal for r in reports.values()):
            return reports
        assert time.monotonic() < deadline, "transcodes did not finish"
        time.sleep(0.1)


def idet_totals(paths: Sequence[Path]) -> tuple[int, int, int]:
    """ffmpeg's idet over every frame of the files, each read on its own: (TFF, BFF, progressive) frames."""
    totals = [0, 0, 0]
    for path in paths:
        with av.open(str(path)) as container:
            video = container.streams.video[0]
            counts = idet_counts(video, container.decode(video), limit=None)
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
    return totals[0], totals[1], totals[2]
