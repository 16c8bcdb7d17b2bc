"""The one ffmpeg command that encodes a source's whole ladder to VOD HLS (the local transcoder's encoder)."""

from __future__ import annotations

from pathlib import Path

from exports_app.transcode.interlace import Interlace
from exports_app.transcode.ladder import AUDIO_CHANNELS, AUDIO_SAMPLE_RATE, GOP_SECONDS, SEGMENT_SECONDS, Rung
from exports_app.transcode.probe import VideoProbe, input_args

MAXRATE_FACTOR = 1.07  # capped VBR: peaks stay near the rung's rate, so BANDWIDTH stays honest
# zscale's names for the transfer of an HDR source (tin=), as the probe classifies it.
HDR_TRANSFER = {"hlg": "arib-std-b67", "pq": "smpte2084"}
# The frames say what they are (the encoder writes the frames' tags into the VUI, over its own options).
BT709_FRAMES = "setparams=color_primaries=bt709:color_trc=bt709:colorspace=bt709:range=tv"
BT709_TAGS = ["-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709", "-color_range", "tv"]


def tone_map(hdr: str) -> str:
    """HDR (HLG or PQ, BT.2020) to SDR BT.709 with zscale + tonemap (hable), as the shipped ffmpeg has zimg.

    The source's transfer and primaries are named rather than read from the frames, since phone files
    often tag only the container. Linear light in float, primaries to BT.709, then the curve and the matrix.
    """
    return (
        f"zscale=tin={HDR_TRANSFER[hdr]}:pin=bt2020:min=bt2020nc:t=linear:npl=100,format=gbrpf32le,"
        "zscale=p=bt709,tonemap=tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=tv,format=yuv420p"
    )


def deinterlace(interlace: Interlace) -> str:
    """bwdif on every frame, in the probe's field order: one frame per field (29.97i → 59.94p) where the
    probe doubled the rate, else one per frame. The parity is named, as frames idet found may say progressive."""
    mode = "send_field" if interlace.per_field else "send_frame"
    return f"bwdif=mode={mode}:parity={interlace.field_order}:deint=all"


def _source_chain(probe: VideoProbe) -> str:
    """What every rung shares, done once before the split: de-interlacing, tone mapping, the constant output rate.

    Fields are made frames first, at the source's size, so no later filter blends one field into the other.
    ffmpeg's autorotate turns the frames before this graph, so the probe's display size is what arrives.
    """
    chain = [deinterlace(probe.interlace)] if probe.interlace else []
    chain += [tone_map(probe.hdr)] if probe.hdr else []
    chain.append(f"fps={probe.frame_rate}")
    return ",".join(chain)


def _rung_chain(rung: Rung, probe: VideoProbe) -> str:
    """Exact size with square pixels; SDR matrices converted to BT.709 (untagged SD is taken as BT.601)."""
    matrix = "" if probe.hdr else f":in_color_matrix={probe.color_matrix}:out_color_matrix=bt709"
    return f"scale={rung.width}:{rung.height}:flags=bicubic{matrix},setsar=1,format=yuv420p,{BT709_FRAMES}"


def build_ladder_command(
    ffmpeg_exe: str,
    input_path: Path,
    out_dir: Path,
    renditions: list[Rung],
    probe: VideoProbe,
    *,
    progress: bool = True,
    names: list[str] | None = None,
) -> list[str]:
    """One ffmpeg process: split + scale the video once per rung, H.264/AAC, VOD HLS in out_dir/<name>/.

    names: each rung's folder (and variant) name, v<i> by default; a pass names its rungs by their place in the
    whole ladder (ladder.pass_rungs).

    The input is read with the demuxer the probe found and the file protocol only (probe.input_args).
    Keyframes are forced every GOP_SECONDS of output time (twice the frames of a de-interlaced 30i source
    as of a 30p one), and scene cuts add none, so every variant has its IDRs at the same instants and the
    6 s segments line up across the ladder.
    """
    n = len(renditions)
    splits = "".join(f"[s{i}]" for i in range(n))
    scales = ";".join(f"[s{i}]{_rung_chain(r, probe)}[v{i}]" for i, r in enumerate(renditions))
    cmd = [ffmpeg_exe, "-hide_banner", "-nostdin", "-y"]
    if progress:
        cmd += ["-progress", "pipe:1", "-nostats"]
    graph = f"[0:v]{_source_chain(probe)},split={n}{splits};{scales}"
    cmd += [*input_args(input_path, probe.container), "-filter_complex", graph]
    gop_frames = str(max(1, round(GOP_SECONDS * probe.frame_rate)))
    for i, rung in enumerate(renditions):
        cmd += [
            "-map",
            f"[v{i}]",
            f"-c:v:{i}",
            "libx264",
            f"-profile:v:{i}",
            rung.profile,
            f"-b:v:{i}",
            f"{rung.video_kbps}k",
            f"-maxrate:v:{i}",
            f"{int(rung.video_kbps * MAXRATE_FACTOR)}k",
            f"-bufsize:v:{i}",
            f"{rung.video_kbps * 2}k",
        ]
        if probe.has_audio:
            cmd += ["-map", "0:a:0", f"-b:a:{i}", f"{rung.audio_kbps}k"]
    cmd += [
        "-preset",
        "veryfast",
        "-pix_fmt",
        "yuv420p",
        "-fps_mode",
        "cfr",
        *BT709_TAGS,
        "-g",
        gop_frames,
        "-keyint_min",
        gop_frames,
        "-sc_threshold",
        "0",
        "-flags",
        "+cgop",
        "-force_key_frames",
        f"expr:gte(t,n_forced*{GOP_SECONDS})",
    ]
    if probe.has_audio:
        # AAC-LC at 48 kHz, stereo: mono is upmixed, 44.1 kHz resampled (what Apple's and AWS's ladders ship).
        cmd += ["-c:a", "aac", "-ar", str(AUDIO_SAMPLE_RATE), "-ac", str(AUDIO_CHANNELS)]
    named = names or [f"v{i}" for i in range(n)]
    stream_map = " ".join(
        f"v:{i},a:{i},name:{named[i]}" if probe.has_audio else f"v:{i},name:{named[i]}" for i in range(n)
    )
    cmd += [
        "-f",
        "hls",
        "-hls_time",
        str(SEGMENT_SECONDS),
        "-hls_playlist_type",
        "vod",
        "-hls_flags",
        "independent_segments",
        "-hls_segment_filename",
        str(out_dir / "%v" / "seg%03d.ts"),
        "-master_pl_name",
        "master.m3u8",
        "-var_stream_map",
        stream_map,
        str(out_dir / "%v" / "index.m3u8"),
    ]
    return cmd
