"""CreateJob settings for MediaConvert: our H.264/AAC HLS ladder or a pass's part of it (or a template's groups
re-aimed), and a poster."""

from __future__ import annotations

import copy
import posixpath
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from exports_app.domain import Pass
from exports_app.transcode.interlace import Interlace
from exports_app.transcode.ladder import (
    AUDIO_SAMPLE_RATE,
    GOP_SECONDS,
    SEGMENT_SECONDS,
    Rung,
    choose_renditions,
    in_pass,
    master_order,
    pass_rungs,
)
from exports_app.transcode.probe import VideoProbe

AUDIO_SELECTOR = "Audio Selector 1"
MASTER_NAME = "master"  # each job's HLS destination's base name: its master is <job folder>/master.m3u8
# The UserMetadata key naming the pass a job encodes (Pass values); a job without it encodes the whole ladder. Its
# reports read it back (reports.py), from GetJob, ListJobs and events alike.
PASS_METADATA = "pass"


def job_destination(bucket: str, production_id: int, media_job_id: int) -> str:
    """A media job's HLS destination: a folder of its own in its production's, s3://<bucket>/hls/<p>/<job>/master."""
    return f"s3://{bucket}/hls/{production_id}/{media_job_id}/{MASTER_NAME}"


def production_master_uri(job_master_uri: str) -> str:
    """Where the master merging a production's passes is served from: in the folder above each job's own,
    s3://<bucket>/hls/<p>/master.m3u8. Never written to S3: the app keeps it in productions.master_playlist."""
    return f"{posixpath.dirname(posixpath.dirname(job_master_uri))}/{MASTER_NAME}.m3u8"


class PassWithoutOutputs(ValueError):
    """A pass that would encode none of the job's HLS outputs (its submit fails and says so)."""


def _preprocessing(hdr: bool, interlace: Interlace | None) -> dict[str, Any]:
    """Every output is progressive SDR BT.709: HDR (HLG, PQ) is tone-mapped, SDR converted and tagged, and
    interlaced video de-interlaced.

    MediaConvert's documented HDR-to-SDR path is the color corrector's color space conversion to Rec. 709
    (it applies PRESERVE_DETAILS to HLG regardless); ColorMetadata INSERT writes the tags into the stream.
    The deinterlacer (motion-adaptive interpolation) makes one frame per field where the output's rate is
    the field rate (the probe doubled it, as the local encoder does). Its NORMAL control spares frames tagged
    progressive, so a source only idet found interlaced has every frame converted.
    """
    corrector: dict[str, Any] = {"ColorSpaceConversion": "FORCE_709"}
    if hdr:
        corrector["HdrToSdrToneMapper"] = "PRESERVE_DETAILS"
    preprocessors: dict[str, Any] = {"ColorCorrector": corrector}
    if interlace is not None:
        preprocessors["Deinterlacer"] = {
            "Mode": "DEINTERLACE",
            "Algorithm": "INTERPOLATE",
            "Control": "NORMAL" if interlace.declared else "FORCE_ALL_FRAMES",
        }
    return {"ColorMetadata": "INSERT", "VideoPreprocessors": preprocessors}


def _video_output(rung: Rung, frame_rate: Fraction, hdr: bool, interlace: Interlace | None) -> dict[str, Any]:
    """One rung: its exact display size with square pixels, closed 2 s GOPs at a constant rate, no scene-cut IDRs."""
    return {
        "Width": rung.width,
        "Height": rung.height,
        "ScalingBehavior": "DEFAULT",
        **_preprocessing(hdr, interlace),
        "CodecSettings": {
            "Codec": "H_264",
            "H264Settings": {
                "RateControlMode": "QVBR",
                "MaxBitrate": rung.video_kbps * 1000,
                "QvbrSettings": {"QvbrQualityLevel": 7},
                "GopSize": float(GOP_SECONDS),
                "GopSizeUnits": "SECONDS",
                "GopClosedCadence": 1,
                "MinIInterval": 0,
                "SceneChangeDetect": "DISABLED",
                "CodecProfile": rung.profile.upper(),
                "CodecLevel": "AUTO",
                "FramerateControl": "SPECIFIED",
                "FramerateNumerator": frame_rate.numerator,
                "FramerateDenominator": frame_rate.denominator,
                "FramerateConversionAlgorithm": "DUPLICATE_DROP",
                "ParControl": "SPECIFIED",
                "ParNumerator": 1,
                "ParDenominator": 1,
            },
        },
    }


