"""Per-member quotas: the lock under which a create counts the member's rows, and the words of a reached cap.

Each cap is a setting (config.py; SECURITY.md lists them with where each is enforced). The services that make the
rows (publish.create_space, exports.import_export, auth.start_session) count under lock_member, so creates of one
member on any worker or host take turns and never pass a cap together. The count made after the lock sees what the
lock's previous holder committed: every database runs READ COMMITTED (db.make_engine), MySQL and MariaDB included.
"""

from __future__ import annotations

import math

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


def count_of(number: int, noun: str) -> str:
    """ "1 space", "5,000 exports"."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def at_most(cap: int, noun: str) -> str:
    """ "You have 500 spaces, the most a member can have." """
    return f"You have {count_of(cap, noun)}, the most a member can have."


def come_back_in(seconds: float) -> str:
    """ "Try again in 12 minutes." (whole minutes, rounded up: never sooner than it frees up)."""
    return f"Try again in {count_of(max(1, math.ceil(seconds / 60)), 'minute')}."
