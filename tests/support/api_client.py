"""The HTTP API as a test client sees it: a member signed in, with the CSRF header every write needs."""

from __future__ import annotations

from fastapi.testclient import TestClient

from exports_app.db import session_scope
from exports_app.services import auth
from tests.support.records import PASSWORD


def sign_in(client: TestClient, username: str) -> TestClient:
    """The client signed in as `username`, with a session started as POST /api/auth/login starts one once the
    password matched. The route itself, with its argon2 check, is tested on its own (test_auth_api, log_in): a check
    costs a quarter second of CPU, and hundreds of tests only need a member signed in."""
    with session_scope() as s:
        member = auth.find_member(session=s, username=username)
        assert member is not None, f"no member {username!r}"
        signin = auth.start_session(session=s, member=member, days=1)
    client.cookies.set(auth.SESSION_COOKIE, signin.token)
    client.cookies.set(auth.CSRF_COOKIE, signin.csrf_token)
    client.headers["X-CSRF-Token"] = signin.csrf_token
    return client


def log_in(client: TestClient, username: str) -> TestClient:
    """The client signed in as `username` through POST /api/auth/login with PASSWORD."""
    response = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    client.headers["X-CSRF-Token"] = client.cookies["csrf_token"]
    return client
