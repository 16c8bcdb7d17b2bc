"""Bulk rows for the status-API benchmarks, on whatever database the app points at (SQLite, MariaDB, PostgreSQL)."""

from __future__ import annotations

import sqlalchemy as sa

from exports_app.db import get_engine, session_scope
from exports_app.services import auth

FILLER_MEMBERS = 99
NOW = "2026-01-01 00:00:00"


def populate(uploads: int, productions: int, sessions: int = 0) -> tuple[list[int], str]:
    """Member 1 (`bench`) owns every 50th upload, 99 filler members the rest; every (uploads/productions)th upload
    has a production with one succeeded job; `sessions` more sessions spread over the members, as sign-ins pile up.

    Returns member 1's export ids and a session cookie of member 1. Plain multi-row INSERTs, no SQL of one dialect.
    """
    with session_scope() as s:
        member = auth.create_user(session=s, username="bench", password="bench password")
        token = auth.start_session(session=s, member=member, days=1).token
    with get_engine().begin() as conn:
        conn.execute(
            sa.text("INSERT INTO users (username, password_hash, created_at) VALUES (:name, 'x', :now)"),
            [{"name": f"filler{i}", "now": NOW} for i in range(2, FILLER_MEMBERS + 2)],
        )
        if sessions:  # other sign-ins; their token hashes are not a SHA-256 of anything
            conn.execute(
                sa.text(
                    "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at)"
                    " VALUES (:hash, :user_id, 'x', :now, '2099-01-01 00:00:00')"
                ),
                [
                    {"hash": f"filler{i:058d}", "user_id": 1 + i % (FILLER_MEMBERS + 1), "now": NOW}
                    for i in range(sessions)
                ],
            )
        conn.execute(
            sa.text(
                "INSERT INTO uploads (user_id, video_role, title, filename, storage_key, size_bytes, created_at,"
                " updated_at) VALUES (:user_id, 'export', 't', 'f.mp4', 'k', 1, :now, :now)"
            ),
            [{"user_id": 1 if i % 50 == 0 else 2 + i % FILLER_MEMBERS, "now": NOW} for i in range(uploads)],
        )
        ids = list(conn.execute(sa.text("SELECT id FROM uploads ORDER BY id")).scalars())
        step = max(1, uploads // productions)
        conn.execute(
            sa.text(
                "INSERT INTO productions (user_id, upload_id, hls_master_uri, created_at, updated_at)"
                " VALUES (1, :upload_id, 'hls/x/master.m3u8', :now, :now)"
            ),
            [{"upload_id": upload_id, "now": NOW} for upload_id in ids[::step][:productions]],
        )
        made = conn.execute(sa.text("SELECT id, upload_id FROM productions")).all()
        conn.execute(
            sa.text("UPDATE uploads SET create_video_production_id = :production_id WHERE id = :upload_id"),
            [{"production_id": pid, "upload_id": uid} for pid, uid in made],
        )
        conn.execute(
            sa.text(
                "INSERT INTO media_jobs (production_id, provider, status, percent, attempt, idempotency_token,"
                " created_at, updated_at) VALUES (:production_id, 'local', 'succeeded', 100, 1, :token, :now, :now)"
            ),
            [{"production_id": pid, "token": f"tok{pid}", "now": NOW} for pid, _ in made],
        )
        mine = list(conn.execute(sa.text("SELECT id FROM uploads WHERE user_id = 1 ORDER BY id")).scalars())
    return mine, token
