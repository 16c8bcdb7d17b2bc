"""The socket guard's rules (state/socket_guard.py) on the real app, in this process: whom a socket counts for, the
oldest sockets let go past the cap, the event budget per tab and per member, and where the bridge hooks them in.

No socket is open here (a notice or a close reaches no one); tests/security/test_socket_budget.py plays the same
rules over real sockets against the app as `make run` starts it.
"""

from __future__ import annotations

import inspect
from collections.abc import Coroutine
from typing import Any

from reflex.app import EventNamespace

from exports_app import reflex_bridge
from exports_app.config import get_settings
from exports_app.db import session_scope
from exports_app.exports_app import app
from exports_app.services import auth
from exports_app.services.auth import Member
from exports_app.state.socket_guard import SocketGuard
from tests.support.event_loop import run_in_own_loop

TAB, OTHER_TAB = "0f8fad5b-d9cb-469f-a165-70867728950e", "7c9e6679-7425-40de-944b-e07fc1f90ae7"


def guard(**limits: int) -> SocketGuard:
    return SocketGuard(get_settings().model_copy(update=limits))


def run(step: Coroutine[Any, Any, Any]) -> Any:
    # On a loop of its own: in a worker that also drives Chromium, Playwright's loop owns this thread's.
    return run_in_own_loop(step)


def cookie_of(member: Member) -> str:
    with session_scope() as session:
        return f"{auth.SESSION_COOKIE}={auth.start_session(session=session, member=member, days=1).token}"


def test_a_socket_counts_for_its_member_or_else_its_address(alice: Member) -> None:
    sockets = guard()
    run(sockets.opened(app, "s1", cookie_of(alice), "10.0.0.1"))
    run(sockets.opened(app, "s2", "", "2001:db8::1"))
    run(sockets.opened(app, "s3", f"{auth.SESSION_COOKIE}=not-a-session", "::ffff:10.0.0.1"))
    assert sockets._whose == {"s1": f"member {alice.id}", "s2": "address 2001:db8::/64", "s3": "address 10.0.0.1"}
    sockets.closed("s1")
    sockets.closed("s1")  # Reflex's disconnect after the guard's own close: nothing left to forget
    assert "s1" not in sockets._whose and f"member {alice.id}" not in sockets._sockets


def test_past_the_cap_the_oldest_sockets_go(alice: Member) -> None:
    sockets, cookie = guard(max_tabs_per_member=2, max_tabs_per_address=3), cookie_of(alice)
    for n in range(4):
        run(sockets.opened(app, f"m{n}", cookie, "10.0.0.1"))
        run(sockets.opened(app, f"a{n}", "", "10.0.0.1"))
    assert list(sockets._sockets[f"member {alice.id}"]) == ["m2", "m3"]
    assert list(sockets._sockets["address 10.0.0.1"]) == ["a1", "a2", "a3"]
    assert set(sockets._whose) == {"m2", "m3", "a1", "a2", "a3"}


def test_events_past_a_tabs_or_its_members_budget_are_refused(alice: Member) -> None:
    sockets, cookie = guard(tab_event_burst=3, member_event_burst=5), cookie_of(alice)
    run(sockets.opened(app, "s1", cookie, "10.0.0.1"))
    run(sockets.opened(app, "s2", cookie, "10.0.0.1"))
    assert [run(sockets.admitted(app, "s1", TAB)) for _ in range(4)] == [True, True, True, False]
    assert [run(sockets.admitted(app, "s2", OTHER_TAB)) for _ in range(3)] == [True, True, False], (
        "the member's burst of 5 is spent by its two tabs together"
    )
    assert run(sockets.admitted(app, "unknown", "another-tab")), "a socket the guard never saw has its tab's budget"


def test_the_bridge_hooks_the_socket_where_reflex_receives_each_message() -> None:
    """The app's wiring put the guard's hooks on Reflex's event namespace, over the handlers python-socketio calls
    by name: a Reflex upgrade that renames or reshapes one of them fails here."""
    for name, params in {
        "on_connect": ["self", "sid", "environ", "auth"],
        "on_event": ["self", "sid", "data"],
        "on_ping": ["self", "sid"],
        "on_disconnect": ["self", "sid"],
    }.items():
        hook = getattr(EventNamespace, name)
        assert hook.__module__ == reflex_bridge.patches.__name__, f"{name} is not hooked"
        assert list(inspect.signature(hook).parameters) == params
        assert inspect.iscoroutinefunction(hook) == (name != "on_disconnect")
    from reflex.app import _decode_asgi_headers

    assert _decode_asgi_headers([(b"cookie", b"a=1"), (b"cookie", b"b=2")]) == {"cookie": "a=1; b=2"}
    namespace = app.event_namespace
    assert namespace is not None
    assert namespace.server.manager.eio_sid_from_sid("no-such-sid", namespace.namespace) is None
