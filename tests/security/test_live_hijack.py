"""Live list hijack: a client that picks alice's shared-state token (`user-<id>`) as its own gets nothing of hers.

Alice's shared list exists (her tab is open) and changes while the attacker listens (a Prep through the API).
The fixed app may refuse such a client token at the handshake or accept it and give nothing; either way none
of alice's titles, file names or statuses may ever reach the attacker, on connect or in a later push.
"""

from __future__ import annotations

import re

import pytest

from exports_app.state.exports import ExportsLive
from tests.security.conftest import ALICE_MARK, World, upload_rows
from tests.support.socketio_client import EventSocket, open_page

pytestmark = pytest.mark.e2e

LIVE_STATE = ExportsLive.get_full_name()  # the member's shared list, in every delta that carries it


def alice_data(text: str, world: World) -> list[str]:
    """What of alice's is in text: her titles/file names (ALICE_MARK) and the statuses of her exports."""
    leaks = [m.group(0) for m in re.finditer(rf"{ALICE_MARK}[^\"]*", text)]
    ids = {str(i) for i in world.alice_exports.values()}
    leaks += [f"status of export {m.group(1)}" for m in re.finditer(r'"(\d+)":\s*\{"state"', text) if m.group(1) in ids]
    return sorted(set(leaks))


def watch_alice_change(world: World, alice_tab: EventSocket, attacker: EventSocket, upload_id: int) -> tuple[str, bool]:
    """Prep one of alice's exports while the attacker listens.

    Returns what the attacker got after the Prep, and whether alice's own tab got the change pushed.
    """
    seen_before, mark = len(attacker.frames), len(alice_tab.frames)
    assert world.alice.prep(upload_id).status_code == 200
    pushed_to_alice = alice_tab.wait_for(LIVE_STATE, timeout=15, since=mark)
    attacker.listen(3)
    return "\n".join(attacker.frames[seen_before:]), pushed_to_alice


def assert_unharmed(world: World, rows: int, upload_id: int) -> None:
    """Nothing was stored or deleted: no new upload rows, and alice's export is still hers."""
    assert upload_rows(world.app) == rows
    assert world.alice.status(upload_id).status_code == 200


def assert_nothing_of_alices(world: World, attacker: EventSocket, received: str, when: str) -> None:
    leaks = alice_data(received, world)
    assert not leaks, (
        f"{len(leaks)} pieces of alice's data reached the attacker {when}, e.g. {leaks[:3]} "
        f"(upgrade {attacker.status}, namespace connected={attacker.connected})"
    )


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
