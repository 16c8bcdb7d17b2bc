"""Sign-in over HTTP: cookies, me, logout revocation, CSRF and origin refusals, fixation."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from exports_app.services.auth import Member

pytestmark = pytest.mark.server_db  # re-run on MariaDB and PostgreSQL by `make test`


def test_login_sets_httponly_session_and_readable_csrf(api: TestClient, alice: Member) -> None:
    response = api.post("/api/auth/login", json={"username": "alice", "password": "correct horse battery"})
    assert response.status_code == 200
    cookies = response.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith("exports_session="))
    csrf_cookie = next(c for c in cookies if c.startswith("csrf_token="))
    assert "HttpOnly" in session_cookie and "samesite=lax" in session_cookie.lower()
    assert "HttpOnly" not in csrf_cookie
    assert api.get("/api/auth/me").json() == {"member": {"id": alice.id, "username": "alice"}}


def test_bad_credentials_are_401_json(api: TestClient, alice: Member) -> None:
    for body in ({"username": "alice", "password": "wrong password"}, {"username": "nobody", "password": "x"}):
        response = api.post("/api/auth/login", json=body)
        assert response.status_code == 401
        assert response.json() == {"error": "Wrong username or password."}


def test_malformed_login_is_422_json(api: TestClient) -> None:
    response = api.post("/api/auth/login", content=b"not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and "error" in response.json()
    response = api.post("/api/auth/login", json={"username": "ali\x00ce", "password": "x"})
    assert response.status_code == 422 and "error" in response.json()


def test_me_signed_out_is_401(api: TestClient) -> None:
    response = api.get("/api/auth/me")
    assert response.status_code == 401 and response.json() == {"error": "Not signed in."}


def test_logout_revokes_the_session_server_side(alice_client: TestClient) -> None:
    token = alice_client.cookies["exports_session"]
    assert alice_client.post("/api/auth/logout").status_code == 200
    # Replaying the old cookie after logout is refused: the session is revoked, not just forgotten.
    alice_client.cookies.set("exports_session", token)
    assert alice_client.get("/api/auth/me").status_code == 401


def test_login_never_adopts_a_planted_session(api: TestClient, alice: Member) -> None:
    response = api.post(
        "/api/auth/login",
        json={"username": "alice", "password": "correct horse battery"},
        cookies={"exports_session": "attacker-chosen"},
    )
    issued = next(c for c in response.headers.get_list("set-cookie") if c.startswith("exports_session="))
    assert not issued.startswith("exports_session=attacker-chosen;")
    api.cookies.clear()
    api.cookies.set("exports_session", "attacker-chosen")
    assert api.get("/api/auth/me").status_code == 401


def test_cross_origin_login_is_403(api: TestClient, alice: Member) -> None:
    response = api.post(
        "/api/auth/login",
        json={"username": "alice", "password": "correct horse battery"},
        headers={"Origin": "http://evil.example"},
    )
    assert response.status_code == 403


def test_failed_logins_are_throttled_per_account(api: TestClient, alice: Member, bob: Member) -> None:
    for _ in range(10):
        assert api.post("/api/auth/login", json={"username": "alice", "password": "wrong password"}).status_code == 401
    blocked = api.post("/api/auth/login", json={"username": "alice", "password": "correct horse battery"})
    assert blocked.status_code == 429 and "Too many failed sign-ins" in blocked.json()["error"]
    # Another account from the same address is not locked out by alice's failures.
    assert api.post("/api/auth/login", json={"username": "bob", "password": "correct horse battery"}).status_code == 200


def test_throttle_counts_account_with_address_and_window_expires(session: Session) -> None:
    from datetime import timedelta

    import sqlalchemy as sa

    from exports_app.domain import utcnow
    from exports_app.models import LoginFailure
    from exports_app.services import throttle

    for _ in range(throttle.MAX_FAILURES_PER_ACCOUNT_ADDRESS):
        throttle.record_failure(session=session, username="X", address="1.2.3.4")
    session.flush()
    assert throttle.retry_after(session=session, username="x", address="1.2.3.4") > 0
    assert throttle.retry_after(session=session, username="x", address="5.6.7.8") == 0  # the owner, from elsewhere
    assert throttle.retry_after(session=session, username="y", address="1.2.3.4") == 0
    # A time computed here, not `failed_at - interval` in SQL: MySQL/MariaDB take that for arithmetic on numbers.
    session.execute(sa.update(LoginFailure).values(failed_at=utcnow() - timedelta(seconds=throttle.WINDOW_SECONDS + 1)))
    assert throttle.retry_after(session=session, username="x", address="1.2.3.4") == 0
    assert throttle.purge_old_failures(session=session) == throttle.MAX_FAILURES_PER_ACCOUNT_ADDRESS


def test_throttle_per_address_across_accounts(session: Session) -> None:
    from exports_app.services import throttle

    for i in range(throttle.MAX_FAILURES_PER_ADDRESS):
        throttle.record_failure(session=session, username=f"user{i}", address="9.9.9.9")
    session.flush()
    assert throttle.retry_after(session=session, username="anyone", address="9.9.9.9") > 0
    assert throttle.retry_after(session=session, username="anyone", address="9.9.9.8") == 0


def test_throttle_counts_an_ipv6_client_by_its_64(session: Session) -> None:
    """One IPv6 subscriber has 2^64 addresses: failures from all of them count together; the next /64 is
    someone else; an IPv4-mapped address is the IPv4 client."""
    from exports_app.services import throttle

    for i in range(throttle.MAX_FAILURES_PER_ACCOUNT_ADDRESS):
        throttle.record_failure(session=session, username="x", address=f"2001:db8:1:2:{i:x}::{i + 1:x}")
        throttle.record_failure(session=session, username="y", address=f"::ffff:192.0.2.{i + 1}")
        throttle.record_failure(session=session, username="y", address="192.0.2.77")
    session.flush()
    assert throttle.retry_after(session=session, username="x", address="2001:db8:1:2:ffff:ffff:ffff:ffff") > 0
    assert throttle.retry_after(session=session, username="x", address="2001:db8:1:3::1") == 0
    assert throttle.retry_after(session=session, username="y", address="192.0.2.77") > 0
    assert throttle.retry_after(session=session, username="y", address="::ffff:192.0.2.77") > 0
    assert throttle.client_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert throttle.client_key("2001:DB8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert throttle.client_key("unknown") == "unknown"
