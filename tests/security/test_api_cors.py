"""API CORS: another origin gets no credentialed CORS, and its credentialed POSTs are refused and change nothing."""

from __future__ import annotations

import httpx
import pytest

from tests.security.world import World, post_upload, stored_uploads, upload_rows
from tests.support.socketio_client import EventSocket

pytestmark = pytest.mark.e2e

EVIL = "http://evil.example"


def cors_grant(response: httpx.Response) -> dict[str, str]:
    """The CORS headers that would let EVIL read a credentialed answer."""
    granted = {}
    if response.headers.get("access-control-allow-origin") in (EVIL, "*"):
        granted["access-control-allow-origin"] = response.headers["access-control-allow-origin"]
    if response.headers.get("access-control-allow-credentials", "").lower() == "true":
        granted["access-control-allow-credentials"] = "true"
    return granted


@pytest.mark.parametrize("request_kind", ["GET /api/auth/me", "GET hls-status", "OPTIONS preflight of prep-hls"])
def test_no_credentialed_cors_for_a_foreign_origin(world: World, request_kind: str) -> None:
    alice, upload_id = world.alice.http, world.alice_exports["ready"]
    if request_kind == "GET /api/auth/me":
        answer = alice.get("/api/auth/me", headers={"Origin": EVIL})
    elif request_kind == "GET hls-status":
        answer = alice.get(f"/api/exports/{upload_id}/hls-status", headers={"Origin": EVIL})
    else:
        answer = alice.options(
            f"/api/exports/{upload_id}/prep-hls",
            headers={
                "Origin": EVIL,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "x-csrf-token, content-type",
            },
        )
    assert answer.status_code < 500
    assert cors_grant(answer) == {}, f"{request_kind} from {EVIL} answered {answer.status_code} with CORS grants"


def test_credentialed_posts_from_a_foreign_origin_are_refused(world: World, alice_tab: EventSocket) -> None:
    target = world.alice_exports["cors-target"]
    rows, files = upload_rows(world.app), stored_uploads(world.app)
    alice, spare = world.alice, world.alice_spare
    evil = {"Origin": EVIL}
    prep = alice.http.post(f"/api/exports/{target}/prep-hls", headers={**evil, "X-CSRF-Token": alice.csrf})
    logout = spare.post("/api/auth/logout", headers={**evil, "X-CSRF-Token": spare.cookies["csrf_token"]})
    login = httpx.post(
        f"{world.url}/api/auth/login", headers=evil, json={"username": alice.name, "password": alice.password}
    )
    upload = post_upload(
        world, alice_tab.token, "foreign.mp4", world.clip.read_bytes(), cookie=alice.cookie, origin=EVIL
    )
    answers = {
        "prep-hls": prep.status_code,
        "logout": logout.status_code,
        "login": login.status_code,
        "/_upload": upload.status if upload else "no answer",
    }
    assert all(status == 403 for status in answers.values()), f"POSTs from {EVIL} not refused with 403: {answers}"
    assert alice.status(target).json()["state"] == "not_ready", "the foreign Prep started a production"
    assert spare.get("/api/auth/me").status_code == 200, "the foreign logout ended alice's session"
    assert "set-cookie" not in login.headers, "the foreign login started a session"
    assert upload_rows(world.app) == rows and stored_uploads(world.app) == files, "the foreign upload stored a file"
