"""The tests' test-pattern clips (exports_app.transcode.clips.make_clip), each distinct one encoded once per test
process and copied from there: the same parameters make the same clip, and the suite asks for some a dozen times
(a 30 s 720p clip costs seconds of CPU to encode, a copy next to nothing)."""

from __future__ import annotations

import atexit
import hashlib
import inspect
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Concatenate, ParamSpec

from exports_app.transcode import clips

P = ParamSpec("P")


def encoded_once(make: Callable[Concatenate[Path, P], Path]) -> Callable[Concatenate[Path, P], Path]:
    """`make` (which writes a clip to its path), run once per distinct set of the other arguments in this process;
    every call gets a copy of that clip at its own path."""
    signature = inspect.signature(make)
    lock = threading.Lock()
    folder: list[Path] = []  # made on first use, removed when the process exits

    def copy_of(path: Path, /, *args: P.args, **kwargs: P.kwargs) -> Path:
        bound = signature.bind(path, *args, **kwargs)
        bound.apply_defaults()
        # The path's suffix picks ffmpeg's container, so it is a part of what makes a clip.
        key = repr(sorted((name, value) for name, value in bound.arguments.items() if name != "path")) + path.suffix
        with lock:
            if not folder:
                folder.append(Path(tempfile.mkdtemp(prefix="exports-test-clips-")))
                atexit.register(shutil.rmtree, folder[0], True)
            name = hashlib.sha256(key.encode()).hexdigest()[:16]
            made = folder[0] / f"{name}{path.suffix}"
            if not made.is_file():  # written beside it, then renamed: a failed encode leaves no clip behind
                make(folder[0] / f"{name}.partial{path.suffix}", *args, **kwargs).rename(made)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(made, path)
        return path

    return copy_of


make_clip = encoded_once(clips.make_clip)
