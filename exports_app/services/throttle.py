"""Sign-in throttling in the database: failures counted per account+address and per address, by every worker.

An attacker's failures never lock the owner out from another address: the account is only ever
counted together with the address the failures came from. An IPv6 client is counted by its /64 (one subscriber's
prefix holds 2^64 addresses), an IPv4-mapped IPv6 address as the IPv4 address it is.

Each attempt is recorded as a failure *before* its password is checked (`claim`), and committed, so parallel
guesses see each other: the k-th attempt to commit sees at least k-1 others, so at most the limit get through.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col

from exports_app.domain import utcnow
from exports_app.models import LoginFailure

WINDOW_SECONDS = 300.0
MAX_FAILURES_PER_ACCOUNT_ADDRESS = 10
MAX_FAILURES_PER_ADDRESS = 50


def client_key(address: str) -> str:
    """Whom an address counts as: IPv4 as is, IPv6 by its /64, IPv4-mapped IPv6 as the IPv4 address."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address[:64]  # not an address (e.g. "unknown"): counted as given
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def _keys(username: str, address: str) -> tuple[str, str]:
    return username.strip().lower()[:64], client_key(address)


def _wait(session: Session, where: sa.ColumnElement[bool], limit: int, now: datetime) -> float:
    """Seconds until fewer than limit failures matching where remain in the window (0 if already fewer)."""
    since = now - timedelta(seconds=WINDOW_SECONDS)
    recent = (
        sa.select(col(LoginFailure.failed_at))
        .where(where, col(LoginFailure.failed_at) > since)
        .order_by(col(LoginFailure.failed_at).desc())
        .limit(limit)
    )
    times: list[datetime] = list(session.execute(recent).scalars())
    if len(times) < limit:
        return 0.0
    return (times[-1] + timedelta(seconds=WINDOW_SECONDS) - now).total_seconds()


def retry_after(*, session: Session, username: str, address: str, besides: int | None = None) -> int:
    """Whole seconds until this account may be tried from this address again; 0 when allowed now.

    besides: the id of the caller's own claimed attempt, which does not count against itself.
    """
    account, addr = _keys(username, address)
    now = utcnow()
    others = col(LoginFailure.id) != besides if besides is not None else sa.true()
    wait = max(
        _wait(
            session,
            sa.and_(col(LoginFailure.account) == account, col(LoginFailure.address) == addr, others),
            MAX_FAILURES_PER_ACCOUNT_ADDRESS,
            now,
        ),
        _wait(session, sa.and_(col(LoginFailure.address) == addr, others), MAX_FAILURES_PER_ADDRESS, now),
    )
    return math.ceil(wait) if wait > 0 else 0


def record_failure(*, session: Session, username: str, address: str) -> LoginFailure:
    account, addr = _keys(username, address)
    row = LoginFailure(account=account, address=addr, failed_at=utcnow())
    session.add(row)
    return row


@dataclass(frozen=True)
class Claim:
    """An attempt recorded as a failure before its password is checked: allowed, or refused for wait seconds."""

    attempt_id: int
    wait: int


def claim(*, session: Session, username: str, address: str) -> Claim:
    """Record this attempt (committed, so every parallel attempt sees it), then count the others before it.

    A refused attempt is withdrawn at once (`withdraw`): only attempts whose password was checked stay counted.
    """
    row = record_failure(session=session, username=username, address=address)
    session.commit()
    assert row.id is not None
    wait = retry_after(session=session, username=username, address=address, besides=row.id)
    session.commit()  # ends the read: no connection is held while the password waits for a hashing slot
    return Claim(row.id, wait)


def withdraw(*, session: Session, attempt_id: int) -> None:
    """Forget a claimed attempt whose password was not checked (throttled, or no hashing slot free)."""
    session.execute(sa.delete(LoginFailure).where(col(LoginFailure.id) == attempt_id))


def clear_failures(*, session: Session, username: str, address: str) -> None:
    """A successful sign-in forgets that account's failures from that address."""
    account, addr = _keys(username, address)
    session.execute(
        sa.delete(LoginFailure).where(col(LoginFailure.account) == account, col(LoginFailure.address) == addr)
    )


def purge_old_failures(*, session: Session) -> int:
    """Drop failures older than the window (housekeeping)."""
    since = utcnow() - timedelta(seconds=WINDOW_SECONDS)
    return int(session.exec(sa.delete(LoginFailure).where(col(LoginFailure.failed_at) <= since)).rowcount or 0)
