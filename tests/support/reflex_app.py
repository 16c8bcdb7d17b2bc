"""The app's Reflex machinery in this process, as a worker runs it, for the bridge's contract tests.

The state manager (in memory, or Redis on a private server), the event processor and contexts, a tab's state for one
event, and Reflex's own socket endpoint served on a free port of the test's loop with a tab's socket to it; and a way
to install the bridge's patches in a test and have them undone after it.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import pytest
import reflex as rx
import uvicorn
from redis.asyncio import Redis
from reflex.istate.manager import StateManager
from reflex.istate.manager.memory import StateManagerMemory
from reflex.istate.manager.redis import StateManagerRedis
from reflex.state import BaseState
from reflex_base.event.context import EventContext

from exports_app.db import session_scope
from exports_app.exports_app import app
from exports_app.services import auth
from exports_app.services.auth import Member
from exports_app.state import live_tabs
from exports_app.state.exports_live import ExportsLive
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer
from tests.support.socketio_client import AsyncEventSocket, FrameHandler, open_socket_async

TAB = "0f8fad5b-d9cb-469f-a165-70867728950e"
OTHER_TAB = "7c9e6679-7425-40de-944b-e07fc1f90ae7"


def in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's tab records and states in this process's memory for the test (Reflex's memory state manager)."""
    monkeypatch.setattr(live_tabs, "_local", defaultdict[str, dict[str, float]](dict))
    monkeypatch.setattr(live_tabs, "_redis_checked", True)
    monkeypatch.setattr(live_tabs, "_redis", None)
    monkeypatch.setattr(app, "_state_manager", StateManagerMemory())  # type: ignore[abstract]  # see running()


@pytest.fixture(name="manager", params=["memory", "redis"])
def state_manager(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> Iterator[str]:
    """`manager`: the app's state manager for the test, Reflex's memory one or its Redis one on a private server (the
    test module imports this function to have the fixture)."""
    in_memory(monkeypatch)
    if request.param == "memory":
        yield request.param
        return
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (make test installs it)")
    with RedisServer() as server:
        monkeypatch.setattr(app, "_state_manager", None)  # made per event loop below
        monkeypatch.setattr(live_tabs, "_client", lambda: Redis.from_url(server.url))
        yield server.url


@asynccontextmanager
async def running(manager: str) -> AsyncIterator[None]:
    """The app's event processor and contexts, as a worker runs them (the Redis manager made in this loop)."""
    if manager != "memory":
        # mypy takes Reflex's overloaded state methods for abstract ones ("get_state-redefinition").
        app._state_manager = StateManagerRedis(redis=Redis.from_url(manager))  # type: ignore[abstract]
    async with app._setup_event_processor():
        with app.set_contexts():
            yield


@asynccontextmanager
async def tab_event(cookie: str = "", tab: str = TAB, path: str = "/exports") -> AsyncIterator[BaseState]:
    """The root of the tab's state for one event on page `path`, links patched in, as Reflex processes an event."""
    state_manager: StateManager = app.state_manager
    async with state_manager.modify_state_with_links(rx.BaseStateToken(ident=tab, cls=ExportsLive)) as root:
        router = {"token": tab, "pathname": path, "asPath": path, "headers": {"cookie": cookie}}
        root.router_data = root._update_router_vars(router, root.router_data or {})
        yield root


@contextmanager
def own_event(tab: str) -> Iterator[None]:
    """The event context Reflex gives each event it processes (forked from the processor's)."""
    reset = EventContext.set(EventContext.get().fork(token=tab))
    try:
        yield
    finally:
        EventContext.reset(reset)


def session_cookie(member: Member) -> str:
    with session_scope() as session:
        return f"{auth.SESSION_COOKIE}={auth.start_session(session=session, member=member, days=1).token}"


@asynccontextmanager
async def serving_reflex() -> AsyncIterator[str]:
    """Reflex's own backend (its event socket, /ping, /_health; not the app's API or guard) served on a free port
    by this loop, as a worker serves it: its URL. Inside `running`, so its events have the app's processor."""
    from reflex.app import _ContextMiddleware

    assert app._api is not None  # made with the app (its socket mounted at /_event)
    port = free_port()
    asgi = _ContextMiddleware(app._api, reflex_app=app)
    config = uvicorn.Config(asgi, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    config.timeout_graceful_shutdown = 5
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()  # it could not start: say why
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving


@asynccontextmanager
async def tab_socket(on_event: FrameHandler, cookie: str | None = None) -> AsyncIterator[AsyncEventSocket]:
    """The tab TAB's socket to Reflex's own event endpoint, served by this loop on the memory state manager (call
    in_memory first), joined as the page joins it (without a boot event)."""
    async with running("memory"), serving_reflex() as url:
        socket = await open_socket_async(url, TAB, cookie=cookie, origin=None, on_event=on_event)
        try:
            assert socket.upgraded and await socket.join(None), socket
            yield socket
        finally:
            await socket.close()


async def until(done: Callable[[], bool], what: str) -> None:
    """Wait for something a socket brings (30 s at most: a hang, not a measure)."""
    deadline = time.monotonic() + 30
    while not done():
        assert time.monotonic() < deadline, f"never: {what}"
        await asyncio.sleep(0.01)


def sid_of(tab: str) -> str:
    """The socket.io session id of the tab's socket (this process's)."""
    namespace = app.event_namespace
    assert namespace is not None
    return next(sid for sid, token in namespace.sid_to_token.items() if token == tab)


def undo_patches_after(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every attribute of Reflex's that reflex_bridge.patches.install replaces is put back after the test, so a test
    may install the patches its own way."""
    from reflex import state as reflex_state
    from reflex.app import EventNamespace
    from reflex.istate import shared
    from reflex.istate.manager.disk import StateManagerDisk
    from reflex.utils import build, frontend_skeleton, prerequisites
    from reflex.utils import exec as reflex_exec

    from exports_app.reflex_bridge import patches

    targets: list[tuple[object, str]] = [
        (rx.App, "_add_cors"),
        (shared.SharedStateBaseInternal, "_modify_linked_states"),
        (shared, "_do_update_other_tokens"),
        (StateManagerDisk, "_purge_expired_states"),
        (reflex_state, "_load_events_for_page"),
        *((EventNamespace, name) for name in ("on_connect", "on_event", "on_ping", "on_disconnect")),
        (build, "build"),
        (frontend_skeleton, "sync_web_lockfile_to_root"),
        *((reflex_exec, name) for name in ("run_backend_prod", "notify_app_running", "notify_frontend")),
        (prerequisites, "check_schema_up_to_date"),
    ]
    for owner, name in targets:
        monkeypatch.setattr(owner, name, vars(owner)[name])  # as it is, staticmethod and all
    monkeypatch.setattr(patches, "_hydrating", set(patches._hydrating))
