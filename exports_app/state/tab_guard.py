"""The first stop of every event a tab sends: the tab belongs to one member at a time, and arguments fit their handler.

A tab (a Reflex client token) keeps its state on the server across page loads. Without this, a tab that signed
out, whose session was revoked, or in which another member signed in, still held the previous member's list,
titles and link to their live shared state: a hydrate sent them, and the push kept arriving. Here, before any
handler runs (the hydrate too), the member of the event's session cookie is compared with the member the tab
was bound to. When they differ the tab is handed over: unlinked from the old member's shared list, dropped from
their push addresses, every state of the app reset, and the browser told to start again under a new tab token.

The second check makes every event's arguments fit the handler's own signature and type hints (pydantic, lax),
so a missing field or a wrong type gets one clear line instead of Reflex's internal-error toast. Nothing here
touches the database but the one session lookup; the Reflex internals it leans on are named in one place below.
"""

from __future__ import annotations

import inspect
import logging
from functools import lru_cache
from typing import Any

import reflex as rx
from pydantic import ConfigDict, TypeAdapter, ValidationError

from exports_app import reflex_bridge as bridge
from exports_app.reflex_bridge import FORGET_TAB_TOKEN, BaseState, Event, StateUpdate
from exports_app.services.secrets import member_token
from exports_app.state import live_tabs
from exports_app.state.auth import tab_identity

log = logging.getLogger(__name__)

NOT_UNDERSTOOD = "That request was not understood, so nothing changed. Reload the page and try again."
# The browser forgets its tab token and loads the page again: the next token is a fresh one, with nothing in it.
NEW_TAB_TOKEN = f"{FORGET_TAB_TOKEN} window.location.reload();"
# The app sets no var from the client by name: it declares no setters, so `setvar` events are refused whole.
SETVAR = "setvar"


class TabOwnerState(rx.State):
    """Whose data this tab holds: backend vars only, never sent to a client."""

    _member_key: str = ""  # the member's shared-state token, "" while no member is bound
    _session: str = ""  # the fingerprint of the session the tab was bound under


def _app_states() -> list[type[BaseState]]:
    """Every state class of this app (module under exports_app), the ones holding a member's data."""
    found: list[type[BaseState]] = []
    pending: list[type[BaseState]] = [rx.State]
    while pending:
        cls = pending.pop()
        for sub in bridge.substates_of(cls):
            pending.append(sub)
            if sub.__module__.startswith("exports_app.") and sub is not TabOwnerState:
                found.append(sub)
    return found


async def hand_over(root: BaseState, previous_key: str) -> None:
    """Empty the tab of `previous_key`'s member: unlink shared states, leave their push addresses, reset the rest."""
    tab = bridge.tab_token(root)
    linked = bridge.linked_tokens(root)
    for cls in _app_states():
        state = await root.get_state(cls)
        if cls.get_full_name() in linked and isinstance(state, rx.SharedState):
            # The instance in the tree is the member's shared one: unlinking swaps the tab's own copy back in
            # for later events; resetting it here would wipe every other tab of the member.
            await bridge.unlink(state)
            continue
        state.reset()  # type: ignore[no-untyped-call]  # Reflex leaves BaseState.reset unannotated
    if previous_key:
        await live_tabs.release(tab, previous_key)


class TabGuard(bridge.EventMiddleware):
    """Reflex event middleware (ahead of the hydrate): tab ownership, then argument shapes."""

    async def preprocess(self, app: rx.App, state: BaseState, event: Event) -> StateUpdate | None:
        root = bridge.root_of(state)
        handed_over = await self._bind(root)
        if handed_over:
            return StateUpdate(events=bridge.client_events(rx.call_script(NEW_TAB_TOKEN)))
        problem = argument_problem(event)
        if problem is not None:
            log.info("refused event %s: %s", _handler_label(event), problem)
            return StateUpdate(events=bridge.client_events(rx.toast.error(NOT_UNDERSTOOD, id="not-understood")))
        return None

    async def _bind(self, root: BaseState) -> bool:
        """Bind the tab to the member of this event's session; True if it held another member's data."""
        owner = await root.get_state(TabOwnerState)
        member, session = tab_identity(root)
        wanted = member_token(member.id) if member is not None else ""
        held = owner._member_key or next(iter(bridge.linked_tokens(root).values()), "")
        if held and held != wanted:
            await hand_over(root, held)
            owner._member_key, owner._session = wanted, session
            if wanted:
                await live_tabs.bind(bridge.tab_token(root), wanted, session)
            return True
        if wanted and (owner._member_key != wanted or owner._session != session):
            owner._member_key, owner._session = wanted, session
            await live_tabs.bind(bridge.tab_token(root), wanted, session)
        return False


def _handler_label(event: Event) -> str:
    handler = bridge.registered_handler(event.name)
    return bridge.handler_function(handler).__qualname__ if handler is not None else "(unknown)"


@lru_cache(maxsize=1024)
def _adapter(hint: Any) -> TypeAdapter[Any]:
    return TypeAdapter(hint, config=ConfigDict(arbitrary_types_allowed=True))


def argument_problem(event: Event) -> str | None:
    """Why the event's arguments do not fit its handler (missing, unknown or mistyped), or None when they do."""
    handler = bridge.registered_handler(event.name)
    if handler is None:
        return None  # not a handler: Reflex answers unknown names itself
    fn = bridge.handler_function(handler)
    if fn.__name__ == SETVAR:
        return "setvar is not used by this app"
    if not getattr(fn, "__module__", "").startswith("exports_app."):
        return None  # Reflex's own events (hydrate, on_load, …) check their own
    payload = event.payload if isinstance(event.payload, dict) else None
    if payload is None:
        return "the arguments are not an object"
    params = list(inspect.signature(fn).parameters.values())[1:]  # after self
    names = {p.name for p in params}
    if unknown := sorted(set(payload) - names):
        return f"unknown arguments {unknown[:3]}"
    if missing := [p.name for p in params if p.default is inspect.Parameter.empty and p.name not in payload]:
        return f"missing arguments {missing}"
    hints = bridge.handler_hints(handler)
    try:
        arguments = bridge.handler_payload(handler, payload)  # as the handler will get them (form data, …)
    except ValueError:
        return "an argument has the wrong type (unreadable)"
    for name, value in arguments.items():
        hint = hints.get(name)
        if hint is None or hint is Any or isinstance(value, rx.UploadChunkIterator):
            continue
        try:
            _adapter(hint).validate_python(value)
        except ValidationError:
            return f"argument {name!r} has the wrong type"
        except Exception:  # a hint pydantic cannot check: the handler's own code decides
            continue
    return None
