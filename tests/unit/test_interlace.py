"""The probe tells interlaced video from progressive, and the local ladder de-interlaces it once, one frame per field.

The clips are real files made by the bundled ffmpeg: interlaced H.264 that declares its field order (MP4 and
Matroska), MPEG-4 Part 2 that declares none (so idet decides), and progressive video of both kinds.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from exports_app.transcode.hls_encode import build_ladder_command
from exports_app.transcode.interlace import Interlace
from exports_app.transcode.ladder import choose_renditions
from exports_app.transcode.probe import probe_video
from tests.support.clips import make_clip
from tests.support.media import interlaced_clip, run_ffmpeg

MPEG4 = ("-c:v", "mpeg4", "-q:v", "3")  # MPEG-4 Part 2 in MP4 declares no field order
SIZE = (320, 240)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("interlace")
    undeclared_progressive = work / "progressive-mpeg4.mp4"
    run_ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=1,gblur=sigma=1.5", *MPEG4,
        str(undeclared_progressive),
    )  # fmt: skip
    return {
        "tff_h264": interlaced_clip(work / "tff.mp4", size=SIZE, field_rate="60000/1001"),
        "bff_h264_mkv": interlaced_clip(work / "bff.mkv", size=SIZE, field_rate="50", order="bff"),
        "bff_mpeg4_undeclared": interlaced_clip(
            work / "woven.mp4", size=SIZE, field_rate="50", order="bff", codec=MPEG4
        ),
        "fields_past_the_cap": interlaced_clip(work / "100i.mp4", size=SIZE, field_rate="100"),
        "progressive_mpeg4_undeclared": undeclared_progressive,
        "progressive_h264": make_clip(work / "progressive.mp4", seconds=1.0, width=320, height=240),
    }


@pytest.mark.parametrize(
    ("name", "interlace", "rate"),
    [
        ("tff_h264", Interlace("tff", declared=True, per_field=True), Fraction(60000, 1001)),
        ("bff_h264_mkv", Interlace("bff", declared=True, per_field=True), Fraction(50)),
        ("bff_mpeg4_undeclared", Interlace("bff", declared=False, per_field=True), Fraction(50)),
        # 50 interlaced frames a second: one frame per field would be 100 fps, past the ladder's 60.
        ("fields_past_the_cap", Interlace("tff", declared=True, per_field=False), Fraction(50)),
        ("progressive_mpeg4_undeclared", None, Fraction(25)),
        ("progressive_h264", None, Fraction(25)),
    ],
)
def test_the_probe_finds_the_fields_and_the_output_rate(
    clips: dict[str, Path], name: str, interlace: Interlace | None, rate: Fraction
) -> None:
    probe = probe_video(clips[name])
    assert probe.interlace == interlace
    assert probe.frame_rate == rate


@pytest.mark.parametrize(
    ("name", "mode", "gop"), [("tff_h264", "send_field", "120"), ("fields_past_the_cap", "send_frame", "100")]
)
def test_the_ladder_deinterlaces_once_before_the_split(
    clips: dict[str, Path], tmp_path: Path, name: str, mode: str, gop: str
) -> None:
    probe = probe_video(clips[name])
    assert probe.interlace is not None
    cmd = build_ladder_command("ffmpeg", clips[name], tmp_path, choose_renditions(probe.width, probe.height), probe)
    graph = cmd[cmd.index("-filter_complex") + 1]
    parity = probe.interlace.field_order
    assert graph.startswith(f"[0:v]bwdif=mode={mode}:parity={parity}:deint=all,fps={probe.frame_rate},split=")
    assert graph.count("bwdif") == 1, "once, before the rungs are scaled"
    assert cmd[cmd.index("-g") + 1] == gop, "2 s GOPs of output frames"


def test_progressive_video_is_left_alone(clips: dict[str, Path], tmp_path: Path) -> None:
    probe = probe_video(clips["progressive_h264"])
    cmd = build_ladder_command("ffmpeg", clips["progressive_h264"], tmp_path, choose_renditions(320, 240), probe)
    assert "bwdif" not in cmd[cmd.index("-filter_complex") + 1] and cmd[cmd.index("-g") + 1] == "50"
