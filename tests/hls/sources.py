"""The kinds of files members bring, made small with the bundled ffmpeg (lavfi): each a few seconds, a few pixels.

Each source says what its output must keep: the display size a player shows (after the sample aspect
ratio and the rotation), whether it has audio, and the frame rate the ladder must come out at (an interlaced
source's field rate: Apple's authoring spec makes 30i 60p). And the passes its production is made in: one, or
(above 540p) the fast pass alone, as a member gets it at Ready, or both, their masters merged as the app merges them.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from exports_app.domain import Pass
from tests.support.media import X264, interlaced_clip, run_ffmpeg


@dataclass(frozen=True)
class Source:
    name: str
    file: str
    display: tuple[int, int]  # width x height as shown
    audio: bool
    frame_rate: Fraction  # what FRAME-RATE must say
    hdr: bool = False
    field_order: str | None = None  # "tff" | "bff" for an interlaced source
    passes: tuple[Pass, ...] = (Pass.FULL,)


def _pattern(size: str, rate: int | str, seconds: float) -> list[str]:
    return ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}"]


def _tone(seconds: float, rate: int = 48000, layout: str = "stereo") -> list[str]:
    tone = f"sine=frequency=440:sample_rate={rate}:duration={seconds},aformat=channel_layouts={layout}"
    return ["-f", "lavfi", "-i", tone]


AAC = ["-c:a", "aac", "-b:a", "96k"]

SOURCES = (
    Source("webm_vp9_opus", "screen.webm", (640, 360), True, Fraction(30)),
    Source("mkv_vp8_opus", "browser.mkv", (640, 360), True, Fraction(25)),
    Source("portrait_phone", "phone.mp4", (360, 640), True, Fraction(30)),
    Source("hdr_hlg_10bit", "iphone.mov", (640, 360), True, Fraction(30), hdr=True),
    Source("vfr_screen", "vfr.mp4", (640, 360), False, Fraction(36)),
    Source("p50_mono_44k", "p50.mp4", (1280, 720), True, Fraction(50)),
    Source("anamorphic_pal", "pal.mp4", (1024, 576), True, Fraction(25)),
    Source("no_audio", "silent.mp4", (320, 240), False, Fraction(25)),
    Source("one_second", "short.mp4", (640, 360), True, Fraction(30)),
    Source("qcif_tiny", "qcif.mp4", (192, 144), False, Fraction(25)),
    # Broadcast and camera material: 1080i29.97 top field first with MP3 audio, PAL 576i25 (16:9) bottom first.
    Source("i1080_tff_mp3", "i1080.mp4", (1920, 1080), True, Fraction(60000, 1001), field_order="tff"),
    Source("i576_pal_bff", "i576.mkv", (1024, 576), True, Fraction(50), field_order="bff"),
    # A 1080p export made in two passes: its fast pass's production on its own (ready, HD to come), and a production
    # of both passes (the ladder a one-pass production of 1080p has).
    Source("fast_pass_1080p", "hd.mp4", (1920, 1080), True, Fraction(25), passes=(Pass.FAST,)),
    Source("two_pass_1080p", "hd.mp4", (1920, 1080), True, Fraction(25), passes=(Pass.FAST, Pass.HD)),
)


def make_sources(work: Path) -> dict[str, Path]:
    """Write every source into work; returns name → path."""
    out = {s.name: work / s.file for s in SOURCES}
    # 7 s, so the variants hold two segments (one 6 s) and the 2 s GOPs show.
    run_ffmpeg(
        *_pattern("640x360", 30, 7),
        *_tone(7),
        "-c:v",
        "libvpx-vp9",
        "-deadline",
        "realtime",
        "-cpu-used",
        "8",
        "-b:v",
        "300k",
        "-c:a",
        "libopus",
        "-b:a",
        "64k",
        "-shortest",
        str(out["webm_vp9_opus"]),
    )
    run_ffmpeg(
        *_pattern("640x360", 25, 3),
        *_tone(3),
        "-c:v",
        "libvpx",
        "-deadline",
        "realtime",
        "-cpu-used",
        "8",
        "-b:v",
        "300k",
        "-c:a",
        "libopus",
        "-b:a",
        "64k",
        "-shortest",
        "-f",
        "matroska",
        str(out["mkv_vp8_opus"]),
    )
    landscape = work / "phone-landscape.mp4"
    run_ffmpeg(*_pattern("640x360", 30, 3), *_tone(3), *X264, *AAC, "-shortest", str(landscape))
    # The camera's landscape frames plus a display matrix, as phones write portrait video.
    run_ffmpeg("-display_rotation:v:0", "90", "-i", str(landscape), "-c", "copy", str(out["portrait_phone"]))
    run_ffmpeg(
        *_pattern("640x360", 30, 3),
        *_tone(3),
        "-vf",
        "format=yuv420p10le",
        "-c:v",
        "libx265",
        "-preset",
        "ultrafast",
        "-x265-params",
        "log-level=error:colorprim=bt2020:transfer=arib-std-b67:colormatrix=bt2020nc",
        "-color_primaries",
        "bt2020",
        "-color_trc",
        "arib-std-b67",
        "-colorspace",
        "bt2020nc",
        "-tag:v",
        "hvc1",
        *AAC,
        "-shortest",
        str(out["hdr_hlg_10bit"]),
    )
    # 60 fps timestamps with two frames of every five missing: about 36 fps on average, as screen recorders write.
    run_ffmpeg(
        *_pattern("640x360", 60, 3),
        "-vf",
        "select='lt(mod(n\\,5)\\,3)'",
        "-fps_mode",
        "vfr",
        *X264,
        str(out["vfr_screen"]),
    )
    run_ffmpeg(
        *_pattern("1280x720", 50, 2),
        *_tone(2, 44100, "mono"),
        *X264,
        *AAC,
        "-ac",
        "1",
        "-ar",
        "44100",
        "-shortest",
        str(out["p50_mono_44k"]),
    )
    # 5 s: one segment holding three GOPs.
    run_ffmpeg(
        *_pattern("720x576", 25, 5),
        *_tone(5),
        "-vf",
        "setsar=64/45",
        *X264,
        *AAC,
        "-shortest",
        str(out["anamorphic_pal"]),
    )
    run_ffmpeg(*_pattern("320x240", 25, 2), *X264, str(out["no_audio"]))
    run_ffmpeg(*_pattern("640x360", 30, 1), *_tone(1), *X264, *AAC, "-shortest", str(out["one_second"]))
    # QCIF with its 12:11 pixels (192x144 as shown): its ladder is its own size and half of it.
    run_ffmpeg(*_pattern("176x144", 25, 2), "-vf", "setsar=12/11", *X264, str(out["qcif_tiny"]))
    interlaced_clip(
        out["i1080_tff_mp3"], size=(1920, 1080), field_rate="60000/1001", seconds=2, audio_codec="libmp3lame"
    )
    # 3 s: two GOPs and the start of a third.
    interlaced_clip(
        out["i576_pal_bff"], size=(720, 576), field_rate="50", order="bff", seconds=3, audio_codec="aac", sar="64/45"
    )
    run_ffmpeg(*_pattern("1920x1080", 25, 2), *_tone(2), *X264, *AAC, "-shortest", str(out["two_pass_1080p"]))
    return out
