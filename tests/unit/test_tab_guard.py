"""Event arguments are checked against the handler's own signature and types before it runs (state/tab_guard)."""

from __future__ import annotations

from typing import Any

import pytest
from reflex_base.event import Event

from exports_app.state.auth import LoginState
from exports_app.state.exports import ExportModalState
from exports_app.state.exports_live import ExportsLive
from exports_app.state.publish import PublishState
from exports_app.state.tab_guard import argument_problem
from tests.support.socketio_client import handler_name


@pytest.mark.parametrize(
    ("state", "handler", "payload", "problem"),
    [
        (ExportModalState, "open_modal", {}, "missing"),
        (ExportModalState, "open_modal", {"upload_id": {"nested": [1]}}, "wrong type"),
        (ExportModalState, "open_modal", {"upload_id": 1, "member": {"id": 2, "username": "bob"}}, "unknown"),
        (ExportModalState, "setvar", {"var_name": "open_id", "value": 1}, "setvar"),
        (ExportModalState, "dismiss", {"notice_id": "x"}, "wrong type"),
        (PublishState, "create_space", {"form": "text"}, "wrong type"),
        (LoginState, "submit", {"form": None}, "wrong type"),
        (ExportsLive, "show_more", {"limit": 10**9}, "unknown"),
    ],
)
def test_malformed_arguments_are_named(state: type, handler: str, payload: dict[str, Any], problem: str) -> None:
    found = argument_problem(Event(name=handler_name(state, handler), payload=payload))
    assert found is not None and problem in found


@pytest.mark.parametrize(
    ("state", "handler", "payload"),
    [
        (ExportModalState, "open_modal", {"upload_id": 7}),
        (ExportModalState, "open_modal", {"upload_id": "7"}),  # as a query string or a form sends it
        (ExportModalState, "upload_progress", {"progress": {"progress": 0.5, "loaded": 10, "total": 20}}),
        (ExportModalState, "set_modal_open", {"is_open": False}),
        (ExportModalState, "prep", {}),
        (PublishState, "create_space", {"form": {"name": "Team"}}),
        (LoginState, "submit", {"form": {"username": "alice", "password": "pw"}}),
        # What a Reflex form really sends: its fields as pairs, turned into a dict by Reflex before the handler.
        (LoginState, "submit", {"form": {"__reflex_form_data__": [["username", "alice"], ["password", "pw"]]}}),
        (PublishState, "create_space", {"form": {"__reflex_form_data__": [["name", "Team"]]}}),
    ],
)
def test_what_the_pages_send_passes(state: type, handler: str, payload: dict[str, Any]) -> None:
    assert argument_problem(Event(name=handler_name(state, handler), payload=payload)) is None


def test_names_that_are_no_handler_are_left_to_reflex() -> None:
    assert argument_problem(Event(name="state.no_such_state.no_such_handler", payload={})) is None
