"""Event arguments a client shapes by hand: a missing field, a wrong type, a var set by name. Each gets one clear
line, never Reflex's internal-error toast, and changes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from exports_app.state.auth import LoginState
from exports_app.state.exports import ExportModalState
from exports_app.state.publish import PublishState
from tests.security.world import World, upload_rows
from tests.support.socketio_client import EventSocket, handler_name, open_page, page_event

pytestmark = pytest.mark.e2e

INTERNAL_ERROR = "An error occurred"
UNDERSTOOD = "not understood"


def answers(world: World, path: str, cookie: str | None, events: list[tuple[str, dict[str, Any]]]) -> str:
    with open_page(world.url, str(uuid.uuid4()), path, cookie=cookie) as tab:
        seen = len(tab.frames)
        for name, payload in events:
            tab.emit(page_event(name, path, payload))
        tab.wait_for(UNDERSTOOD, timeout=10, since=seen)
        tab.listen(1)
        return "\n".join(tab.frames[seen:])


@pytest.mark.parametrize(
    ("path", "state", "handler", "payload"),
    [
        ("/exports", ExportModalState, "open_modal", {}),
        ("/exports", ExportModalState, "open_modal", {"upload_id": {"nested": [1]}}),
        ("/exports", ExportModalState, "setvar", {"var_name": "open_id", "value": 1}),
        ("/exports", ExportModalState, "dismiss", {"notice_id": "x", "extra": 1}),
        ("/publish", PublishState, "create_space", {"form": "text"}),
    ],
)
def test_a_malformed_event_of_a_member_gets_a_clear_line(
    world: World, path: str, state: type, handler: str, payload: dict[str, Any]
) -> None:
    rows = upload_rows(world.app)
    received = answers(world, path, world.alice.cookie, [(handler_name(state, handler), payload)])
    assert INTERNAL_ERROR not in received, received[-400:]
    assert UNDERSTOOD in received, f"no clear line for {handler} {payload}: {received[-400:]}"
    assert upload_rows(world.app) == rows


def test_a_malformed_sign_in_event_gets_a_clear_line(world: World, alice_tab: EventSocket) -> None:
    received = answers(world, "/login", None, [(handler_name(LoginState, "submit"), {"form": None})])
    assert INTERNAL_ERROR not in received and UNDERSTOOD in received, received[-400:]
