"""Per-member quotas: the lock under which a create counts the member's rows, and the words of a reached cap.

Each cap is a setting (config.py; SECURITY.md lists them with where each is enforced). The services that make the
rows (publish.create_space, exports.import_export, auth.start_session) count under lock_member, so creates of one
member on any worker or host take turns and never pass a cap together.
"""

from __future__ import annotations

import math
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import Session, col

from exports_app.models import User


def lock_member(*, session: Session, member_id: int) -> None:
    """Hold the member's row lock until the transaction ends.

    An UPDATE takes the row lock on every database (and SQLite's write lock), unlike FOR UPDATE, which SQLite
    ignores; it writes the username over itself, so nothing changes.
    """
    session.execute(
        sa.update(User)
        .where(col(User.id) == member_id)
        .values(username=col(User.username))
        .execution_options(synchronize_session=False)
    )


Statement = TypeVar("Statement", bound=sa.Select[Any])


def latest(session: Session, statement: Statement, *, locked: bool = True) -> Statement:
    """statement read as of now, under a lock (the member's, an export's row), not as of the transaction's first read.

    MySQL and MariaDB (REPEATABLE READ by default) read the snapshot of a transaction's first read, so a count made
    after waiting for the lock would miss the rows the lock's previous holder added; a locking read (LOCK IN SHARE
    MODE) reads the latest. PostgreSQL (READ COMMITTED) and SQLite (one writer at a time) read the latest anyway.
    locked=False, a check before the lock is taken: the statement as it is, a read that locks nothing (a locking
    read there would deadlock two creates on MySQL when each then waits for the member's lock).
    """
    if locked and session.get_bind().dialect.name in ("mysql", "mariadb"):
        return statement.with_for_update(read=True)
    return statement


def count_of(number: int, noun: str) -> str:
    """ "1 space", "5,000 exports"."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def at_most(cap: int, noun: str) -> str:
    """ "You have 500 spaces, the most a member can have." """
    return f"You have {count_of(cap, noun)}, the most a member can have."


def come_back_in(seconds: float) -> str:
    """ "Try again in 12 minutes." (whole minutes, rounded up: never sooner than it frees up)."""
    return f"Try again in {count_of(max(1, math.ceil(seconds / 60)), 'minute')}."
