"""Cross-origin websocket: with alice's cookie, a page of another origin can neither open `/_event` nor drive it.

The app is same-origin by default (no EXPORTS_ALLOWED_ORIGINS): the websocket is accepted only when its Origin
is the request's own Host, which is also what a proxy that sets Host gets.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import pytest

from exports_app.state.exports import ExportModalState
from tests.security.world import World, upload_rows
from tests.support.ports import free_port
from tests.support.socketio_client import handler_name, open_page, open_socket, page_event

pytestmark = pytest.mark.e2e


def foreign_origins() -> list[str]:
    """Origins that are not the app's: another port of the same host, another site, an opaque origin."""
    return [f"http://127.0.0.1:{free_port()}", "http://evil.example", "null"]


def handshake(world: World, origin: str, host: str | None = None) -> int:
    with open_socket(world.url, str(uuid.uuid4()), cookie=world.alice.cookie, origin=origin, host=host) as sock:
        return sock.status


def test_websocket_is_accepted_only_from_its_own_origin(world: World) -> None:
    port, rows = urlsplit(world.url).port, upload_rows(world.app)
    own = {  # Origin -> the Host a browser (or a proxy) of that origin sends
        f"http://127.0.0.1:{port}": f"127.0.0.1:{port}",
        f"http://localhost:{port}": f"localhost:{port}",
        "http://exports.example.test": "exports.example.test",
    }
    accepted = {origin: handshake(world, origin, host) for origin, host in own.items()}
    foreign = {origin: handshake(world, origin) for origin in foreign_origins()}
    assert all(status == 101 for status in accepted.values()), f"own origins refused: {accepted}"
    assert not any(status == 101 for status in foreign.values()), f"foreign origins upgraded (101): {foreign}"
    assert upload_rows(world.app) == rows


def test_foreign_origin_cannot_delete_an_export_through_the_websocket(world: World) -> None:
    victim = world.alice_exports["victim"]
    rows = upload_rows(world.app)
    upgraded = []
    for origin in foreign_origins():
        with open_page(
            world.url, str(uuid.uuid4()), "/exports", cookie=world.alice.cookie, origin=origin, listen=0.3
        ) as page:
            if page.upgraded:
                upgraded.append(origin)
            # A token's events run in order, so the three clicks can go out at once.
            page.emit(page_event(handler_name(ExportModalState, "open_modal"), "/exports", {"upload_id": victim}))
            page.emit(page_event(handler_name(ExportModalState, "ask_delete"), "/exports"))
            page.emit(page_event(handler_name(ExportModalState, "confirm_delete"), "/exports"))
            page.listen(1.5)
    status = world.alice.status(victim)
    assert status.status_code == 200, (
        f"alice's export {victim} is gone ({status.status_code} {status.text}) after "
        f"open_modal + confirm_delete from foreign origins; upgraded: {upgraded}"
    )
    assert upload_rows(world.app) == rows