def _audio_output(rung: Rung, mono: bool) -> dict[str, Any]:
    """AAC-LC 48 kHz stereo; a mono source's one channel goes to both sides."""
    audio: dict[str, Any] = {
        "AudioSourceName": AUDIO_SELECTOR,
        "CodecSettings": {
            "Codec": "AAC",
            "AacSettings": {
                "Bitrate": rung.audio_kbps * 1000,
                "CodingMode": "CODING_MODE_2_0",
                "SampleRate": AUDIO_SAMPLE_RATE,
                "CodecProfile": "LC",
            },
        },
    }
    if mono:
        audio["RemixSettings"] = {
            "ChannelsIn": 1,
            "ChannelsOut": 2,
            "ChannelMapping": {"OutputChannels": [{"InputChannelsFineTune": [0.0]}, {"InputChannelsFineTune": [0.0]}]},
        }
    return audio


def ladder_settings(
    input_uri: str, destination: str, probe: VideoProbe | None, pass_name: Pass = Pass.FULL
) -> dict[str, Any]:
    """Job settings for the app's ladder (the local transcoder's too): H.264/AAC renditions in one HLS group.

    The rungs come from the probed display size, so the input is turned by its rotation metadata
    (Rotate AUTO: MediaConvert ignores it by default) before it is scaled to them; an interlaced input is
    de-interlaced at the probe's output rate (59.94p from 29.97i). A pass's job gets only its pass's rungs
    (ladder.pass_rungs), named as in the whole ladder. Outputs are listed in the master's order, the one
    nearest 2 Mbit/s first, each with its I-frame playlist.
    """
    whole = choose_renditions(probe.width, probe.height) if probe else choose_renditions(None, None)
    rungs = [rung for _, rung in pass_rungs(whole, pass_name)]
    if not rungs:
        raise PassWithoutOutputs(f"the {pass_name.value} pass has no rendition for this video")
    frame_rate = probe.frame_rate if probe else Fraction(30)
    hdr = bool(probe and probe.hdr)
    has_audio = bool(probe and probe.has_audio)
    outputs = []
    for rung in (rungs[i] for i in master_order(rungs)):
        output: dict[str, Any] = {
            "NameModifier": f"_{rung.name}",
            "ContainerSettings": {"Container": "M3U8", "M3u8Settings": {}},
            "VideoDescription": _video_output(rung, frame_rate, hdr, probe.interlace if probe else None),
            "OutputSettings": {"HlsSettings": {"IFrameOnlyManifest": "INCLUDE"}},
        }
        if has_audio:
            output["AudioDescriptions"] = [_audio_output(rung, bool(probe and probe.audio_channels == 1))]
        outputs.append(output)
    job_input: dict[str, Any] = {
        "FileInput": input_uri,
        "TimecodeSource": "ZEROBASED",
        "VideoSelector": {"Rotate": "AUTO", "ColorSpace": "FOLLOW"},
    }
    if has_audio:
        job_input["AudioSelectors"] = {AUDIO_SELECTOR: {"DefaultSelection": "DEFAULT"}}
    return {
        "TimecodeConfig": {"Source": "ZEROBASED"},
        "Inputs": [job_input],
        "OutputGroups": [
            {
                "Name": "HLS",
                "OutputGroupSettings": {
                    "Type": "HLS_GROUP_SETTINGS",
                    "HlsGroupSettings": {
                        "Destination": destination,
                        "SegmentLength": SEGMENT_SECONDS,
                        "MinSegmentLength": 0,
                        "SegmentControl": "SEGMENTED_FILES",
                        "ManifestDurationFormat": "FLOATING_POINT",
                        "CodecSpecification": "RFC_4281",
                        "DirectoryStructure": "SINGLE_DIRECTORY",
                        "OutputSelection": "MANIFESTS_AND_SEGMENTS",
                        "StreamInfResolution": "INCLUDE",
                    },
                },
                "Outputs": outputs,
            }
        ],
    }


POSTER_NAME = "poster"  # beside the master playlist: hls/<production>/<job>/poster.0000001.jpg
POSTER_QUALITY = 80


def frame_capture_group(destination: str, duration_seconds: float | None) -> dict[str, Any]:
    """A file group writing two JPEG frames: the first, and one 10 % into the video (the poster).

    Frame capture writes one frame per 1/rate seconds from the start, numbered from 0, so a rate of
    10/duration frames per second puts capture 1 at a tenth of the duration (at 1 s when it is unknown).
    """
    folder = destination.rsplit("/", 1)[0]
    tenths = max(1, round((duration_seconds or 10.0) * 10))  # 10 % of the duration, in tenths of a second
    return {
        "Name": "Poster",
        "OutputGroupSettings": {
            "Type": "FILE_GROUP_SETTINGS",
            "FileGroupSettings": {"Destination": f"{folder}/{POSTER_NAME}"},
        },
        "Outputs": [
            {
                "ContainerSettings": {"Container": "RAW"},
                "VideoDescription": {
                    "CodecSettings": {
                        "Codec": "FRAME_CAPTURE",
                        "FrameCaptureSettings": {
                            "FramerateNumerator": 100,
                            "FramerateDenominator": tenths,
                            "MaxCaptures": 2,
                            "Quality": POSTER_QUALITY,
                        },
                    }
                },
            }
        ],
    }


