"""The media gate bounds the work a file can cause, from its headers, before anything is decoded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from exports_app.transcode.probe import NotAVideoError, probe_video
from tests.support.clips import make_clip
from tests.support.media_bombs import gap_bomb, make_bombs
from tests.support.paths import ROOT

# Probing must not decode the frame: a decoded 8192x4400 frame alone is 54 MB (yuv420p), plus the decoder's own.
PROBE_MEMORY_LIMIT = 32 * 1024 * 1024


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("bombs")
    return {**make_bombs(work), "small-gap": gap_bomb(work / "small-gap.mp4", 8)}  # a pause, not a bomb


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("wide", "the video is 16000x16; at most 8192 pixels a side"),
        ("pixels", "the video is 8192x4400; at most 8192 pixels a side and 8K (8192x4320) in all"),
        ("gap", "the video's 10000 s hold too few frames"),
        ("long-gap", "the video is longer than 4 hours"),
    ],
)
def test_bombs_are_refused_with_one_line(bombs: dict[str, Path], name: str, says: str) -> None:
    with pytest.raises(NotAVideoError) as refused:
        probe_video(bombs[name])
    assert str(refused.value).startswith(says) and "\n" not in str(refused.value)


def test_a_short_pause_is_not_a_bomb(bombs: dict[str, Path]) -> None:
    probe = probe_video(bombs["small-gap"])
    assert probe.duration_seconds == pytest.approx(8.0, abs=0.1)
    # Encoded at its average rate: 51 frames in 8 s are 6 fps, not 25 fps of copies.
    assert probe.frame_rate == 6


def test_the_duration_cap_is_a_setting(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mp4", seconds=2.0, width=160, height=120, audio=False)
    assert probe_video(clip, max_duration_seconds=3.0).duration_seconds == pytest.approx(2.0)
    with pytest.raises(NotAVideoError, match="longer than"):
        probe_video(clip, max_duration_seconds=1.0)


def test_probing_a_pixel_bomb_decodes_nothing(bombs: dict[str, Path]) -> None:
    """Peak memory of a fresh process that probes the 8192x4400 file, over what it held before the probe."""
    script = (
        "import json, resource, sys\n"
        "from pathlib import Path\n"
        "from exports_app.transcode.probe import NotAVideoError, probe_video\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n    probe_video(Path(sys.argv[1]))\nexcept NotAVideoError as exc:\n    said = str(exc)\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(json.dumps({'grew': (after - before) * 1024, 'said': said}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(bombs["pixels"])],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    measured = json.loads(done.stdout)
    assert measured["said"].startswith("the video is 8192x4400")
    assert measured["grew"] < PROBE_MEMORY_LIMIT, f"probing grew the process by {measured['grew'] / 2**20:.0f} MB"
