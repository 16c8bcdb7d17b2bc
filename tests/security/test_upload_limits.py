"""Uploads: no session -> 401 before the body is read; over EXPORTS_MAX_UPLOAD_BYTES -> 413; nothing left on disk."""

from __future__ import annotations

import uuid

import pytest

from tests.security import raw_http
from tests.security.conftest import (
    MAX_UPLOAD_BYTES,
    UPLOAD_HANDLER,
    World,
    data_files,
    post_upload,
    stored_uploads,
    upload_rows,
)
from tests.socketio_client import EventSocket

pytestmark = pytest.mark.e2e

DECLARED = 400_000_000  # what the attacker announces
SENT = 4096  # what it actually sends before going quiet


def written(world: World, before: dict[str, int]) -> dict[str, int]:
    """Files under the data dir that appeared or changed since `before` (HLS output of earlier preps aside)."""
    return {name: size for name, size in data_files(world.app).items()
            if before.get(name) != size and not name.startswith("hls/")}


def test_upload_without_a_session_is_refused_before_its_body(world: World) -> None:
    before = data_files(world.app)
    form_type, body = raw_http.multipart([("huge.mp4", b"\0" * SENT, "video/mp4")])
    answer = raw_http.request(world.url, "POST", "/_upload", headers={
        "Reflex-Client-Token": str(uuid.uuid4()), "Reflex-Event-Handler": UPLOAD_HANDLER, "Content-Type": form_type,
    }, body=body, declared_length=DECLARED, send_limit=SENT, timeout=10)
    assert answer is not None, f"no answer within 10 s to {SENT} of {DECLARED} declared bytes: the body is awaited"
    assert answer.status == 401, f"{answer.status}: {answer.body[:200]!r}"
    assert answer.json_error(), f"not a JSON error body: {answer.body[:200]!r}"
    assert written(world, before) == {}


def test_upload_over_the_limit_is_refused_and_leaves_nothing(world: World, alice_tab: EventSocket) -> None:
    before, rows, files = data_files(world.app), upload_rows(world.app), stored_uploads(world.app)
    clip = world.clip.read_bytes()
    oversized = clip + b"\0" * (MAX_UPLOAD_BYTES + 1_000_000 - len(clip))  # a real video, padded to ~6 MB
    answer = post_upload(world, alice_tab.token, "big.mp4", oversized, cookie=world.alice.cookie)
    assert answer is not None, "/_upload never answered"
    assert answer.status == 413, f"{answer.status} for a {len(oversized)} byte upload: {answer.body[:200]!r}"
    assert answer.json_error(), f"not a JSON error body: {answer.body[:200]!r}"
    assert upload_rows(world.app) == rows and stored_uploads(world.app) == files, "the oversized upload was stored"
    assert written(world, before) == {}, "temporary copies left in the data dir"
