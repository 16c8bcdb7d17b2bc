"""Members and sign-in: argon2 password hashes and revocable server-side sessions."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, select

from exports_app.config import get_settings
from exports_app.domain import utcnow
from exports_app.models import AuthSession, User
from exports_app.services import queries, quotas, throttle
from exports_app.services.errors import Invalid

SESSION_COOKIE = "exports_session"
CSRF_COOKIE = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verifying against this keeps the time of an unknown-username login like a known one. Made on first use, not
    at import: every process that imports the services (each command-line call, each worker) would pay a hash."""
    return _hasher.hash(secrets.token_hex(16))


# Each argon2 hash takes 64 MiB for its duration: at most this many run at once in a process, so a burst of
# sign-ins costs at most HASHING_SLOTS * 64 MiB. The rest wait up to HASHING_WAIT_SECONDS for a slot, then are
# told to come back (429) without their password being checked.
HASHING_SLOTS = 2
HASHING_WAIT_SECONDS = 5.0
HASHING_RETRY_SECONDS = 2
_hashing_slots = threading.BoundedSemaphore(HASHING_SLOTS)


class HashingBusy(Exception):
    """Every hashing slot stayed taken for HASHING_WAIT_SECONDS."""


@contextmanager
def hashing_slot() -> Iterator[None]:
    """Hold one of the process's password-hashing slots (HashingBusy when none frees up in time)."""
    if not _hashing_slots.acquire(timeout=HASHING_WAIT_SECONDS):
        raise HashingBusy
    try:
        yield
    finally:
        _hashing_slots.release()


@dataclass(frozen=True)
class Member:
    """The signed-in member as every caller sees it."""

    id: int
    username: str


@dataclass(frozen=True)
class SignIn:
    """A fresh session: the cookie token (shown once) and its CSRF token."""

    member: Member
    token: str
    csrf_token: str
    max_age_seconds: int


def token_hash(token: str) -> str:
    """What the sessions table stores of a cookie token (never the token itself)."""
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    """The argon2 hash of a password, made in a hashing slot."""
    with hashing_slot():
        return _hasher.hash(password)


