"""The local ladder's master and I-frame playlists, written from the variants ffmpeg made as measured on disk.

ffmpeg's own master lacks FRAME-RATE, VIDEO-RANGE and I-frame playlists and lists the variants in encode
order; only its CODECS (read from the encoded streams) are kept. BANDWIDTH is the peak segment bit rate and
AVERAGE-BANDWIDTH the whole variant's, measured from the files as RFC 8216 defines them. I-frame playlists
point into the MPEG-TS segments with byte ranges: one entry per keyframe (every 2 s), each from the
keyframe's first TS packet to the next video frame's, behind an EXT-X-MAP of the segment's PAT/PMT.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import av
import m3u8

from exports_app.transcode.ladder import Rung, master_order

IFRAME_PLAYLIST = "iframes.m3u8"
VIDEO_RANGE = "SDR"  # HDR sources are tone-mapped, so every variant is SDR


@dataclass(frozen=True)
class IFrame:
    segment: str
    offset: int
    length: int
    start: float  # seconds on the stream's clock


@dataclass(frozen=True)
class MeasuredVariant:
    """One variant as written: its rung, playlist, measured bit rates, CODECS and keyframes."""

    index: int  # its place in the whole ladder: its folder is v<index>
    rung: Rung
    bandwidth: int
    average_bandwidth: int
    codecs: str
    iframes: tuple[IFrame, ...]
    end: float  # the stream clock at the end of the last segment

    @property
    def uri(self) -> str:
        return f"v{self.index}/index.m3u8"

    @property
    def video_codec(self) -> str:
        return next((c for c in self.codecs.split(",") if c.startswith("avc1")), self.codecs)


def _ffmpeg_codecs(out_dir: Path) -> dict[str, str]:
    """CODECS per variant URI from the master ffmpeg wrote (it reads profile and level off the streams)."""
    master = m3u8.load(str(out_dir / "master.m3u8"))
    return {p.uri: p.stream_info.codecs or "" for p in master.playlists}


def _keyframes(segment: Path, name: str) -> tuple[list[IFrame], int]:
    """The keyframes of one TS segment as byte ranges, and the size of the tables before the first packet."""
    with av.open(str(segment), format="mpegts") as container:
        positions = [
            (p.pos, p.is_keyframe, float(p.pts * p.time_base) if p.pts is not None and p.time_base else 0.0)
            for p in container.demux(video=0)
            if p.pos is not None and p.pos >= 0 and p.size
        ]
    size = segment.stat().st_size
    found = []
    for i, (pos, key, start) in enumerate(positions):
        if key:
            end = positions[i + 1][0] if i + 1 < len(positions) else size
            found.append(IFrame(name, pos, end - pos, start))
    return found, (positions[0][0] if positions else 0)


def measure_variant(out_dir: Path, index: int, rung: Rung, codecs: str) -> MeasuredVariant:
    playlist = m3u8.load(str(out_dir / f"v{index}" / "index.m3u8"))
    peak, bits, seconds = 0.0, 0, 0.0
    iframes: list[IFrame] = []
    start = None
    for segment in playlist.segments:
        path = out_dir / f"v{index}" / segment.uri
        segment_bits = path.stat().st_size * 8
        duration = float(segment.duration or 0.0)
        bits, seconds = bits + segment_bits, seconds + duration
        if duration > 0:
            peak = max(peak, segment_bits / duration)
        found, _ = _keyframes(path, segment.uri)
        if start is None and found:
            start = found[0].start
        iframes += found
    average = bits / seconds if seconds else 0.0
    return MeasuredVariant(
        index, rung, math.ceil(peak), math.ceil(average), codecs, tuple(iframes), (start or 0.0) + seconds
    )


def _iframe_playlist(variant: MeasuredVariant, map_length: int) -> tuple[str, int]:
    """The I-frame playlist's text and its peak bit rate."""
    frames = variant.iframes
    durations = [(frames[i + 1].start if i + 1 < len(frames) else variant.end) - f.start for i, f in enumerate(frames)]
    target = max(1, math.ceil(max(durations, default=1.0)))
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:5",
        f"#EXT-X-TARGETDURATION:{target}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        "#EXT-X-I-FRAMES-ONLY",
    ]
    if frames and map_length:
        lines.append(f'#EXT-X-MAP:URI="{frames[0].segment}",BYTERANGE="{map_length}@0"')
    peak = 0.0
    for frame, duration in zip(frames, durations, strict=True):
        lines += [f"#EXTINF:{duration:.6f},", f"#EXT-X-BYTERANGE:{frame.length}@{frame.offset}", frame.segment]
        if duration > 0:
            peak = max(peak, frame.length * 8 / duration)
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n", math.ceil(peak)


def write_playlists(
    out_dir: Path, rungs: list[tuple[int, Rung]], frame_rate: str, master_name: str = "master.m3u8"
) -> list[MeasuredVariant]:
    """Measure the variants in out_dir (each rung with its place in the ladder: its folder v<index>), write each
    one's I-frame playlist, and replace ffmpeg's master (master_name: where the master is written)."""
    codecs = _ffmpeg_codecs(out_dir)
    variants = [measure_variant(out_dir, i, rung, codecs.get(f"v{i}/index.m3u8", "")) for i, rung in rungs]
    lines = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-INDEPENDENT-SEGMENTS"]
    iframe_lines = []
    for variant in (variants[i] for i in master_order([rung for _, rung in rungs])):
        rung = variant.rung
        resolution = f"{rung.width}x{rung.height}"
        lines += [
            f"#EXT-X-STREAM-INF:BANDWIDTH={variant.bandwidth},AVERAGE-BANDWIDTH={variant.average_bandwidth},"
            f'CODECS="{variant.codecs}",RESOLUTION={resolution},FRAME-RATE={frame_rate},'
            f"VIDEO-RANGE={VIDEO_RANGE}",
            variant.uri,
        ]
        first_segment = out_dir / f"v{variant.index}" / (variant.iframes[0].segment if variant.iframes else "")
        map_length = _keyframes(first_segment, "")[1] if variant.iframes else 0
        text, peak = _iframe_playlist(variant, map_length)
        (out_dir / f"v{variant.index}" / IFRAME_PLAYLIST).write_text(text)
        iframe_lines.append(
            f'#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH={peak},CODECS="{variant.video_codec}",'
            f"RESOLUTION={resolution},VIDEO-RANGE={VIDEO_RANGE},"
            f'URI="v{variant.index}/{IFRAME_PLAYLIST}"'
        )
    (out_dir / master_name).write_text("\n".join([*lines, *iframe_lines]) + "\n")
    return variants
