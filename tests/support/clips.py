"""The tests' test-pattern clips (exports_app.transcode.clips.make_clip), each distinct one encoded once on this
machine and copied from there: the same parameters make the same clip, and every run asks for the same few dozen,
some a dozen times (a 30 s 720p clip costs seconds of CPU to encode, a copy next to nothing).

The clips are kept in a cache folder, as pip and bun keep what they download: CLIPS_CACHE_ENV names it, else
$XDG_CACHE_HOME/exports-app/test-clips (~/.cache/… by default). A clip's name is a digest of its parameters, of the
code that makes it and of the ffmpeg binary that encodes it, so a change to either makes it anew. `.ci/run` gives the
run an empty folder of its own, as a new machine has.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Concatenate, ParamSpec

from exports_app.transcode import clips
from exports_app.transcode.ffmpeg import ffmpeg_exe

P = ParamSpec("P")
CLIPS_CACHE_ENV = "EXPORTS_TEST_CLIPS_CACHE"


def clips_cache() -> Path:
    """The folder the clips are kept in (CLIPS_CACHE_ENV, else the user's cache folder)."""
    if named := os.environ.get(CLIPS_CACHE_ENV):
        return Path(named)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "exports-app" / "test-clips"


def _encoder_identity(maker_source: str) -> str:
    """What else makes a clip what it is: the maker's code, and the ffmpeg binary (its path, size and time)."""
    exe = Path(ffmpeg_exe())
    found = exe.stat()
    return f"{maker_source}\0{exe}\0{found.st_size}\0{found.st_mtime_ns}"


def encoded_once(make: Callable[Concatenate[Path, P], Path]) -> Callable[Concatenate[Path, P], Path]:
    """`make` (which writes a clip to its path), run once per distinct set of the other arguments on this machine;
    every call gets a copy of that clip at its own path."""
    signature = inspect.signature(make)
    source = inspect.getsource(make)  # read once: the maker's code does not change while the tests run
    lock = threading.Lock()

    def copy_of(path: Path, /, *args: P.args, **kwargs: P.kwargs) -> Path:
        bound = signature.bind(path, *args, **kwargs)
        bound.apply_defaults()
        # The path's suffix picks ffmpeg's container, so it is a part of what makes a clip.
        key = repr(sorted((name, value) for name, value in bound.arguments.items() if name != "path")) + path.suffix
        folder = clips_cache()
        name = hashlib.sha256(f"{key}\0{_encoder_identity(source)}".encode()).hexdigest()[:24]
        made = folder / f"{name}{path.suffix}"
        with lock:
            if not made.is_file():
                # Written beside it under a name of this process's own, then renamed: a failed encode leaves no clip,
                # and processes that make the same clip at once each put a whole one in its place.
                folder.mkdir(parents=True, exist_ok=True)
                partial = folder / f"{name}.{os.getpid()}.partial{path.suffix}"
                os.replace(make(partial, *args, **kwargs), made)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(made, path)
        return path

    return copy_of


make_clip = encoded_once(clips.make_clip)
