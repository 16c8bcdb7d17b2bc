"""API fixtures: an ASGI client of the FastAPI app, signed-in clients, export rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from exports_app.api.app import create_api
from exports_app.services.auth import Member
from tests.support.api_client import sign_in


@pytest.fixture
def api(data_dir: Path) -> TestClient:
    return TestClient(create_api(), base_url="http://testserver")


@pytest.fixture
def alice_client(api: TestClient, alice: Member) -> TestClient:
    return sign_in(api, "alice")


@pytest.fixture
def bob_client(data_dir: Path, bob: Member) -> TestClient:
    return sign_in(TestClient(create_api(), base_url="http://testserver"), "bob")
