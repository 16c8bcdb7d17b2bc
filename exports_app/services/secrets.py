"""Server-side secrets: one app key (EXPORTS_SECRET_KEY, else made once in the database) and what derives from it.

The key lives in the database by default so every worker and host sharing the database derives the same
shared-state tokens without extra configuration.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import lru_cache

import sqlalchemy as sa
from sqlmodel import Session

from exports_app.config import get_settings
from exports_app.db import session_scope
from exports_app.models import AppSecret

APP_KEY = "app-key"


def _stored_key(session: Session) -> str:
    """The database's app key, made on first use; a concurrent first use by another process wins the race."""
    row = session.get(AppSecret, APP_KEY)
    if row is not None:
        return row.value
    value = secrets.token_hex(32)
    try:
        with session.begin_nested():
            session.add(AppSecret(name=APP_KEY, value=value))
    except sa.exc.IntegrityError:
        # A locking (shared) read: MySQL/MariaDB's repeatable read would otherwise still show the row missing.
        row = session.get(AppSecret, APP_KEY, populate_existing=True, with_for_update={"read": True})
        assert row is not None
        return row.value
    return value


@lru_cache(maxsize=4)
def _app_key(database_url: str, configured: str) -> bytes:
    if configured:
        return configured.encode()
    with session_scope() as session:
        return _stored_key(session).encode()


def app_key() -> bytes:
    """The key for this process's database (cached: it never changes once made)."""
    settings = get_settings()
    return _app_key(settings.database_url, settings.secret_key)


def member_token(member_id: int) -> str:
    """The shared-state token of a member's tabs: unguessable without the key, never chosen by a client.

    Hex only (Reflex forbids '_' in it), and never shaped like a tab's UUID token.
    """
    return _member_token(app_key(), member_id)


# Asked on every event of every tab (the tab guard's binding). The ids are members' own, from the sessions table,
# never a client's: 4,096 of them are a few hundred KB.
@lru_cache(maxsize=4096)
def _member_token(key: bytes, member_id: int) -> str:
    digest = hmac.new(key, f"member-live:{member_id}".encode(), hashlib.sha256).hexdigest()
    return f"m{digest[:48]}"
