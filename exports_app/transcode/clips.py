"""Generated test-pattern clips (H.264/AAC mp4) for the demo seed, tests and benchmarks."""

from __future__ import annotations

import subprocess
from pathlib import Path

from exports_app.transcode.ffmpeg import ffmpeg_exe


def make_clip(
    path: Path,
    seconds: float = 2.0,
    width: int = 320,
    height: int = 240,
    *,
    audio: bool = True,
    fps: int = 25,
    preset: str = "ultrafast",
) -> Path:
    """Write a test-pattern video (with a sine tone when audio) to path and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        ffmpeg_exe(),
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size={width}x{height}:rate={fps}:duration={seconds}",
    ]
    if audio:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    cmd += ["-c:v", "libx264", "-preset", preset, "-pix_fmt", "yuv420p"]
    cmd += ["-c:a", "aac", "-b:a", "96k", "-shortest"] if audio else ["-an"]
    cmd += ["-movflags", "+faststart", str(path)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    return path
