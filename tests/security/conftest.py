"""The attacker suite's fixtures: the one app it runs against, the world made in it, alice's open tab.

What they are made of (the World, its members, ALICE_MARK and the ways to look into the app) is in world.py.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator

import pytest

from tests.security.world import ALICE_MARK, APP_ENV, World, create_member, sign_in
from tests.support.app_process import RunningApp, start_app
from tests.support.clips import make_clip
from tests.support.socketio_client import EventSocket, open_page


@pytest.fixture(scope="session")
def security_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    app = start_app(tmp_path_factory.mktemp("security-data"), APP_ENV)
    try:
        yield app
    finally:
        app.stop()


@pytest.fixture(scope="session")
def world(security_app: RunningApp, tmp_path_factory: pytest.TempPathFactory) -> World:
    app = security_app
    clips = tmp_path_factory.mktemp("security-clips")
    alice_clip = make_clip(clips / f"{ALICE_MARK}-clip.mp4", seconds=1.0, width=160, height=120)
    clip = make_clip(clips / "clip.mp4", seconds=1.0, width=160, height=120)
    alice, bob = create_member(app, "alice"), create_member(app, "bob")
    alice_exports = {
        role: int(
            app.cli(
                "export",
                "import",
                "--user",
                "alice",
                str(alice_clip),
                "--title",
                f"{ALICE_MARK} {role} {secrets.token_hex(3)}",
            )
        )
        for role in ("hijack", "hijack-signed-in", "victim", "cors-target", "ready")
    }
    bob_export = int(app.cli("export", "import", "--user", "bob", str(clip), "--title", "Bob's cut"))
    for member, upload_id in ((alice, alice_exports["ready"]), (bob, bob_export)):
        assert member.prep(upload_id).status_code == 200
    return World(
        app=app,
        alice=alice,
        bob=bob,
        alice_spare=sign_in(app, "alice", alice.password),
        alice_exports=alice_exports,
        bob_export=bob_export,
        alice_production=alice.wait_ready(alice_exports["ready"]),
        bob_production=bob.wait_ready(bob_export),
        clip=clip,
    )


@pytest.fixture
def alice_tab(world: World) -> Iterator[EventSocket]:
    """Alice's /exports open in a tab (her own session and a fresh client token), her list loaded."""
    tab = open_page(world.url, str(uuid.uuid4()), "/exports", cookie=world.alice.cookie)
    try:
        assert tab.wait_for(ALICE_MARK, timeout=20), f"alice's own tab never got her list: {tab}"
        yield tab
    finally:
        tab.close()
