"""A tab belongs to one member at a time: after sign-out, revocation or another member's sign-in it holds and
receives nothing of the previous member's; an upload lands in the account of its own request's cookie.

Each attack plays one browser tab (one client token) through the hand-over a shared computer sees, with raw
socket.io frames: whatever the server sends that tab afterwards is searched for alice's marked titles, her
statuses and her username.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest

from exports_app.state.exports import ExportModalState
from tests.security.leaks import alice_data, assert_nothing_of_alices, watch_alice_change
from tests.security.world import ALICE_MARK, World, post_upload, sign_in, stored_uploads, upload_rows
from tests.support.socketio_client import EventSocket, handler_name, open_page, page_event

pytestmark = pytest.mark.e2e


def cookie_of(client: httpx.Client) -> str:
    return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


def fresh_export(world: World, role: str) -> int:
    """A new, not yet prepped export of alice's (its title carries her mark)."""
    return int(
        world.app.cli(
            "export",
            "import",
            "--user",
            "alice",
            str(world.clip),
            "--title",
            f"{ALICE_MARK} {role} {uuid.uuid4().hex[:6]}",
        )
    )


def sign_out(client: httpx.Client) -> None:
    assert client.post("/api/auth/logout", headers={"X-CSRF-Token": client.cookies["csrf_token"]}).status_code == 200


@pytest.fixture
def alices_used_tab(world: World) -> Iterator[tuple[str, httpx.Client]]:
    """A tab token that showed alice's list and an open modal under a session of its own (then closed)."""
    session = sign_in(world.app, "alice", world.alice.password)
    tab = str(uuid.uuid4())
    with open_page(world.url, tab, "/exports", cookie=cookie_of(session)) as page:
        assert page.wait_for(ALICE_MARK, timeout=20), "alice's tab never got her list"
        page.emit(
            page_event(
                handler_name(ExportModalState, "open_modal"), "/exports", {"upload_id": world.alice_exports["victim"]}
            )
        )
        assert page.wait_for('"open_id', timeout=10)
    yield tab, session
    session.close()


def username_sent(text: str, name: str) -> bool:
    return re.search(rf'"username[^"]*":\s*"{name}"', text) is not None


def test_a_signed_out_tab_is_sent_nothing_of_the_member(
    world: World, alice_tab: EventSocket, alices_used_tab: tuple[str, httpx.Client]
) -> None:
    tab, session = alices_used_tab
    sign_out(session)
    rows = upload_rows(world.app)
    with open_page(world.url, tab, "/login", cookie=None) as again:
        on_load = again.received
        later, pushed_to_alice = watch_alice_change(world, alice_tab, again, fresh_export(world, "signed-out"))
    assert_nothing_of_alices(world, again, on_load, "on reconnecting after her sign-out")
    assert not username_sent(on_load, "alice"), "her username reached the signed-out tab"
    # When the server still held the tab's state it hands it over and tells it to start under a new token
    # (tests/unit/test_reflex_bridge checks that deterministically); Reflex may also have dropped the state already,
    # and then there is nothing to hand over. Either way nothing of hers may arrive (above).
    assert_nothing_of_alices(world, again, later, "pushed after her sign-out")
    assert pushed_to_alice, "control: alice's own tab got no push"
    assert upload_rows(world.app) == rows + 1  # only the export this test imported


def test_the_next_member_on_the_tab_gets_nothing_of_the_last_one(
    world: World, alice_tab: EventSocket, alices_used_tab: tuple[str, httpx.Client]
) -> None:
    tab, session = alices_used_tab
    sign_out(session)
    upload_id = fresh_export(world, "next-member")
    with open_page(world.url, tab, "/exports", cookie=world.bob.cookie) as bob_on_it:
        on_load = bob_on_it.received
        later, pushed_to_alice = watch_alice_change(world, alice_tab, bob_on_it, upload_id)
        world.alice.wait_ready(upload_id)  # her "ready to publish" toast goes out now
        bob_on_it.listen(3)
        after = bob_on_it.received
    assert_nothing_of_alices(world, bob_on_it, on_load, "to bob signing in on her tab")
    assert_nothing_of_alices(world, bob_on_it, later + after, "pushed to bob on her old tab")
    assert not username_sent(on_load + after, "alice")
    assert pushed_to_alice, "control: alice's own tab got no push"


def test_a_tab_whose_session_is_revoked_gets_no_more_pushes(world: World, alice_tab: EventSocket) -> None:
    session = sign_in(world.app, "alice", world.alice.password)
    upload_id = fresh_export(world, "revoked")
    with open_page(world.url, str(uuid.uuid4()), "/exports", cookie=cookie_of(session)) as tab:
        assert tab.wait_for(ALICE_MARK, timeout=20)
        sign_out(session)  # revoked elsewhere; this tab's socket stays open and sends nothing more
        seen = len(tab.frames)
        later, pushed_to_alice = watch_alice_change(world, alice_tab, tab, upload_id)
        leaks = alice_data("\n".join(tab.frames[seen:]), world)
    assert not leaks, f"the revoked tab still got {leaks[:3]}"
    assert pushed_to_alice, "control: alice's own tab got no push"
    session.close()


def test_an_upload_lands_only_with_the_member_of_its_own_cookie(world: World) -> None:
    """Alice's cookie with bob's tab token: refused before the body, nothing stored in either account."""
    with open_page(world.url, str(uuid.uuid4()), "/exports", cookie=world.bob.cookie) as bobs_tab:
        assert bobs_tab.wait_for("Bob's cut", timeout=20)
        rows, files = upload_rows(world.app), stored_uploads(world.app)
        answer = post_upload(world, bobs_tab.token, "crossed.mp4", world.clip.read_bytes(), cookie=world.alice.cookie)
    assert answer is not None and answer.status == 403, answer
    assert answer.json_error()
    assert upload_rows(world.app) == rows and stored_uploads(world.app) == files
