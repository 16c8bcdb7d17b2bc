"""Sign-in throttling in the database: failures counted per account+address and per address, by every worker.

An attacker's failures never lock the owner out from another address: the account is only ever
counted together with the address the failures came from.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col

from exports_app.domain import utcnow
from exports_app.models import LoginFailure

WINDOW_SECONDS = 300.0
MAX_FAILURES_PER_ACCOUNT_ADDRESS = 10
MAX_FAILURES_PER_ADDRESS = 50


def _keys(username: str, address: str) -> tuple[str, str]:
    return username.strip().lower()[:64], address[:64]


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


def retry_after(*, session: Session, username: str, address: str) -> int:
    """Whole seconds until this account may be tried from this address again; 0 when allowed now."""
    account, addr = _keys(username, address)
    now = utcnow()
    wait = max(
        _wait(session, sa.and_(col(LoginFailure.account) == account, col(LoginFailure.address) == addr),
              MAX_FAILURES_PER_ACCOUNT_ADDRESS, now),
        _wait(session, col(LoginFailure.address) == addr, MAX_FAILURES_PER_ADDRESS, now),
    )
    return math.ceil(wait) if wait > 0 else 0


def record_failure(*, session: Session, username: str, address: str) -> None:
    account, addr = _keys(username, address)
    session.add(LoginFailure(account=account, address=addr, failed_at=utcnow()))


def clear_failures(*, session: Session, username: str, address: str) -> None:
    """A successful sign-in forgets that account's failures from that address."""
    account, addr = _keys(username, address)
    session.execute(sa.delete(LoginFailure).where(col(LoginFailure.account) == account,
                                                  col(LoginFailure.address) == addr))


def purge_old_failures(*, session: Session) -> int:
    """Drop failures older than the window (housekeeping)."""
    since = utcnow() - timedelta(seconds=WINDOW_SECONDS)
    return int(session.exec(sa.delete(LoginFailure).where(col(LoginFailure.failed_at) <= since)).rowcount or 0)