def poster_uri(master_uri: str) -> str:
    """Where frame_capture_group's poster lands for the job whose master playlist is master_uri."""
    return f"{posixpath.dirname(master_uri)}/{POSTER_NAME}.0000001.jpg"


def template_settings(
    template: Mapping[str, Any], input_uri: str, destination: str, pass_name: Pass = Pass.FULL
) -> dict[str, Any]:
    """A job template's settings with our input and our destinations.

    A job's OutputGroups replace its template's, so they are copied from the template and only their
    destinations change: the HLS group must land where the app serves it from, other groups beside it.
    A pass's job keeps the HLS outputs of its pass (by their short side, as ladder.pass_rungs splits the ladder;
    an output without a size follows the source, which is HD when there are two passes); the other groups go
    with the fast pass only, which makes the production ready.
    """
    settings = copy.deepcopy(dict(template.get("Settings") or {}))
    inputs = settings.get("Inputs") or [{}]
    settings["Inputs"] = [{**inputs[0], "FileInput": input_uri}]
    folder = destination.rsplit("/", 1)[0]
    for group in settings.get("OutputGroups") or []:
        for kind, group_settings in (group.get("OutputGroupSettings") or {}).items():
            if isinstance(group_settings, dict):
                other = f"{folder}/{kind.removesuffix('GroupSettings').lower()}/"
                group_settings["Destination"] = destination if kind == "HlsGroupSettings" else other
    if pass_name is not Pass.FULL:
        settings["OutputGroups"] = [_pass_group(g, pass_name) for g in settings.get("OutputGroups") or []]
        settings["OutputGroups"] = [g for g in settings["OutputGroups"] if g is not None]
        if not any(hls_group(g) for g in settings["OutputGroups"]):
            raise PassWithoutOutputs(f"the job template has no HLS output for the {pass_name.value} pass")
    return settings


def _pass_group(group: dict[str, Any], pass_name: Pass) -> dict[str, Any] | None:
    """A template's output group as a pass's job has it: an HLS group with the pass's outputs (None if no video is
    left), any other group in the fast pass only."""
    if not hls_group(group):
        return group if pass_name is Pass.FAST else None
    kept = [output for output in group.get("Outputs") or [] if _output_in_pass(output, pass_name)]
    return {**group, "Outputs": kept} if any(output.get("VideoDescription") for output in kept) else None


def _output_in_pass(output: Mapping[str, Any], pass_name: Pass) -> bool:
    video = output.get("VideoDescription")
    if not video:
        return True  # audio only (an audio rendition group): the variants of every pass play it
    sides = [side for side in (video.get("Width"), video.get("Height")) if side]
    # Without a size an output follows the source's, which is above 540p when a source has two passes.
    return in_pass(min(sides), pass_name) if sides else pass_name is Pass.HD


def hls_group(group: Mapping[str, Any]) -> dict[str, Any] | None:
    return (group.get("OutputGroupSettings") or {}).get("HlsGroupSettings")


def output_base(destination: str, input_uri: str | None) -> str:
    """Where MediaConvert writes: a destination ending in "/" borrows the input file's base name."""
    if not destination.endswith("/"):
        return destination
    stem = posixpath.splitext(posixpath.basename(input_uri or ""))[0] or "index"
    return destination + stem


def output_bandwidth(output: Mapping[str, Any]) -> int:
    """Peak bits per second from the output's settings (video max/avg bitrate + audio); 0 if unknown."""
    video = ((output.get("VideoDescription") or {}).get("CodecSettings") or {}).get("H264Settings") or {}
    audio = sum(
        ((a.get("CodecSettings") or {}).get("AacSettings") or {}).get("Bitrate", 0)
        for a in output.get("AudioDescriptions") or []
    )
    video_bps = video.get("MaxBitrate") or video.get("Bitrate") or 0
    return int(video_bps + audio) if video_bps else 0


def output_frame_rate(output: Mapping[str, Any]) -> float:
    """The frame rate an H.264 output's settings fix (FramerateControl SPECIFIED); 0.0 if they leave it open."""
    video = ((output.get("VideoDescription") or {}).get("CodecSettings") or {}).get("H264Settings") or {}
    numerator, denominator = video.get("FramerateNumerator"), video.get("FramerateDenominator")
    return round(numerator / denominator, 3) if numerator and denominator else 0.0
