"""The ABR ladder: which renditions a source gets, and the one ffmpeg command that encodes them all."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from exports_app.transcode.probe import input_args

SEGMENT_SECONDS = 6
AUDIO_BITRATE = "128k"


@dataclass(frozen=True)
class Rung:
    """One rendition of the ladder."""

    height: int
    video_kbps: int

    @property
    def bandwidth(self) -> int:
        return (self.video_kbps + 128) * 1000


LADDER = (Rung(1080, 5000), Rung(720, 2800), Rung(480, 1400), Rung(360, 800))


def choose_renditions(source_height: int | None) -> list[Rung]:
    """The rungs not above the source (never upscale); a source below 360p gets the 360p rung's bitrate."""
    if not source_height:
        return [LADDER[1], LADDER[3]]
    fitting = [r for r in LADDER if r.height <= source_height]
    if not fitting:
        return [Rung(source_height - source_height % 2, LADDER[-1].video_kbps)]
    return fitting


def build_ladder_command(
    ffmpeg_exe: str, input_path: Path, out_dir: Path, renditions: list[Rung], has_audio: bool,
    *, container: str, progress: bool = True,
) -> list[str]:
    """One ffmpeg process: split + scale the video once per rung, H.264/AAC, VOD HLS with a master playlist.

    The input is read with the demuxer the probe found and the file protocol only (probe.input_args).
    """
    n = len(renditions)
    splits = "".join(f"[s{i}]" for i in range(n))
    scales = ";".join(f"[s{i}]scale=-2:{r.height}[v{i}]" for i, r in enumerate(renditions))
    cmd = [ffmpeg_exe, "-hide_banner", "-nostdin", "-y"]
    if progress:
        cmd += ["-progress", "pipe:1", "-nostats"]
    cmd += [*input_args(input_path, container), "-filter_complex", f"[0:v]split={n}{splits};{scales}"]
    # Keyframes every segment so every rendition cuts at the same moments (switchable ABR).
    gop = ["-force_key_frames", f"expr:gte(t,n_forced*{SEGMENT_SECONDS})", "-sc_threshold", "0"]
    for i, rung in enumerate(renditions):
        cmd += ["-map", f"[v{i}]", f"-c:v:{i}", "libx264", f"-b:v:{i}", f"{rung.video_kbps}k",
                f"-maxrate:v:{i}", f"{int(rung.video_kbps * 1.07)}k", f"-bufsize:v:{i}", f"{rung.video_kbps * 2}k"]
        if has_audio:
            cmd += ["-map", "0:a:0"]
    cmd += ["-preset", "veryfast", "-profile:v", "main", "-pix_fmt", "yuv420p", *gop]
    if has_audio:
        cmd += ["-c:a", "aac", "-b:a", AUDIO_BITRATE, "-ac", "2"]
    stream_map = " ".join(f"v:{i},a:{i}" if has_audio else f"v:{i}" for i in range(n))
    cmd += [
        "-f", "hls", "-hls_time", str(SEGMENT_SECONDS), "-hls_playlist_type", "vod",
        "-hls_flags", "independent_segments",
        "-hls_segment_filename", str(out_dir / "v%v" / "seg%03d.ts"),
        "-master_pl_name", "master.m3u8", "-var_stream_map", stream_map,
        str(out_dir / "v%v" / "index.m3u8"),
    ]
    return cmd
