"""Who is signed in, learned from the session cookie of the websocket handshake, and sign-in/out."""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from http.cookies import CookieError, SimpleCookie
from typing import Any, Concatenate, ParamSpec, TypeVar, overload

import reflex as rx
from reflex.event import EventSpec

from exports_app import reflex_bridge
from exports_app.db import read_connection
from exports_app.reflex_bridge import FORGET_TAB_TOKEN, BaseState
from exports_app.routes import EXPORTS_ROUTE, LOGIN_ROUTE
from exports_app.services import auth
from exports_app.services.auth import Member

S = TypeVar("S", bound=rx.State)
P = ParamSpec("P")
Answer = EventSpec | None  # what a member handler returns: nothing, or where the client goes next
Identity = tuple[Member | None, str]  # the member (None when signed out) and the session's fingerprint

# One session lookup per event: the tab guard asks first (state/tab_guard.py, ahead of every handler), and the
# handler's own check in the same event (member_event) gets that answer instead of a second query.
# Kept with the event it was found for and the cookie it was found from, so it never answers another event (each
# chained event asks again) or another cookie.
_event_identity: ContextVar[tuple[object, str, Identity] | None] = ContextVar("event_identity", default=None)


# A client chooses its Cookie header (up to the server's header limit, tens of KB): few enough kept that a client
# sending a new one each time holds a few MB at most.
@functools.lru_cache(maxsize=256)
def _session_token(raw_cookie: str) -> str | None:
    """The session cookie in a Cookie header (the websocket handshake's, for events), if it has one.

    Kept per header text (a tab sends the same header with each event): the parse, not the session's lookup.
    """
    try:
        jar = SimpleCookie(raw_cookie)
    except CookieError:
        return None
    morsel = jar.get(auth.SESSION_COOKIE)
    return morsel.value if morsel else None


def _identity(raw_cookie: str) -> Identity:
    token = _session_token(raw_cookie)
    if not token:
        return None, ""
    with read_connection() as connection:
        member = auth.member_for_token(session=connection, token=token)
    return member, auth.token_hash(token) if member is not None else ""


def tab_identity(state: BaseState) -> Identity:
    """The member behind this tab's session cookie and the session's fingerprint ("" when signed out), looked up
    once per event."""
    cookie = state.router.headers.cookie or ""
    event = reflex_bridge.event_in_progress()
    held = _event_identity.get()
    if event is not None and held is not None and held[0] is event and held[1] == cookie:
        return held[2]
    identity = _identity(cookie)
    if event is not None:
        _event_identity.set((event, cookie, identity))
    return identity


def member_for_cookie(raw: str) -> Member | None:
    """The member whose live session a Cookie header carries (the websocket handshake's, for events)."""
    return _identity(raw)[0]


def member_of(state: BaseState) -> Member | None:
    """The member behind this client's session cookie; never taken from event arguments."""
    return tab_identity(state)[0]


@overload
def member_event(
    handler: Callable[Concatenate[S, Member, P], Coroutine[Any, Any, Answer]],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, Answer]]: ...


@overload
def member_event(handler: Callable[Concatenate[S, Member, P], Answer]) -> Callable[Concatenate[S, P], Answer]: ...


def member_event(handler: Callable[..., Any]) -> Callable[..., Any]:
    """The signed-in guard of an event handler: it runs with the member, or the client goes to /login.

    The handler's second parameter, `member`, is filled from the session cookie of the websocket handshake
    (re-checked against the sessions table on every event); it is no event argument the client can send.
    Without a live session the handler does not run: nothing changes and the answer is the redirect.
    Put it under `@rx.event` (`@rx.event(background=True)` too): Reflex reads the guarded handler's signature
    and annotations, which are the handler's own without `member`, so its arguments are parsed as before.
    """
    signature = inspect.signature(handler)
    params = list(signature.parameters.values())
    if len(params) < 2 or params[1].name != "member":
        raise TypeError(f"{handler.__qualname__}: a member event takes `member` right after `self`")

    guarded: Callable[..., Any]
    if inspect.iscoroutinefunction(handler):

        @functools.wraps(handler)
        async def guarded(state: rx.State, /, *args: Any, **kwargs: Any) -> Answer:
            member = member_of(state)
            return rx.redirect(LOGIN_ROUTE) if member is None else await handler(state, member, *args, **kwargs)
    else:

        @functools.wraps(handler)
        def guarded(state: rx.State, /, *args: Any, **kwargs: Any) -> Answer:
            member = member_of(state)
            return rx.redirect(LOGIN_ROUTE) if member is None else handler(state, member, *args, **kwargs)

    # What Reflex reads to build event specs and parse arguments (inspect.signature stops at __signature__).
    guarded.__signature__ = signature.replace(parameters=[params[0], *params[2:]])  # type: ignore[attr-defined]
    guarded.__annotations__ = {name: hint for name, hint in handler.__annotations__.items() if name != "member"}
    return guarded


class AuthState(rx.State):
    """The signed-in member's name for the header, set by every member page's start (ExportModalState.start_page)."""

    username: rx.Field[str] = rx.field("")

    @rx.event
    def sign_out(self) -> EventSpec:
        # The API revokes the server-side session; the tab forgets its token (the next page load starts a fresh
        # one, holding nothing of this member) and a full page load then drops the websocket.
        return rx.call_script(
            "fetch('/api/auth/logout', {method: 'POST', credentials: 'same-origin', headers: "
            "{'X-CSRF-Token': (document.cookie.match(/(?:^|; )csrf_token=([^;]*)/) || [])[1] || ''}})"
            f".finally(() => {{ {FORGET_TAB_TOKEN} window.location.assign('{LOGIN_ROUTE}'); }})"
        )


class LoginState(rx.State):
    """The /login form: posts to /api/auth/login from the browser so the cookie stays HttpOnly."""

    error: rx.Field[str] = rx.field("")
    busy: rx.Field[bool] = rx.field(False)

    @rx.event
    def redirect_if_signed_in(self) -> EventSpec | None:
        self.error = ""
        self.busy = False
        if member_of(self) is not None:
            return rx.redirect(EXPORTS_ROUTE)
        return None

    @rx.event
    def submit(self, form: dict[str, str]) -> EventSpec | None:
        username = str(form.get("username", "")).strip()
        password = str(form.get("password", ""))
        if not username or not password:
            self.error = "Enter your username and password."
            return None
        self.error = ""
        self.busy = True
        body = json.dumps({"username": username, "password": password})
        return rx.call_script(
            "fetch('/api/auth/login', {method: 'POST', credentials: 'same-origin', "
            f"headers: {{'Content-Type': 'application/json'}}, body: JSON.stringify({body})}})"
            f".then(r => {{ if (r.ok) {{ {FORGET_TAB_TOKEN}"
            f" window.location.assign('{EXPORTS_ROUTE}'); return ''; }}"
            " return r.json().then(b => b.error || 'Sign-in failed.', () => 'Sign-in failed.'); })"
            ".catch(() => 'The server cannot be reached.')",
            callback=LoginState.show_error,
        )

    @rx.event
    def show_error(self, message: str) -> None:
        self.error = message or ""
        self.busy = not message
