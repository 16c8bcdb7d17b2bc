"""Members and sessions: argon2 hashes, revocation, expiry, CSRF double submit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from exports_app.domain import utcnow
from exports_app.models import AuthSession, User
from exports_app.services import auth
from exports_app.services.errors import Invalid

pytestmark = pytest.mark.server_db  # re-run on MariaDB and PostgreSQL by `make test`


def test_passwords_are_argon2_hashes(session: Session) -> None:
    auth.create_user(session=session, username="erin", password="long enough pw")
    stored = session.exec(select(User)).one().password_hash
    assert stored.startswith("$argon2") and "long enough pw" not in stored
    assert auth.authenticate(session=session, username="erin", password="long enough pw") is not None
    assert auth.authenticate(session=session, username="erin", password="wrong password") is None
    assert auth.authenticate(session=session, username="nobody", password="long enough pw") is None


@pytest.mark.parametrize(("name", "password"), [("", "long enough"), ("x" * 65, "long enough"), ("ok", "short")])
def test_create_user_refuses_bad_input(session: Session, name: str, password: str) -> None:
    with pytest.raises(Invalid):
        auth.create_user(session=session, username=name, password=password)


def test_duplicate_username_is_refused(session: Session) -> None:
    auth.create_user(session=session, username="erin", password="long enough pw")
    with pytest.raises(Invalid, match="already exists"):
        auth.create_user(session=session, username="erin", password="another password")


def test_cookie_holds_a_token_whose_hash_is_stored(session: Session) -> None:
    member = auth.create_user(session=session, username="erin", password="long enough pw")
    signin = auth.start_session(session=session, member=member, days=1)
    row = session.exec(select(AuthSession)).one()
    assert row.token_hash != signin.token and len(row.token_hash) == 64
    assert auth.member_for_token(session=session, token=signin.token) == member


def test_revoked_and_expired_sessions_sign_out(session: Session) -> None:
    member = auth.create_user(session=session, username="erin", password="long enough pw")
    revoked = auth.start_session(session=session, member=member, days=1)
    auth.end_session(session=session, token=revoked.token)
    assert auth.member_for_token(session=session, token=revoked.token) is None
    expired = auth.start_session(session=session, member=member, days=1)
    row = session.exec(select(AuthSession).where(AuthSession.revoked_at.is_(None))).one()  # type: ignore[union-attr]
    row.expires_at = utcnow() - timedelta(seconds=1)
    session.add(row)
    session.flush()
    assert auth.member_for_token(session=session, token=expired.token) is None
    assert auth.purge_expired_sessions(session=session) == 1


def test_csrf_needs_cookie_header_and_session_to_agree(session: Session) -> None:
    member = auth.create_user(session=session, username="erin", password="long enough pw")
    s = auth.start_session(session=session, member=member, days=1)
    assert auth.csrf_matches(session=session, token=s.token, csrf_cookie=s.csrf_token, csrf_header=s.csrf_token)
    assert not auth.csrf_matches(session=session, token=s.token, csrf_cookie=s.csrf_token, csrf_header=None)
    assert not auth.csrf_matches(session=session, token=s.token, csrf_cookie="forged", csrf_header="forged")
    assert not auth.csrf_matches(session=session, token=None, csrf_cookie=s.csrf_token, csrf_header=s.csrf_token)
