"""Who is signed in, learned from the session cookie of the websocket handshake, and sign-in/out."""

from __future__ import annotations

import json
from http.cookies import CookieError, SimpleCookie

import reflex as rx
from reflex.event import EventSpec

from exports_app.db import session_scope
from exports_app.services import auth
from exports_app.services.auth import Member

LOGIN_ROUTE = "/login"
HOME_ROUTE = "/exports"


def member_of(state: rx.State) -> Member | None:
    """The member behind this client's session cookie; never taken from event arguments."""
    raw = state.router.headers.cookie or ""
    try:
        jar = SimpleCookie(raw)
    except CookieError:
        return None
    morsel = jar.get(auth.SESSION_COOKIE)
    with session_scope() as session:
        return auth.member_for_token(session, morsel.value if morsel else None)


class AuthState(rx.State):
    """The signed-in member's name for the header; pages guard themselves with require_member."""

    username: rx.Field[str] = rx.field("")

    @rx.event
    def require_member(self) -> EventSpec | None:
        member = member_of(self)
        if member is None:
            self.username = ""
            return rx.redirect(LOGIN_ROUTE)
        self.username = member.username
        return None

    @rx.event
    def sign_out(self) -> EventSpec:
        # The API revokes the server-side session; a full page load then drops the websocket.
        return rx.call_script(
            "fetch('/api/auth/logout', {method: 'POST', credentials: 'same-origin', headers: "
            "{'X-CSRF-Token': (document.cookie.match(/(?:^|; )csrf_token=([^;]*)/) || [])[1] || ''}})"
            ".finally(() => window.location.assign('/login'))"
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
            return rx.redirect(HOME_ROUTE)
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
            ".then(r => { if (r.ok) { window.location.assign('/exports'); return ''; }"
            " return r.json().then(b => b.error || 'Sign-in failed.', () => 'Sign-in failed.'); })"
            ".catch(() => 'The server cannot be reached.')",
            callback=LoginState.show_error,
        )

    @rx.event
    def show_error(self, message: str) -> None:
        self.error = message or ""
        self.busy = not message
