"""Live list hijack: a client that picks alice's shared-state token (`user-<id>`) as its own gets nothing of hers.

Alice's shared list exists (her tab is open) and changes while the attacker listens (a Prep through the API).
The fixed app may refuse such a client token at the handshake or accept it and give nothing; either way none
of alice's titles, file names or statuses may ever reach the attacker, on connect or in a later push.
"""

from __future__ import annotations

import pytest

from tests.security.leaks import assert_nothing_of_alices, watch_alice_change
from tests.security.world import World, upload_rows
from tests.support.socketio_client import EventSocket, open_page

pytestmark = pytest.mark.e2e


def assert_unharmed(world: World, rows: int, upload_id: int) -> None:
    """Nothing was stored or deleted: no new upload rows, and alice's export is still hers."""
    assert upload_rows(world.app) == rows
    assert world.alice.status(upload_id).status_code == 200


def test_client_without_cookie_using_alices_token_gets_nothing_of_hers(world: World, alice_tab: EventSocket) -> None:
    rows = upload_rows(world.app)
    with open_page(world.url, f"user-{world.alice.id}", "/exports", cookie=None) as attacker:
        on_load = attacker.received
        later, pushed_to_alice = watch_alice_change(world, alice_tab, attacker, world.alice_exports["hijack"])
    assert_nothing_of_alices(world, attacker, on_load, "on connect and hydrate")
    assert_nothing_of_alices(world, attacker, later, "pushed after her change")
    assert pushed_to_alice, "control: alice's own tab got no push after her Prep (the attacker had nothing to miss)"
    assert_unharmed(world, rows, world.alice_exports["hijack"])


def test_signed_in_bob_using_alices_token_gets_nothing_of_hers(world: World, alice_tab: EventSocket) -> None:
    rows = upload_rows(world.app)
    with open_page(world.url, f"user-{world.alice.id}", "/exports", cookie=world.bob.cookie) as attacker:
        on_load = attacker.received
        later, pushed_to_alice = watch_alice_change(world, alice_tab, attacker, world.alice_exports["hijack-signed-in"])
    assert_nothing_of_alices(world, attacker, on_load, "on bob's /exports load")
    assert_nothing_of_alices(world, attacker, later, "pushed to bob after her change")
    # Bob's load must not take over alice's list either: her own tab still gets her change.
    assert pushed_to_alice, "alice's own tab got no push after her Prep while bob held her token"
    assert_unharmed(world, rows, world.alice_exports["hijack-signed-in"])
