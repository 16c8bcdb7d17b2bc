"""The local transcoder against Apple's HLS authoring spec, for every kind of file members bring.

Each source (tests/hls/sources.py) is probed through the media gate and prepped by the local transcoder as
the refresh job runs it; then the output is read back: the playlists with `m3u8`, every segment with PyAV
(demuxed packet by packet, first frames decoded). Sources are made and transcoded once per session
(tests/hls/conftest.py); test_hls_js_playback.py plays the same outputs in Chromium.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import m3u8
import pytest

from exports_app.domain import JobStatus
from exports_app.transcode.base import JobReport
from tests.hls.sources import SOURCES, Source
from tests.hls.stream_checks import (
    assert_iframe_playlist_points_at_keyframes,
    idet_totals,
    keyframe_times,
    starts_with_idr,
)

GOP_SECONDS = 2.0
SEGMENT_SECONDS = 6
BT709 = 1  # H.273 code points for primaries, transfer and matrix


def variants(folder: Path) -> Iterator[tuple[m3u8.Playlist, m3u8.M3U8, list[Path]]]:
    """(the master's variant, its media playlist, its segment files) for each variant of the master."""
    master = m3u8.load(str(folder / "master.m3u8"))
    for variant in master.playlists:
        playlist = m3u8.load(str(folder / variant.uri))
        yield variant, playlist, [folder / Path(variant.uri).parent / s.uri for s in playlist.segments]


def _source(name: str) -> Source:
    return next(s for s in SOURCES if s.name == name)


NAMES = [s.name for s in SOURCES]


@pytest.mark.parametrize("name", NAMES)
def test_every_source_transcodes(outputs: dict[str, tuple[JobReport, Path]], name: str) -> None:
    report, folder = outputs[name]
    assert report.status is JobStatus.SUCCEEDED, report.error_message
    assert (folder / "master.m3u8").is_file()


@pytest.mark.parametrize("name", NAMES)
def test_master_playlist(outputs: dict[str, tuple[JobReport, Path]], name: str) -> None:
    source = _source(name)
    _, folder = outputs[name]
    master = m3u8.load(str(folder / "master.m3u8"))
    assert master.is_independent_segments
    assert len(master.playlists) >= 2, "every source gets at least two variants"
    assert len(master.iframe_playlists) == len(master.playlists)
    for variant in master.playlists:
        info = variant.stream_info
        assert info.bandwidth and info.average_bandwidth and info.average_bandwidth <= info.bandwidth
        assert info.codecs and info.codecs.startswith("avc1.")
        assert ("mp4a.40.2" in info.codecs) == source.audio
        assert info.video_range == "SDR"
        assert info.frame_rate == pytest.approx(float(source.frame_rate), abs=0.001)
        width, height = info.resolution
        assert (width > height) == (source.display[0] > source.display[1]), "orientation kept"
        assert min(width, height) <= min(source.display), "never upscaled"
        assert width / height == pytest.approx(source.display[0] / source.display[1], rel=0.02), "display aspect"
    bandwidths = [v.stream_info.bandwidth for v in master.playlists]
    first = bandwidths[0]
    assert all(abs(first - 2_000_000) <= abs(b - 2_000_000) for b in bandwidths), "starts near 2 Mbit/s"
    assert min(bandwidths) < 400_000, "a low-bitrate variant for cellular"
    by_resolution = {v.stream_info.resolution for v in master.playlists}
    assert {i.iframe_stream_info.resolution for i in master.iframe_playlists} == by_resolution
    by_pixels = sorted(master.playlists, key=lambda v: v.stream_info.resolution[0] * v.stream_info.resolution[1])
    for smaller, larger in zip(by_pixels, by_pixels[1:], strict=False):
        cost, more = smaller.stream_info, larger.stream_info
        assert cost.bandwidth < more.bandwidth and cost.average_bandwidth < more.average_bandwidth, (
            f"the smaller variant costs less: {cost.resolution} {cost.bandwidth} vs {more.resolution} {more.bandwidth}"
        )


@pytest.mark.parametrize("name", NAMES)
def test_media_playlists_are_vod_and_aligned(outputs: dict[str, tuple[JobReport, Path]], name: str) -> None:
    _, folder = outputs[name]
    cuts = []
    for _, playlist, _ in variants(folder):
        assert playlist.playlist_type == "vod" and playlist.is_endlist
        assert playlist.target_duration <= SEGMENT_SECONDS
        assert all(round(s.duration) <= playlist.target_duration for s in playlist.segments)
        cuts.append([round(s.duration, 2) for s in playlist.segments])
    assert all(c == cuts[0] for c in cuts), f"segments line up across variants: {cuts}"


@pytest.mark.parametrize("name", NAMES)
def test_segments_start_on_idr_with_2s_closed_gops(outputs: dict[str, tuple[JobReport, Path]], name: str) -> None:
    source = _source(name)
    _, folder = outputs[name]
    for variant, playlist, segments in variants(folder):
        times: list[float] = []
        for path in segments:
            assert starts_with_idr(path), f"{variant.uri} {path.name} starts on an IDR"
            times += keyframe_times(path)
        duration = sum(s.duration for s in playlist.segments)
        assert len(times) == math.ceil(round(duration, 2) / GOP_SECONDS), f"an IDR every 2 s: {times}"
        origin = times[0]
        gaps = [round(b - a, 3) for a, b in zip(times, times[1:], strict=False)]
        frame = 1 / float(source.frame_rate)
        assert all(abs(g - GOP_SECONDS) <= frame + 0.001 for g in gaps), f"GOPs of 2 s: {gaps}"
        assert all(
            abs((t - origin) / GOP_SECONDS - round((t - origin) / GOP_SECONDS)) * GOP_SECONDS <= frame for t in times
        )


@pytest.mark.parametrize("name", NAMES)
def test_decoded_video_and_audio(outputs: dict[str, tuple[JobReport, Path]], name: str) -> None:
    source = _source(name)
    _, folder = outputs[name]
    for variant, playlist, segments in variants(folder):
        with av.open(str(segments[0]), format="mpegts") as container:
            video = container.streams.video[0]
            frame = next(container.decode(video=0))
            assert (frame.width, frame.height) == variant.stream_info.resolution
            assert video.sample_aspect_ratio in (None, Fraction(0), Fraction(1)), "square pixels"
            context = video.codec_context
            assert (context.color_primaries, context.color_trc, context.colorspace) == (BT709, BT709, BT709)
            assert frame.format.name == "yuv420p"
            short = min(frame.width, frame.height)
            assert video.profile == ("High" if short >= 720 else "Main")
            audio = list(container.streams.audio)
            assert bool(audio) == source.audio
            if audio:
                assert audio[0].codec_context.name == "aac" and audio[0].profile == "LC"
                assert audio[0].sample_rate == 48000 and audio[0].channels == 2
        frames = 0
        for path in segments:
            with av.open(str(path), format="mpegts") as container:
                frames += sum(1 for p in container.demux(video=0) if p.size)
        seconds = sum(s.duration for s in playlist.segments)
        assert frames / seconds == pytest.approx(float(source.frame_rate), rel=0.05), "constant frame rate"


@pytest.mark.parametrize("name", NAMES)
def test_iframe_playlists_point_at_keyframes(outputs: dict[str, tuple[JobReport, Path]], name: str) -> None:
    _, folder = outputs[name]
    master = m3u8.load(str(folder / "master.m3u8"))
    assert len(master.iframe_playlists) == len(master.playlists)
    for iframe in master.iframe_playlists:
        assert_iframe_playlist_points_at_keyframes(folder / iframe.uri)


@pytest.mark.parametrize("name", NAMES)
def test_renditions_report_sizes_and_rate(outputs: dict[str, tuple[JobReport, Path]], name: str) -> None:
    source = _source(name)
    report, folder = outputs[name]
    master = m3u8.load(str(folder / "master.m3u8"))
    sizes = {v.stream_info.resolution for v in master.playlists}
    assert {(r.width, r.height) for r in report.renditions} == sizes
    assert all(math.isclose(r.frame_rate, float(source.frame_rate), abs_tol=0.001) for r in report.renditions)


INTERLACED = [s.name for s in SOURCES if s.field_order]
# idet reads a starved encoder's blocking as combing: below this many lines (the cellular rung gets 145 kbit/s
# for 60 frames a second) progressive frames need only be the clear majority.
IDET_EXACT_FROM = 360


@pytest.mark.parametrize("name", INTERLACED)
def test_interlaced_sources_come_out_progressive(outputs: dict[str, tuple[JobReport, Path]], name: str) -> None:
    """Apple's authoring spec 1.10 and 1.11: interlaced content de-interlaced, 30i made 60p (FRAME-RATE and the
    frame count are checked above for every source); idet, which finds the source's fields, finds none left."""
    source = _source(name)
    _, folder = outputs[name]
    tff, bff, progressive = idet_totals([folder.parents[1] / source.file])  # the sources sit beside hls/
    assert (tff > 10 * (bff + progressive)) if source.field_order == "tff" else (bff > 10 * (tff + progressive))
    for variant, _, segments in variants(folder):
        tff, bff, progressive = idet_totals(segments)
        counts = f"{variant.stream_info.resolution}: TFF {tff}, BFF {bff}, progressive {progressive}"
        assert progressive > 2 * (tff + bff), counts
        if min(variant.stream_info.resolution) >= IDET_EXACT_FROM:
            assert tff + bff <= progressive // 50, counts


def listing(master: m3u8.M3U8) -> list[tuple[str, tuple[int, int]]]:
    """The master's variants and then its I-frame playlists: (URI, resolution) each, in the master's order."""
    return [(v.uri, tuple(v.stream_info.resolution)) for v in master.playlists] + [
        (i.uri, tuple(i.iframe_stream_info.resolution)) for i in master.iframe_playlists
    ]


def test_two_passes_list_the_ladder_as_one_pass_does(outputs: dict[str, tuple[JobReport, Path]]) -> None:
    """Issue 33: once the HD pass is merged, the master lists every rung of a 1080p source, variants and I-frame
    playlists, in the order and under the names a one-pass master of 1080p has (the one near 2 Mbit/s first)."""
    one_pass = m3u8.load(str(outputs["i1080_tff_mp3"][1] / "master.m3u8"))
    two_pass = m3u8.load(str(outputs["two_pass_1080p"][1] / "master.m3u8"))
    fast_pass = m3u8.load(str(outputs["fast_pass_1080p"][1] / "master.m3u8"))
    assert len(two_pass.playlists) == 5 and listing(two_pass) == listing(one_pass)
    assert [size for _, size in listing(fast_pass)] == [(640, 360), (416, 234)] * 2
