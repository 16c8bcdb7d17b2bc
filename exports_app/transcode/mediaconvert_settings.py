"""CreateJob settings for MediaConvert: our H.264/AAC HLS ladder (or a template's groups re-aimed) and a poster."""

from __future__ import annotations

import copy
import posixpath
from typing import Any, Mapping

from exports_app.transcode.ladder import SEGMENT_SECONDS, choose_renditions

AUDIO_SELECTOR = "Audio Selector 1"
AUDIO_BITRATE = 128_000
GOP_SECONDS = 2.0  # divides the 6 s segment, so every segment starts on a keyframe


def _video_output(height: int, kbps: int) -> dict[str, Any]:
    return {
        "Height": height,  # width left out: MediaConvert scales evenly from the source's aspect ratio
        "ScalingBehavior": "DEFAULT",
        "CodecSettings": {"Codec": "H_264", "H264Settings": {
            "RateControlMode": "QVBR", "MaxBitrate": kbps * 1000, "QvbrSettings": {"QvbrQualityLevel": 7},
            "GopSize": GOP_SECONDS, "GopSizeUnits": "SECONDS", "SceneChangeDetect": "TRANSITION_DETECTION",
            "CodecProfile": "MAIN", "CodecLevel": "AUTO",
        }},
    }


def _audio_output() -> dict[str, Any]:
    return {"AudioSourceName": AUDIO_SELECTOR, "CodecSettings": {"Codec": "AAC", "AacSettings": {
        "Bitrate": AUDIO_BITRATE, "CodingMode": "CODING_MODE_2_0", "SampleRate": 48000}}}


def ladder_settings(input_uri: str, destination: str, source_height: int | None, has_audio: bool) -> dict[str, Any]:
    """Job settings for the app's ladder (the local transcoder's too): H.264/AAC renditions in one HLS group."""
    outputs = []
    for rung in choose_renditions(source_height):
        output: dict[str, Any] = {
            "NameModifier": f"_{rung.height}p",
            "ContainerSettings": {"Container": "M3U8", "M3u8Settings": {}},
            "VideoDescription": _video_output(rung.height, rung.video_kbps),
            "OutputSettings": {"HlsSettings": {}},
        }
        if has_audio:
            output["AudioDescriptions"] = [_audio_output()]
        outputs.append(output)
    job_input: dict[str, Any] = {"FileInput": input_uri, "TimecodeSource": "ZEROBASED", "VideoSelector": {}}
    if has_audio:
        job_input["AudioSelectors"] = {AUDIO_SELECTOR: {"DefaultSelection": "DEFAULT"}}
    return {
        "TimecodeConfig": {"Source": "ZEROBASED"},
        "Inputs": [job_input],
        "OutputGroups": [{
            "Name": "HLS",
            "OutputGroupSettings": {"Type": "HLS_GROUP_SETTINGS", "HlsGroupSettings": {
                "Destination": destination, "SegmentLength": SEGMENT_SECONDS, "MinSegmentLength": 0,
                "SegmentControl": "SEGMENTED_FILES", "ManifestDurationFormat": "FLOATING_POINT",
                "CodecSpecification": "RFC_4281", "DirectoryStructure": "SINGLE_DIRECTORY",
                "OutputSelection": "MANIFESTS_AND_SEGMENTS",
            }},
            "Outputs": outputs,
        }],
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
        "OutputGroupSettings": {"Type": "FILE_GROUP_SETTINGS",
                                "FileGroupSettings": {"Destination": f"{folder}/{POSTER_NAME}"}},
        "Outputs": [{
            "ContainerSettings": {"Container": "RAW"},
            "VideoDescription": {"CodecSettings": {"Codec": "FRAME_CAPTURE", "FrameCaptureSettings": {
                "FramerateNumerator": 100, "FramerateDenominator": tenths, "MaxCaptures": 2,
                "Quality": POSTER_QUALITY,
            }}},
        }],
    }


def poster_uri(master_uri: str) -> str:
    """Where frame_capture_group's poster lands for the job whose master playlist is master_uri."""
    return f"{posixpath.dirname(master_uri)}/{POSTER_NAME}.0000001.jpg"


def template_settings(template: Mapping[str, Any], input_uri: str, destination: str) -> dict[str, Any]:
    """A job template's settings with our input and our destinations.

    A job's OutputGroups replace its template's, so they are copied from the template and only their
    destinations change: the HLS group must land where the app serves it from, other groups beside it.
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
    return settings


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
    audio = sum(((a.get("CodecSettings") or {}).get("AacSettings") or {}).get("Bitrate", 0)
                for a in output.get("AudioDescriptions") or [])
    video_bps = video.get("MaxBitrate") or video.get("Bitrate") or 0
    return int(video_bps + audio) if video_bps else 0
