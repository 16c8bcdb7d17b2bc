"""API fixtures: an ASGI client of the FastAPI app, signed-in clients, export rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from exports_app.api.app import create_api
from exports_app.db import session_scope
from exports_app.models import Upload
from exports_app.services.auth import Member
from tests.conftest import PASSWORD


def add_upload(member: Member, role: str = "export", title: str = "Clip", **fields: object) -> int:
    """An upload row without a file (for routes that never read it)."""
    with session_scope() as s:
        upload = Upload(user_id=member.id, video_role=role, title=title, filename="clip.mp4",
                        storage_key=f"uploads/{member.id}/x/clip.mp4", size_bytes=1000, duration_seconds=2.0,
                        width=320, height=240, **fields)
        s.add(upload)
        s.flush()
        assert upload.id is not None
        return upload.id


def sign_in(client: TestClient, username: str) -> TestClient:
    response = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    client.headers["X-CSRF-Token"] = client.cookies["csrf_token"]
    return client


@pytest.fixture
def api(data_dir: Path) -> TestClient:
    return TestClient(create_api(), base_url="http://testserver")


@pytest.fixture
def alice_client(api: TestClient, alice: Member) -> TestClient:
    return sign_in(api, "alice")


@pytest.fixture
def bob_client(data_dir: Path, bob: Member) -> TestClient:
    return sign_in(TestClient(create_api(), base_url="http://testserver"), "bob")
