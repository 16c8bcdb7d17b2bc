"""Crafted media that would make the server do unbounded work, made small with the bundled ffmpeg.

A pixel bomb is a tiny file whose frames are huge (decoding one allocates the frame); a gap bomb holds a few
frames with the last one stamped hours later (a constant-rate encode fills the gap with copies).
"""

from __future__ import annotations

from pathlib import Path

from tests.support.media import X264, run_ffmpeg


def pixel_bomb(path: Path, width: int, height: int) -> Path:
    """One flat frame of width x height in H.264/MP4: a few kB on disk, width*height*1.5 bytes once decoded."""
    run_ffmpeg(
        "-f",
        "lavfi",
        "-i",
        f"color=c=gray:size={width}x{height}:rate=1:duration=1",
        "-frames:v",
        "1",
        *X264,
        str(path),
    )
    return path


def gap_bomb(path: Path, gap_seconds: float, frames: int = 51) -> Path:
    """`frames` frames at 25 fps, the last stamped gap_seconds later (as in the report: 51 frames, 20,000 s)."""
    last = frames - 1
    run_ffmpeg(
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size=160x120:rate=25:duration={frames / 25}",
        "-vf",
        f"setpts='if(eq(N\\,{last})\\,{gap_seconds}/TB\\,PTS)'",
        "-fps_mode",
        "passthrough",
        *X264,
        str(path),
    )
    return path


def make_bombs(work: Path) -> dict[str, Path]:
    """The report's attacks, by name: a 16000-wide frame, an over-8K frame, gaps of 10,000 s and 20,000 s."""
    return {
        "wide": pixel_bomb(work / "wide.mp4", 16000, 16),
        "pixels": pixel_bomb(work / "pixels.mp4", 8192, 4400),
        "gap": gap_bomb(work / "gap.mp4", 10_000),
        "long-gap": gap_bomb(work / "long-gap.mp4", 20_000),
    }
