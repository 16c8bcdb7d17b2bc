"""The MediaConvert job the app builds, against the same HLS points as the local ladder and botocore's model: the
whole ladder's job, and each pass's job for a source made in two passes."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import botocore.session
import pytest
from botocore.validate import validate_parameters

from exports_app.domain import Pass
from exports_app.transcode.interlace import Interlace
from exports_app.transcode.ladder import SEGMENT_SECONDS, choose_renditions, master_order, pass_rungs, passes_for
from exports_app.transcode.mediaconvert.settings import ladder_settings
from exports_app.transcode.probe import VideoProbe

ROLE = "arn:aws:iam::123456789012:role/MediaConvert"
# The probes of the conformance suite's sources (tests/hls/sources.py), at their real-world sizes.
PROBES = {
    "webm_vp9_opus": VideoProbe(7.0, 1920, 1080, True, "vp9", "matroska", Fraction(30)),
    "portrait_phone": VideoProbe(3.0, 1080, 1920, True, "h264", "mov", Fraction(30), rotation=90),
    "hdr_hlg_10bit": VideoProbe(3.0, 3840, 2160, True, "hevc", "mov", Fraction(30000, 1001), hdr="hlg"),
    "hdr_pq": VideoProbe(3.0, 1920, 1080, True, "hevc", "mov", Fraction(24), hdr="pq"),
    "vfr_screen": VideoProbe(3.0, 2560, 1440, False, "h264", "mov", Fraction(36)),
    "p50_mono_44k": VideoProbe(2.0, 1920, 1080, True, "h264", "mov", Fraction(50), audio_channels=1),
    "anamorphic_pal": VideoProbe(3.0, 1024, 576, True, "h264", "mov", Fraction(25)),
    "no_audio": VideoProbe(2.0, 320, 240, False, "h264", "mov", Fraction(25)),
    "one_second": VideoProbe(1.0, 640, 360, True, "h264", "mov", Fraction(30)),
    "qcif_tiny": VideoProbe(2.0, 192, 144, False, "h264", "mov", Fraction(25)),
    # Interlaced: the probe's rate is the field rate (29.97i → 59.94p, 25i → 50p).
    "i1080_tff_mp3": VideoProbe(
        2.0, 1920, 1080, True, "h264", "mov", Fraction(60000, 1001), interlace=Interlace("tff", True, True)
    ),
    "i576_pal_bff": VideoProbe(
        3.0, 1024, 576, True, "h264", "matroska", Fraction(50), interlace=Interlace("bff", True, True)
    ),
    # A stream that declares no field order, which idet found interlaced: its frames may say progressive.
    "i480_found_by_idet": VideoProbe(
        2.0, 640, 480, False, "mpeg4", "mov", Fraction(60000, 1001), interlace=Interlace("bff", False, True)
    ),
}


# Every source's job as one pass, and each pass's job of the sources made in two (those above 540p).
CASES = [
    pytest.param(name, which, id=f"{name}-{which.value}")
    for name, probe in PROBES.items()
    for which in dict.fromkeys((Pass.FULL, *passes_for(probe.width, probe.height)))
]


def settings_for(name: str, which: Pass = Pass.FULL) -> dict[str, Any]:
    return ladder_settings("s3://in/exports/1/source.mp4", "s3://out/hls/1/1/master", PROBES[name], which)


def outputs(settings: dict[str, Any]) -> list[dict[str, Any]]:
    return list(settings["OutputGroups"][0]["Outputs"])


def h264(output: dict[str, Any]) -> dict[str, Any]:
    return dict(output["VideoDescription"]["CodecSettings"]["H264Settings"])


@pytest.mark.parametrize(("name", "which"), CASES)
def test_settings_validate_against_botocores_model(name: str, which: Pass) -> None:
    model = botocore.session.get_session().get_service_model("mediaconvert")
    shape = model.operation_model("CreateJob").input_shape
    validate_parameters({"Role": ROLE, "Settings": settings_for(name, which)}, shape)  # raises ParamValidationError


@pytest.mark.parametrize(("name", "which"), CASES)
def test_the_ladder_matches_the_local_one(name: str, which: Pass) -> None:
    probe = PROBES[name]
    rungs = [rung for _, rung in pass_rungs(choose_renditions(probe.width, probe.height), which)]
    expected = [rungs[i] for i in master_order(rungs)]
    found = outputs(settings_for(name, which))
    sizes = [(o["VideoDescription"]["Width"], o["VideoDescription"]["Height"]) for o in found]
    assert sizes == [(r.width, r.height) for r in expected]
    assert [o["NameModifier"] for o in found] == [f"_{r.name}" for r in expected]  # named as in the whole ladder
    assert [h264(o)["MaxBitrate"] for o in found] == [r.video_kbps * 1000 for r in expected]
    assert [h264(o)["CodecProfile"] for o in found] == ["HIGH" if min(s) >= 720 else "MAIN" for s in sizes]
    if which is not Pass.HD:  # the job that makes the production ready: two variants at least, one for cellular
        assert len(found) >= 2 and min(h264(o)["MaxBitrate"] for o in found) <= 200_000
    assert abs(h264(found[0])["MaxBitrate"] - 2_000_000) == min(abs(h264(o)["MaxBitrate"] - 2_000_000) for o in found)
    for output in found:
        video = h264(output)
        assert (video["ParControl"], video["ParNumerator"], video["ParDenominator"]) == ("SPECIFIED", 1, 1)
        assert Fraction(video["FramerateNumerator"], video["FramerateDenominator"]) == probe.frame_rate
        assert video["FramerateControl"] == "SPECIFIED"
        # Closed 2 s GOPs, no extra IDRs at scene cuts: segments of 6 s start on an IDR in every variant.
        assert (video["GopSize"], video["GopSizeUnits"], video["GopClosedCadence"]) == (2.0, "SECONDS", 1)
        assert video["SceneChangeDetect"] == "DISABLED" and SEGMENT_SECONDS % video["GopSize"] == 0
        assert output["OutputSettings"]["HlsSettings"]["IFrameOnlyManifest"] == "INCLUDE"


@pytest.mark.parametrize(("name", "which"), CASES)
def test_rotation_colour_and_audio(name: str, which: Pass) -> None:
    probe = PROBES[name]
    settings = settings_for(name, which)
    assert settings["Inputs"][0]["VideoSelector"]["Rotate"] == "AUTO"  # MediaConvert's default ignores the flag
    assert settings["OutputGroups"][0]["OutputGroupSettings"]["HlsGroupSettings"]["SegmentLength"] == SEGMENT_SECONDS
    for output in outputs(settings):
        description = output["VideoDescription"]
        corrector = description["VideoPreprocessors"]["ColorCorrector"]
        assert corrector["ColorSpaceConversion"] == "FORCE_709" and description["ColorMetadata"] == "INSERT"
        assert ("HdrToSdrToneMapper" in corrector) == bool(probe.hdr)
        # Interlaced video is de-interlaced on every output, one frame per field at the probe's (doubled) rate.
        deinterlacer = description["VideoPreprocessors"].get("Deinterlacer")
        assert bool(deinterlacer) == bool(probe.interlace)
        if probe.interlace:
            control = "NORMAL" if probe.interlace.declared else "FORCE_ALL_FRAMES"
            assert deinterlacer == {"Mode": "DEINTERLACE", "Algorithm": "INTERPOLATE", "Control": control}
            video = h264(output)
            assert Fraction(video["FramerateNumerator"], video["FramerateDenominator"]) in (Fraction(60000, 1001), 50)
        audio = output.get("AudioDescriptions") or []
        assert bool(audio) == probe.has_audio
        for description in audio:
            aac = description["CodecSettings"]["AacSettings"]
            assert (aac["SampleRate"], aac["CodingMode"], aac["CodecProfile"]) == (48000, "CODING_MODE_2_0", "LC")
            assert ("RemixSettings" in description) == (probe.audio_channels == 1)


@pytest.mark.parametrize(
    "name", [name for name, probe in PROBES.items() if len(passes_for(probe.width, probe.height)) > 1]
)
def test_the_two_passes_share_the_ladder_out_between_them(name: str) -> None:
    """The fast pass's rungs up to 360p and the HD pass's above, neither twice: together the whole ladder."""
    whole = {o["NameModifier"] for o in outputs(settings_for(name))}
    fast, hd = ({o["NameModifier"] for o in outputs(settings_for(name, which))} for which in (Pass.FAST, Pass.HD))
    assert fast | hd == whole and not fast & hd
    assert all(
        min(o["VideoDescription"]["Width"], o["VideoDescription"]["Height"]) <= 360
        for o in outputs(settings_for(name, Pass.FAST))
    )
