"""Server faults through the API: a full disk and a low one (a real tmpfs), answered 503 with words, nothing lost."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from exports_app.api.app import create_api
from exports_app.db import session_scope
from exports_app.models import MediaJob
from exports_app.services.auth import Member
from exports_app.storage_faults import STORAGE_FULL_MESSAGE
from tests.support.api_client import log_in
from tests.support.records import PASSWORD, add_upload, make_member
from tests.support.tmpfs import fill, full_disk_data_dir  # noqa: F401  (a fixture)

# ruff: noqa: F811  (test parameters named after the fixtures imported above)


def assert_503(response: httpx.Response, message: str) -> None:
    assert response.status_code == 503, response.text
    assert response.json() == {"error": message}
    assert int(response.headers["retry-after"]) > 0


def test_sign_in_on_a_full_disk_is_503_and_works_once_room_is_back(full_disk_data_dir: Path) -> None:
    make_member("carol")
    client = TestClient(create_api(), base_url="http://testserver")
    ballast = fill(full_disk_data_dir)
    response = client.post("/api/auth/login", json={"username": "carol", "password": PASSWORD})
    assert_503(response, STORAGE_FULL_MESSAGE)
    ballast.unlink()
    log_in(client, "carol")  # nothing was lost: the member is there and signs in
    assert client.get("/api/auth/me").json()["member"]["username"] == "carol"


def test_prep_below_the_free_space_minimum_is_refused_up_front(
    alice_client: TestClient, alice: Member, monkeypatch: pytest.MonkeyPatch
) -> None:
    from exports_app import config

    upload_id = add_upload(alice)
    monkeypatch.setenv("EXPORTS_MIN_FREE_BYTES", str(2**62))  # more than any disk here has free
    config.get_settings.cache_clear()
    assert_503(alice_client.post(f"/api/exports/{upload_id}/prep-hls"), STORAGE_FULL_MESSAGE)
    with session_scope() as session:
        assert session.query(MediaJob).count() == 0, "no job was queued"
    monkeypatch.setenv("EXPORTS_MIN_FREE_BYTES", "0")
    config.get_settings.cache_clear()
    assert alice_client.post(f"/api/exports/{upload_id}/prep-hls").json()["state"] == "in_progress"
