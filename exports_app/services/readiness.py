"""What the readiness probe (/readyz) checks: the database, Redis when configured, the data dir, the transcoder.

Each check answers in words an operator can act on and never with member data, paths or credentials; the
probe is unauthenticated, for a load balancer or Kubernetes, and only the bearer of the metrics token is shown
the words (api/ops_routes.py). The data dir's write test (64 KB written and synced) runs at most once per
WRITE_CHECK_SECONDS in a process, so a burst of probes costs one write: 500 probes in a second or two wrote
32 MB (500 tests) before, 64 KB now.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from exports_app.config import get_settings
from exports_app.db import get_engine
from exports_app.services.faults import room_short
from exports_app.storage_faults import free_bytes, write_fails
from exports_app.transcode import factory

WRITE_CHECK_SECONDS = 2.0  # how long one write test's answer stands for every probe that asks


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str


class _RecentWriteTest:
    """write_fails(folder), done again only once its last answer is WRITE_CHECK_SECONDS old; probes that arrive
    while it runs wait for its answer instead of writing too."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: tuple[float, Path, OSError | None] | None = None  # (when, folder, its answer)

    def __call__(self, folder: Path) -> OSError | None:
        with self._lock:
            last = self._last
            if last is not None and last[1] == folder and time.monotonic() - last[0] < WRITE_CHECK_SECONDS:
                return last[2]
            refused = write_fails(folder)
            self._last = (time.monotonic(), folder, refused)
            return refused


write_refused = _RecentWriteTest()


def database() -> Check:
    try:
        with get_engine().connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except Exception as exc:  # any failure means not ready; its words stay in the log, not the answer
        return Check(False, f"unreachable ({type(exc).__name__})")
    return Check(True, "answers")


def redis() -> Check | None:
    """Redis, when REFLEX_REDIS_URL is set (several workers share tabs' state there); None otherwise."""
    url = os.environ.get("REFLEX_REDIS_URL")
    if not url:
        return None
    from redis import Redis

    try:
        client = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # refused, timed out, wrong password: not ready
        return Check(False, f"unreachable ({type(exc).__name__})")
    return Check(True, "answers")


def data_dir() -> Check:
    settings = get_settings()
    folder = settings.data_dir
    try:
        refused = write_refused(folder) if folder.is_dir() else OSError("missing")
        free, short = free_bytes(folder), room_short(folder)
    except OSError as exc:
        return Check(False, f"unusable ({type(exc).__name__})")
    if refused is not None:
        return Check(False, f"not writable ({refused.strerror or 'refused'})")
    if short is not None:  # new uploads and preps are refused; the app serves what it has
        return Check(False, short)
    return Check(True, f"{free} bytes free")


def transcoder() -> Check:
    return Check(*factory.configuration())


def checks() -> dict[str, Check]:
    """Every check that applies here, by name."""
    found = {"database": database(), "data_dir": data_dir(), "transcoder": transcoder()}
    redis_check = redis()
    if redis_check is not None:
        found["redis"] = redis_check
    return found
