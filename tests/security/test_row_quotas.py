"""Rows one member can make: spaces, exports uploaded per hour and sign-in sessions stop at their caps, with words
that say so; a new space is sent alone, not with every space the member has.

The world's app runs with EXPORTS_MAX_SPACES_PER_MEMBER=MAX_SPACES and EXPORTS_MAX_EXPORTS_PER_HOUR=
MAX_EXPORTS_PER_HOUR (world.APP_ENV); the sessions cap is the default. Each test makes a member of its own.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
import uuid

import pytest

from exports_app.config import Settings
from exports_app.state.exports import ExportModalState
from exports_app.state.publish import PublishState
from tests.security import raw_http
from tests.security.world import (
    MAX_EXPORTS_PER_HOUR,
    MAX_SPACES,
    UPLOAD_HANDLER,
    Member,
    World,
    create_member,
    post_upload,
    sign_in,
)
from tests.support.socketio_client import EventSocket, handler_name, open_page, page_event

pytestmark = pytest.mark.e2e

SPACES_REFUSAL = f"You have {MAX_SPACES} spaces, the most a member can have."
UPLOADS_REFUSAL = f"You have uploaded {MAX_EXPORTS_PER_HOUR} videos in the last hour, the most a member can."


def rows_of(world: World, table: str, member: Member) -> int:
    """The member's rows in a table, read from the app's SQLite file."""
    with sqlite3.connect(f"file:{world.data_dir / 'exports.db'}?mode=ro", uri=True, timeout=10) as db:
        return int(db.execute(f"SELECT count(*) FROM {table} WHERE user_id = ?", (member.id,)).fetchone()[0])  # noqa: S608


def new_member(world: World, role: str) -> Member:
    return create_member(world.app, f"{role}-{secrets.token_hex(4)}")


def test_spaces_stop_at_the_cap_and_each_is_sent_alone(world: World) -> None:
    """Before: 977 spaces in 30 s, none refused, each create re-sending the whole list (the last frame 168 KB)."""
    member = new_member(world, "spaces")
    create = handler_name(PublishState, "create_space")
    with open_page(world.url, str(uuid.uuid4()), "/publish", cookie=member.cookie) as tab:
        frames: list[str] = []
        for n in range(MAX_SPACES + 3):
            since = len(tab.frames)
            tab.emit(page_event(create, "/publish", {"form": {"name": f"Space {n:03d}"}}))
            assert tab.wait_for((f"Space {n:03d}", SPACES_REFUSAL), timeout=20, since=since), f"create {n}: {tab}"
            frames += tab.frames[since:]
            if any(SPACES_REFUSAL in frame for frame in tab.frames[since:]):
                break
    made = rows_of(world, "spaces", member)
    assert made == MAX_SPACES and n == MAX_SPACES, f"{made} spaces made, the {n + 1}th create refused"
    # Each create sends its new space; an earlier one is sent again only when its bucket carries (log2 n times at
    # most), where the whole list each time would send n(n+1)/2 names.
    names_sent = sum(frame.count("Space ") for frame in frames)
    assert names_sent <= 3 * MAX_SPACES, f"{names_sent} space names sent for {MAX_SPACES} creates"


def upload_headers(world: World, member: Member, tab: EventSocket, form_type: str) -> dict[str, str]:
    return {
        "Reflex-Client-Token": tab.token,
        "Reflex-Event-Handler": UPLOAD_HANDLER,
        "Content-Type": form_type,
        "Origin": world.url,
        "Cookie": member.cookie,
        "X-CSRF-Token": member.csrf,
    }


def test_uploads_stop_at_the_hourly_cap_before_their_body(world: World) -> None:
    """Before: 40 of 40 uploads accepted in 9 s, with no count or quota."""
    member = new_member(world, "uploads")
    clip = world.clip.read_bytes()
    with open_page(world.url, str(uuid.uuid4()), "/exports", cookie=member.cookie) as tab:
        for n in range(MAX_EXPORTS_PER_HOUR):
            answer = post_upload(world, tab.token, f"clip{n}.mp4", clip, cookie=member.cookie)
            assert answer is not None and answer.status == 202, f"upload {n}: {answer}"
            deadline = time.monotonic() + 30
            while rows_of(world, "uploads", member) <= n and time.monotonic() < deadline:
                tab.listen(0.1)  # the import (probe, poster) ends after the answer
            assert rows_of(world, "uploads", member) == n + 1, f"upload {n} was not imported"
        files = sorted((world.data_dir / "uploads" / str(member.id)).rglob("*"))
        form_type, body = raw_http.multipart([("one-more.mp4", clip * 40, "video/mp4")])
        with raw_http.held_request(
            world.url,
            "POST",
            "/_upload",
            headers=upload_headers(world, member, tab, form_type),
            body=body,
            send_limit=0,
        ) as sock:
            refused = raw_http.answer_of(sock, timeout=10)  # no body byte sent: answered before it
        assert refused is not None and refused.status == 429, refused
        assert (refused.json_error() or "").startswith(UPLOADS_REFUSAL), refused
        assert 0 < int(refused.headers["retry-after"]) <= 3600
        since = len(tab.frames)
        tab.emit(page_event(handler_name(ExportModalState, "start_upload"), "/exports"))  # what the page sends first
        assert tab.wait_for(UPLOADS_REFUSAL, timeout=20, since=since), "the page's upload line does not say why"
    assert rows_of(world, "uploads", member) == MAX_EXPORTS_PER_HOUR
    assert sorted((world.data_dir / "uploads" / str(member.id)).rglob("*")) == files, "the refused upload was stored"
    assert not any((world.data_dir / "staging").glob("*")), "the refused upload was staged"


def test_a_member_keeps_only_the_newest_sign_ins(world: World) -> None:
    kept = Settings.model_fields["max_sessions_per_member"].default  # the world's app does not set it
    member = new_member(world, "sessions")
    clients = [member.http] + [sign_in(world.app, member.name, member.password) for _ in range(kept)]
    try:
        live = [client.get("/api/auth/me").status_code == 200 for client in clients]
    finally:
        for client in clients:
            client.close()
    assert live == [False] + [True] * kept, f"{sum(live)} of {len(clients)} sign-ins live"
