"""Odd inputs for transcoder tests, made with the bundled ffmpeg (good clips come from tests/support/clips.py)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

from exports_app.transcode.ffmpeg import ffmpeg_exe
from tests.support.clips import make_clip

X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]  # fast H.264 that every player decodes


def run_ffmpeg(*args: str) -> None:
    """The bundled ffmpeg with these arguments, quiet, overwriting its output; raises if it fails."""
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *args], check=True, capture_output=True, timeout=300)


def audio_only(path: Path) -> Path:
    run_ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:a", "aac", "-f", "mp4", str(path))
    return path


def image_only(path: Path) -> Path:
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240", "-frames:v", "1", "-f", "image2", "-c:v", "png", str(path))
    return path


def truncated(path: Path, work: Path) -> Path:
    source = make_clip(work / "whole.mp4", seconds=4.0, width=320, height=240)
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    return path


def bad_inputs(work: Path) -> dict[str, Path]:
    """Every odd input the transcoder must survive, by name."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "zero.mp4").write_bytes(b"")
    (work / "text.mp4").write_text("just some notes, renamed to .mp4\n")
    return {
        "zero_byte": work / "zero.mp4",
        "text_renamed": work / "text.mp4",
        "truncated": truncated(work / "truncated.mp4", work),
        "audio_only": audio_only(work / "audio.mp4"),
        "image_only": image_only(work / "image.mp4"),
        "odd_dimensions": make_clip(work / "odd.mp4", seconds=1.0, width=321, height=241),
        "uhd_4k": make_clip(work / "uhd.mp4", seconds=1.0, width=3840, height=2160),
    }


def _parent_pid(pid: int) -> int:
    # /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses, so split after the last ")".
    return int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])


def _descends_from_this_process(pid: int) -> bool:
    me = os.getpid()
    while pid > 1:
        pid = _parent_pid(pid)
        if pid == me:
            return True
    return False


def ffmpeg_processes() -> list[tuple[int, list[bytes]]]:
    """The running processes of the bundled ffmpeg, each with its command line, read from /proc (`ps` truncates long
    command lines; a process that has ended, a zombie, has none)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                args = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue  # the process ended while being read
            if args[0] == ffmpeg_exe().encode():
                found.append((int(proc.name), args))
    return found


def running_ladder_pids() -> list[int]:
    """PIDs of ffmpeg processes writing an HLS ladder that this test process started. Only this process's own: the
    other test processes `make test` runs side by side, and the apps they start, transcode at the same time with the
    same ffmpeg."""
    pids = []
    for pid, args in ffmpeg_processes():
        with contextlib.suppress(OSError, ValueError, IndexError):  # the process ended while being read
            if b"master.m3u8" in args and _descends_from_this_process(pid):
                pids.append(pid)
    return pids


def black_then_white(path: Path, seconds: float, black_seconds: float) -> Path:
    """A silent H.264 clip, black for black_seconds and white after (for telling which frame a still shows)."""
    white = seconds - black_seconds
    run_ffmpeg(
        "-f",
        "lavfi",
        "-i",
        f"color=c=black:s=320x180:r=25:d={black_seconds}",
        "-f",
        "lavfi",
        "-i",
        f"color=c=white:s=320x180:r=25:d={white}",
        "-filter_complex",
        "[0:v][1:v]concat=n=2:v=1[v]",
        "-map",
        "[v]",
        *X264,
        "-g",
        "25",
        str(path),
    )
    return path


def padded_video(path: Path, total_bytes: int, work: Path) -> Path:
    """A real 1 s MP4 of total_bytes: the clip (its moov first) and then one big `free` box.

    The demuxer stops after moov and mdat, so the probe reads only the clip; the padding is sparse on
    the test's side and arrives at the app as real bytes. For upload size and memory tests.
    """
    clip = make_clip(work / "head.mp4", seconds=1.0, width=320, height=180).read_bytes()
    pad = total_bytes - len(clip)
    assert pad > 16, "total_bytes must leave room for the padding box"
    with path.open("wb") as out:
        out.write(clip)
        out.write((1).to_bytes(4, "big") + b"free" + pad.to_bytes(8, "big"))  # a 64-bit box size
        out.truncate(total_bytes)
    return path


H264_INTERLACED = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-flags", "+ildct+ilme"]


def interlaced_clip(
    path: Path,
    *,
    size: tuple[int, int],
    field_rate: str,
    order: str = "tff",
    seconds: float = 1.0,
    codec: tuple[str, ...] = (),
    audio_codec: str | None = None,
    sar: str = "1",
) -> Path:
    """Interlaced video as cameras and broadcasts make it: a moving pattern sampled once per field (field_rate,
    say 60000/1001), woven two fields a frame in `order` ("tff" or "bff"), coded as interlaced H.264 that
    declares its field order, unless `codec` names other encoder arguments. The pattern is blurred a little,
    soft as camera pictures are: idet reads razor-sharp synthetic edges (and the line pairs of a picture scaled
    up twice) as combing. audio_codec adds a stereo 48 kHz tone."""
    width, height = size
    weave = "interleave_top" if order == "tff" else "interleave_bottom"
    pattern = (
        f"testsrc2=size={width}x{height}:rate={field_rate}:duration={seconds},gblur=sigma=1.5,"
        f"tinterlace=mode={weave},setfield={order},setsar={sar}"
    )
    sound = ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"] if audio_codec else []
    video = list(codec) or [*H264_INTERLACED, "-x264opts", f"{order}=1"]
    audio = ["-c:a", audio_codec, "-ac", "2", "-b:a", "128k", "-shortest"] if audio_codec else []
    run_ffmpeg("-f", "lavfi", "-i", pattern, *sound, *video, *audio, str(path))
    return path
