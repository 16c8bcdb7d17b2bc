"""What of alice's reaches an attacker: her marked titles and file names, and her exports' statuses, searched for
in what the attacker's socket received, while alice's own tab shows the change was really pushed."""

from __future__ import annotations

import re

from exports_app.state.exports_live import ExportsLive
from tests.security.world import ALICE_MARK, World
from tests.support.socketio_client import EventSocket

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


def assert_nothing_of_alices(world: World, attacker: EventSocket, received: str, when: str) -> None:
    leaks = alice_data(received, world)
    assert not leaks, (
        f"{len(leaks)} pieces of alice's data reached the attacker {when}, e.g. {leaks[:3]} "
        f"(upgrade {attacker.status}, namespace connected={attacker.connected})"
    )
