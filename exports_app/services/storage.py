"""Stored files under EXPORTS_DATA_DIR: uploads in, HLS out; keys are paths relative to the data dir."""

from __future__ import annotations

import errno
import os
import posixpath
import re
import shutil
import uuid
from functools import lru_cache
from pathlib import Path

from exports_app.config import get_settings
from exports_app.services import faults

STAGING = "staging"


def safe_filename(name: str) -> str:
    """A filename without directories or odd characters, kept recognisable."""
    base = Path(name.replace("\\", "/")).name
    cleaned = re.sub(r"[^A-Za-z0-9._ -]+", "_", base).strip(" .") or "video"
    return cleaned[:120]


def path_for(key: str) -> Path:
    """The absolute path of a storage key; refuses keys that would leave the data dir (or hold a NUL)."""
    data_dir = get_settings().data_dir
    return _resolved(data_dir, key) if len(key) <= CACHED_KEY_CHARS else _resolved.__wrapped__(data_dir, key)


# Resolving walks every component of the path with a system call each: about 50 µs, and the refresh tick asks for
# the export of every job in progress, every tick (a thousand jobs: 5 % of a core). A stored key's place does not
# change, and this app makes no links in the data dir; a key that would leave the data dir raises, which is not cached.
# Keys also come from clients (a file of an HLS ladder, by its name in the URL): only short ones are kept, so the
# cache holds a few MB at most, however long the names a client makes up (the app's own keys are under 100 chars).
CACHED_KEY_CHARS = 256


@lru_cache(maxsize=4096)
def _resolved(data_dir: Path, key: str) -> Path:
    root = data_dir.resolve()
    if "\x00" in key:
        raise FileNotFoundError("bad key")
    path = (root / key).resolve()
    if root != path and root not in path.parents:
        raise FileNotFoundError(key)
    return path


def staging_path() -> Path:
    """A fresh path in the data dir for an upload as it arrives; moved (not copied) into place once probed.

    StorageFull, before a byte is staged, when the data dir is below EXPORTS_MIN_FREE_BYTES.
    """
    faults.ensure_room()
    folder = get_settings().data_dir / STAGING
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{uuid.uuid4().hex}.part"


def store_file(source: Path, user_id: int, extension: str, *, move: bool = False) -> tuple[str, int]:
    """Put source at uploads/<user>/<random>/source<extension> (a server-chosen name); returns (key, size).

    move: source is a staged upload in the data dir, renamed into place so no second copy is written (copied
    after all when the staging folder is a file system of its own: a rename cannot cross one).
    """
    key = f"uploads/{user_id}/{uuid.uuid4().hex}/source{extension}"
    target = path_for(key)
    target.parent.mkdir(parents=True, exist_ok=True)
    if move:
        try:
            os.replace(source, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            move = False
    if not move:
        tmp = target.with_name(target.name + ".part")
        try:
            shutil.copyfile(source, tmp)
            tmp.replace(target)
        except OSError:  # e.g. the disk filled up midway: no half copy stays behind
            _discard(tmp)
            raise
    return key, target.stat().st_size


def _discard(path: Path) -> None:
    """Remove a partly written file and its folder if that is now empty."""
    path.unlink(missing_ok=True)
    try:
        path.parent.rmdir()
    except OSError:
        pass


def beside(key: str, name: str) -> str:
    """The key of a file named name in the folder of key (an upload's poster sits beside the upload)."""
    return posixpath.join(posixpath.dirname(key), name)


def write_bytes(key: str, data: bytes) -> None:
    """Write data at key, all at once: written beside it, then renamed over it, so a reader gets the old bytes or the
    new ones, never part of them (a poster; a master playlist replaced as the HD pass is added to it)."""
    target = path_for(key)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.{uuid.uuid4().hex}.part")
    try:
        tmp.write_bytes(data)
        tmp.replace(target)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def remove(key: str) -> None:
    _discard(path_for(key))
