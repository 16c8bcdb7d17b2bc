"""A small tmpfs of the test's own, to fill the disk for real; skips (saying why) where mounting is not allowed."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.database import SERVER_DB, app_pointed_at


@contextmanager
def small_tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of size (e.g. "256k") mounted at where while inside; unmounted (lazily, if still busy) on exit."""
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("a full disk is played on a tmpfs, and mounting one needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0777", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs was refused here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=30)


def fill(folder: Path) -> Path:
    """Write a file in folder until the file system is full; returns it (delete it to free the room)."""
    ballast = folder / "ballast"
    with ballast.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    return ballast


@pytest.fixture
def full_disk_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, migrated_template: Path) -> Iterator[Path]:
    """The app's data dir, SQLite and all, on a 4 MiB tmpfs of its own (filled by the test)."""
    if SERVER_DB != "sqlite":
        pytest.skip("the database's own disk fills only with SQLite in the data dir")
    with small_tmpfs(tmp_path / "disk", "4m") as disk:
        shutil.copyfile(migrated_template, disk / "exports.db")
        monkeypatch.setenv("EXPORTS_MIN_FREE_BYTES", "0")  # the guard off: the write itself meets the full disk
        with app_pointed_at(monkeypatch, disk, None):
            yield disk
