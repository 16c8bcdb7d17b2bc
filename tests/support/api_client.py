"""The HTTP API as a test client sees it: a member signed in, with the CSRF header every write needs."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.support.records import PASSWORD


def sign_in(client: TestClient, username: str) -> TestClient:
    response = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    client.headers["X-CSRF-Token"] = client.cookies["csrf_token"]
    return client
