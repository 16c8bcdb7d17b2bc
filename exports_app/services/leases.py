"""Leases in the database: at most one live holder per name, taken over once the holder stops renewing.

Expiry is judged by the database's clock alone (`db.utc_now_plus`), never a host's: hosts whose clocks differ by more
than a lease would otherwise each see the other's lease as expired and both lead."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col

from exports_app.db import utc_now_plus
from exports_app.models import Lease


def acquire(*, session: Session, name: str, holder: str, ttl_seconds: float) -> bool:
    """Take or renew the lease; True while holder has it. Commits (a lease must be visible at once)."""
    expires = utc_now_plus(ttl_seconds)
    renewed = session.exec(
        sa.update(Lease)
        .where(col(Lease.name) == name, sa.or_(col(Lease.holder) == holder, col(Lease.expires_at) < utc_now_plus(0)))
        .values(holder=holder, expires_at=expires)
    )
    if renewed.rowcount:
        session.commit()
        return True
    session.rollback()
    try:
        session.execute(sa.insert(Lease).values(name=name, holder=holder, expires_at=expires))
        session.commit()
        return True
    except sa.exc.IntegrityError:  # someone else holds it (or took it first)
        session.rollback()
        return False


def release(*, session: Session, name: str, holder: str) -> None:
    session.execute(sa.delete(Lease).where(col(Lease.name) == name, col(Lease.holder) == holder))
    session.commit()