def create_user(*, session: Session, username: str, password: str) -> Member:
    username = username.strip()
    if not username or len(username) > 64:
        raise Invalid("A username needs 1 to 64 characters.")
    if len(password) < 8:
        raise Invalid("A password needs at least 8 characters.")
    if session.exec(select(User).where(User.username == username)).first():
        raise Invalid(f"User {username!r} already exists.")
    user = User(username=username, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    assert user.id is not None
    return Member(user.id, user.username)


def find_member(*, session: Session, username: str) -> Member | None:
    user = session.exec(select(User).where(User.username == username)).first()
    return Member(user.id, user.username) if user and user.id is not None else None


def authenticate(*, session: Session, username: str, password: str) -> Member | None:
    """The member if the password matches, else None (same work either way).

    Raises HashingBusy when no hashing slot frees up in time (the password was not checked).
    """
    with hashing_slot():  # taken before the query, so no waiting sign-in holds a database connection
        user = session.exec(select(User).where(User.username == username)).first()
        try:
            _hasher.verify(user.password_hash if user else _dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            return None
        if user is None or user.id is None:
            return None
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
            session.add(user)
    return Member(user.id, user.username)


@dataclass(frozen=True)
class Refusal:
    """A sign-in that did not happen: the HTTP status, the line to show and, for 429, when to come back."""

    status: int
    message: str
    retry_after: int | None = None


def sign_in(
    *, session: Session, username: str, password: str, address: str, planted_token: str | None, days: int
) -> SignIn | Refusal:
    """Throttle, check the password, count a failure or start a fresh session (the planted one ends).

    The attempt is counted as a failure (and committed) before the password is checked, so parallel guesses
    count against each other; a throttled or unchecked attempt is withdrawn, a right password clears it.
    Returns a Refusal rather than raising, so the caller commits the failure it counted.
    """
    claim = throttle.claim(session=session, username=username, address=address)
    if claim.wait:
        throttle.withdraw(session=session, attempt_id=claim.attempt_id)
        return Refusal(429, f"Too many failed sign-ins. Try again in {claim.wait} s.", claim.wait)
    try:
        member = authenticate(session=session, username=username, password=password)
    except HashingBusy:
        throttle.withdraw(session=session, attempt_id=claim.attempt_id)
        return Refusal(429, f"The server is busy. Try again in {HASHING_RETRY_SECONDS} s.", HASHING_RETRY_SECONDS)
    if member is None:
        return Refusal(401, "Wrong username or password.")  # the claimed attempt stays: a counted failure
    throttle.clear_failures(session=session, username=username, address=address)
    end_session(session=session, token=planted_token)  # a planted session cookie is never reused
    return start_session(session=session, member=member, days=days)


def start_session(*, session: Session, member: Member, days: int) -> SignIn:
    """A new session for member; a new token every sign-in, so a planted cookie is never adopted.

    The member keeps their newest EXPORTS_MAX_SESSIONS_PER_MEMBER live sessions: this one ends the oldest beyond.
    """
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    quotas.lock_member(session=session, member_id=member.id)  # sign-ins at once count one after another
    now = utcnow()
    session.add(
        AuthSession(
            token_hash=token_hash(token),
            user_id=member.id,
            csrf_token=csrf,
            created_at=now,
            expires_at=now + timedelta(days=days),
        )
    )
    session.flush()
    _end_sessions_beyond(session, member, get_settings().max_sessions_per_member, now)
    return SignIn(member, token, csrf, days * 86400)


def _end_sessions_beyond(session: Session, member: Member, kept: int, now: datetime) -> None:
    """Revoke the member's live sessions but the newest `kept` (their tabs are signed out at their next event)."""
    live = (col(AuthSession.user_id) == member.id, queries.live_session(now))
    newest_first = col(AuthSession.created_at).desc(), col(AuthSession.id).desc()
    oldest = session.exec(select(AuthSession.id).where(*live).order_by(*newest_first).offset(kept)).all()
    if oldest:
        session.execute(sa.update(AuthSession).where(col(AuthSession.id).in_(oldest)).values(revoked_at=now))


def _live_session(session: Session, token: str | None) -> AuthSession | None:
    if not token:
        return None
    return session.exec(
        select(AuthSession).where(AuthSession.token_hash == token_hash(token), queries.live_session(utcnow()))
    ).first()


def member_for_token(*, session: Session | sa.Connection, token: str | None) -> Member | None:
    """The member a session cookie belongs to, or None if it is unknown, expired or revoked.

    On a plain connection (db.read_connection) where it runs for every event of every tab: an ORM session around
    the one statement (its transaction bookkeeping, the ORM's execute path) cost more than the statement itself.
    """
    if not token:
        return None
    # One statement built once (queries.MEMBER_OF_SESSION): it runs for every event of every tab, thousands in a
    # connect rush, where building it and the ORM's work around it cost four times the query.
    found = session.execute(queries.MEMBER_OF_SESSION, {"token_hash": token_hash(token), "now": utcnow()}).first()
    return Member(found.id, found.username) if found else None


def csrf_matches(*, session: Session, token: str | None, csrf_cookie: str | None, csrf_header: str | None) -> bool:
    """Double-submit check: the header equals the cookie, and both equal the session's own token."""
    row = _live_session(session, token)
    if row is None or not csrf_cookie or not csrf_header:
        return False
    return hmac.compare_digest(csrf_cookie, csrf_header) and hmac.compare_digest(csrf_header, row.csrf_token)


def end_session(*, session: Session, token: str | None) -> None:
    """Revoke the session; later requests with that cookie are signed out."""
    row = _live_session(session, token)
    if row is not None:
        row.revoked_at = utcnow()
        session.add(row)


def purge_expired_sessions(*, session: Session) -> int:
    result = session.exec(sa.delete(AuthSession).where(col(AuthSession.expires_at) <= utcnow()))
    return int(result.rowcount or 0)


def live_sessions(*, session: Session, fingerprints: set[str]) -> set[str]:
    """Which of these session fingerprints (token hashes) belong to sessions that are neither revoked nor expired."""
    return set(members_of_sessions(session=session, fingerprints=fingerprints))


def members_of_sessions(*, session: Session, fingerprints: set[str]) -> dict[str, Member]:
    """The member of each of these session fingerprints whose session is neither revoked nor expired."""
    if not fingerprints:
        return {}
    rows = session.execute(queries.MEMBERS_OF_SESSIONS, {"token_hashes": sorted(fingerprints), "now": utcnow()})
    return {row.token_hash: Member(row.id, row.username) for row in rows}
