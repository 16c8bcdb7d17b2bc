"""Who an event handler acts for: the member comes from the session cookie of the websocket handshake only, never
from an event argument."""

from __future__ import annotations

from reflex.event import EventHandler
from reflex.state import BaseState, State

from exports_app.services.auth import Member
from exports_app.state.auth import AuthState, LoginState
from exports_app.state.exports import ExportModalState, ExportsLive
from exports_app.state.publish import PublishState
from exports_app.state.space import SpaceState
from exports_app.state.timeline import TimelineState


def app_states() -> set[type[BaseState]]:
    """Every state class of the app: the substates of Reflex's root state that exports_app defines."""
    found, todo = set(), [State]
    while todo:
        cls = todo.pop()
        todo.extend(cls.get_substates())
        if cls.__module__.startswith("exports_app."):
            found.add(cls)
    return found


def app_handlers() -> list[EventHandler]:
    """Every event a client can send to the app's states (Reflex makes each public method of a state one)."""
    states = app_states()
    assert states >= {AuthState, LoginState, ExportsLive, ExportModalState, PublishState, SpaceState, TimelineState}
    return [handler for state in states for handler in state.event_handlers.values()]


def test_no_event_takes_the_member_from_its_arguments() -> None:
    for handler in app_handlers():
        assert "member" not in handler._parameters, handler.fn.__qualname__
        assert not any(hint is Member for hint in handler._get_type_hints().values()), handler.fn.__qualname__
