"""Stored files under EXPORTS_DATA_DIR: uploads in, HLS out; keys are paths relative to the data dir."""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path

from exports_app.config import get_settings


def safe_filename(name: str) -> str:
    """A filename without directories or odd characters, kept recognisable."""
    base = Path(name.replace("\\", "/")).name
    cleaned = re.sub(r"[^A-Za-z0-9._ -]+", "_", base).strip(" .") or "video"
    return cleaned[:120]


def path_for(key: str) -> Path:
    """The absolute path of a storage key; refuses keys that would leave the data dir."""
    root = get_settings().data_dir.resolve()
    path = (root / key).resolve()
    if root != path and root not in path.parents:
        raise FileNotFoundError(key)
    return path


def store_file(source: Path, user_id: int, filename: str) -> tuple[str, int]:
    """Copy source into uploads/<user>/<random>/<filename>; returns (key, size in bytes)."""
    key = f"uploads/{user_id}/{uuid.uuid4().hex}/{filename}"
    target = path_for(key)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    shutil.copyfile(source, tmp)
    tmp.replace(target)
    return key, target.stat().st_size


def remove(key: str) -> None:
    path = path_for(key)
    path.unlink(missing_ok=True)
    try:
        path.parent.rmdir()
    except OSError:
        pass
