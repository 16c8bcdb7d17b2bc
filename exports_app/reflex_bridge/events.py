"""Events and their handlers: the event being processed, the handler a client's event names, its arguments as the
handler gets them, the name a client sends for a handler, and the frontend events a middleware answers with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reflex.middleware.middleware import Middleware
from reflex.state import BaseState
from reflex_base.event import Event as Event  # re-exported: a client's event, as a middleware gets it
from reflex_base.event import EventHandler, EventSpec
from reflex_base.event.context import EventContext
from reflex_base.event.processor.base_state_processor import _transform_event_payload
from reflex_base.registry import RegistrationContext
from reflex_base.utils.format import format_event_handler

EventMiddleware = Middleware  # Reflex's event middleware base: preprocess(app, state, event) before each handler


def running_event() -> tuple[str, str] | None:
    """(tab token, Cookie header of its websocket handshake) of the event being processed, or None outside one."""
    try:
        context = EventContext.get()
    except LookupError:  # not from an event (e.g. the socket's client_error channel)
        return None
    headers = context.router_data.get("headers") or {}
    cookie = headers.get("cookie", "") if isinstance(headers, dict) else ""
    return context.token, str(cookie)


def event_in_progress() -> object | None:
    """The event being processed, as one object for the whole of it (the middleware's preprocess and the handler
    share it; each chained event has its own), or None outside an event."""
    try:
        context = EventContext.get()
    except LookupError:
        return None
    return context if context.txid else None  # the processor's root context belongs to no event


def registered_handler(name: str) -> EventHandler | None:
    """The event handler a client event names, or None for a name no state registered."""
    registered = RegistrationContext.get().event_handlers.get(name)
    return registered.handler if registered is not None else None


def handler_function(handler: EventHandler) -> Callable[..., Any]:
    """The function the handler runs (the state's method as written, its decorators applied)."""
    function: Callable[..., Any] = handler.fn
    return function


def handler_hints(handler: EventHandler) -> dict[str, Any]:
    """The handler's parameter hints as Reflex resolved them at registration."""
    return dict(handler._type_hints or {})


def handler_payload(handler: EventHandler, payload: dict[str, Any]) -> dict[str, Any]:
    """The arguments the handler will get: Reflex's own transformation of the client's payload (form data as a
    dict, dicts as the hinted dataclasses, strings as numbers). ValueError when Reflex cannot transform it."""
    transformed: dict[str, Any] = _transform_event_payload(payload, handler_hints(handler))
    return transformed


def event_name(state: type[BaseState], handler: str) -> str:
    """The full name a client sends for `state.handler` (e.g. the upload route's Reflex-Event-Handler header)."""
    return format_event_handler(state.event_handlers[handler])


def client_events(*specs: EventSpec) -> list[Event]:
    """Frontend events (a script, a toast) as a middleware's StateUpdate carries them."""
    return Event.from_event_type(list(specs))
