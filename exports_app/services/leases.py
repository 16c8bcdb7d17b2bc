"""Leases in the database: at most one live holder per name, taken over once the holder stops renewing."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import Session, col

from exports_app.domain import utcnow
from exports_app.models import Lease


def acquire(*, session: Session, name: str, holder: str, ttl_seconds: float) -> bool:
    """Take or renew the lease; True while holder has it. Commits (a lease must be visible at once)."""
    now = utcnow()
    expires = now + timedelta(seconds=ttl_seconds)
    renewed = session.exec(
        sa.update(Lease)
        .where(col(Lease.name) == name, sa.or_(col(Lease.holder) == holder, col(Lease.expires_at) < now))
        .values(holder=holder, expires_at=expires)
    )
    if renewed.rowcount:
        session.commit()
        return True
    session.rollback()
    try:
        session.add(Lease(name=name, holder=holder, expires_at=expires))
        session.commit()
        return True
    except sa.exc.IntegrityError:  # someone else holds it (or took it first)
        session.rollback()
        return False


def release(*, session: Session, name: str, holder: str) -> None:
    session.execute(sa.delete(Lease).where(col(Lease.name) == name, col(Lease.holder) == holder))
    session.commit()
