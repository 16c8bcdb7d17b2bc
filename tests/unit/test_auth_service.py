"""Members and sessions: argon2 hashes, revocation, expiry, CSRF double submit."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from exports_app.db import session_scope
from exports_app.domain import utcnow
from exports_app.models import AuthSession, LoginFailure, User
from exports_app.services import auth, throttle
from exports_app.services.auth import Member
from exports_app.services.errors import Invalid
from tests.support.records import PASSWORD

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
    row = session.exec(select(AuthSession).where(col(AuthSession.revoked_at).is_(None))).one()
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


GUESSES = 30


def _parallel_sign_ins(username: str, passwords: list[str], address: str) -> list[auth.SignIn | auth.Refusal]:
    """Every sign-in at once, each in its own thread and transaction (as the API's threadpool runs them)."""
    start = threading.Barrier(len(passwords))

    def one(password: str) -> auth.SignIn | auth.Refusal:
        start.wait()
        with session_scope() as s:
            return auth.sign_in(
                session=s, username=username, password=password, address=address, planted_token=None, days=1
            )

    with ThreadPoolExecutor(len(passwords)) as pool:
        return list(pool.map(one, passwords))


def test_parallel_wrong_passwords_are_counted_before_they_are_checked(alice: Member) -> None:
    """30 guesses at once from one address: at most the limit get their password checked (a 401); the rest are
    429 with a wait, and only the checked ones stay counted (on main: 22 of 30 checked)."""
    answers = _parallel_sign_ins("alice", [f"guess {n}" for n in range(GUESSES)], "203.0.113.5")
    statuses = [a.status if isinstance(a, auth.Refusal) else 200 for a in answers]
    checked = statuses.count(401)
    assert set(statuses) <= {401, 429}, statuses
    # At most the limit; possibly none: when all claims commit before any counts, each sees 29 others.
    assert checked <= throttle.MAX_FAILURES_PER_ACCOUNT_ADDRESS, statuses
    assert all(a.retry_after for a in answers if isinstance(a, auth.Refusal) and a.status == 429)
    with session_scope() as s:
        assert len(s.exec(select(LoginFailure)).all()) == checked
    with session_scope() as s:  # the owner from elsewhere is not locked out
        assert isinstance(
            auth.sign_in(
                session=s, username="alice", password=PASSWORD, address="198.51.100.1", planted_token=None, days=1
            ),
            auth.SignIn,
        )


def test_password_hashing_waits_for_a_slot_then_refuses_unchecked(
    alice: Member, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every hashing slot taken, even the right password is not checked: 429 with Retry-After, and the
    attempt is not counted as a failure."""
    monkeypatch.setattr(auth, "HASHING_WAIT_SECONDS", 0.05)
    with ExitStack() as slots:
        for _ in range(auth.HASHING_SLOTS):
            slots.enter_context(auth.hashing_slot())
        with session_scope() as s:
            answer = auth.sign_in(
                session=s, username="alice", password=PASSWORD, address="203.0.113.6", planted_token=None, days=1
            )
    assert isinstance(answer, auth.Refusal) and answer.status == 429 and answer.retry_after, answer
    with session_scope() as s:
        assert s.exec(select(LoginFailure)).all() == [] and s.exec(select(AuthSession)).all() == []
        assert isinstance(
            auth.sign_in(
                session=s, username="alice", password=PASSWORD, address="203.0.113.6", planted_token=None, days=1
            ),
            auth.SignIn,
        )  # slots free again
