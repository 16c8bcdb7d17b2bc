"""Where the ffmpeg binary is: the one shipped by the imageio-ffmpeg wheel (libx264 + aac), so pip alone provides it."""

from __future__ import annotations

import imageio_ffmpeg


def ffmpeg_exe() -> str:
    """The path of the bundled ffmpeg."""
    exe: str = imageio_ffmpeg.get_ffmpeg_exe()  # the package is untyped: its documented return is a path
    return exe
