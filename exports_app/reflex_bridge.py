"""The one module that touches Reflex's private internals, behind a small typed surface.

The live push, the tab guard, the tab address book and the app wiring need a few things Reflex 0.10 keeps to
itself: writing a shared state out of band, its linked tabs, the socket namespace's connection table, a tab's
links and unlinking, the registered handlers and their resolved hints, the Redis client Reflex uses, the event
being processed, the CORS set-up it adds, its re-send of shared-state changes to the other linked tabs, its event
socket's connect, message and disconnect (and closing one socket), and, for
the frontend bundle, the backend URLs it bakes in, one line of its frontend and its production build step. Each is
named here once. `tests/unit/test_reflex_bridge.py` runs every function against a real `rx.App` with its memory
and Redis state managers, so a Reflex upgrade that renames or reshapes one of them fails there, loudly, and
nowhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

import reflex as rx
import reflex.istate.shared as reflex_shared
import reflex.state as reflex_state
from redis.asyncio import Redis
from reflex import constants
from reflex.config import get_config
from reflex.istate.manager import StateManager
from reflex.istate.manager.disk import StateManagerDisk
from reflex.middleware.middleware import Middleware
from reflex.state import BaseState, StateUpdate
from reflex.utils import prerequisites
from reflex_base.event import Event, EventHandler, EventSpec
from reflex_base.event.context import EventContext
from reflex_base.event.processor.base_state_processor import _transform_event_payload
from reflex_base.registry import RegistrationContext
from reflex_base.utils.format import format_event_handler
from starlette.applications import Starlette

if TYPE_CHECKING:
    from reflex.app import EventNamespace

__all__ = [
    "SAME_HOST_NAMES",
    "STATE_JS",
    "EventMiddleware",
    "LiveApp",
    "backend_on_page_port",
    "backend_urls",
    "build_frontend_only_when",
    "build_without_serving",
    "close_socket",
    "persist_lockfiles_whole",
    "StateUpdate",
    "client_events",
    "connected",
    "emit",
    "event_name",
    "event_in_progress",
    "handler_hints",
    "handler_payload",
    "hydrated_by_its_one_load_event",
    "hydrate_with_the_page_load",
    "keep_relaying",
    "keep_to_this_tab",
    "linked_from",
    "linked_tokens",
    "purge_expired_states_now_and_then",
    "redis_client",
    "registered_handler",
    "replace_cors",
    "restore_own_sockets",
    "root_of",
    "run_reflex",
    "running_event",
    "share_changes_only",
    "shared_state",
    "state_expiry_seconds",
    "tab_token",
    "unlink",
    "watch_sockets",
    "web_dir",
]

EventMiddleware = Middleware  # Reflex's event middleware base: preprocess(app, state, event) before each handler


class LiveApp(Protocol):
    """What the push needs of the rx.App, handed over by the app wiring (jobs/ never imports the app)."""

    @property
    def state_manager(self) -> StateManager: ...

    @property
    def event_namespace(self) -> EventNamespace | None: ...

    def set_contexts(self) -> contextlib.AbstractContextManager[Any]: ...


@contextlib.contextmanager
def _contexts_for(app: LiveApp, ident: str) -> Iterator[None]:
    """Reflex's contexts for writing `ident`'s state out of band, as app.modify_state sets them."""
    with app.set_contexts():
        try:
            forked = EventContext.get().fork(token=ident)
        except LookupError:  # no event processor (yet): nothing to fork
            yield
            return
        reset = EventContext.set(forked)
        try:
            yield
        finally:
            EventContext.reset(reset)


@contextlib.asynccontextmanager
async def shared_state(app: LiveApp, ident: str, cls: type[BaseState]) -> AsyncIterator[BaseState]:
    """The root of the state `ident` holds for `cls` (e.g. a member's shared list), locked for writing.

    The plain state-manager write: app.modify_state would add Reflex's per-tab fan-out on exit.
    """
    with _contexts_for(app, ident):
        async with app.state_manager.modify_state(rx.BaseStateToken(ident=ident, cls=cls)) as root:
            yield root


async def sent_delta(root: BaseState) -> dict[str, Any]:
    """What changed in the tree since it was last sent, marked as sent (as app.modify_state does on exit)."""
    delta = await root._get_resolved_delta()
    root._clean()  # type: ignore[no-untyped-call]
    return dict(delta)


def linked_from(shared: rx.SharedState) -> set[str]:
    """The live set of tabs Reflex linked to this shared state (mutate it under the state's lock)."""
    tabs: set[str] = shared._linked_from
    return tabs


async def connected(app: LiveApp, tab: str) -> bool:
    """Whether a tab has a socket on any worker."""
    namespace = app.event_namespace
    return namespace is not None and await namespace._token_manager.is_token_connected(tab)


async def restore_own_sockets(app: LiveApp) -> list[str]:
    """Write back into Redis the socket records of the tabs whose websockets this worker holds, where Redis has
    none (it restarted empty), so other workers can relay to them again; returns those tabs. Reflex itself only
    restores a record on a deletion it is notified of, and a restart sends none."""
    from reflex.utils.token_manager import RedisTokenManager

    namespace = app.event_namespace
    manager = namespace._token_manager if namespace is not None else None
    if not isinstance(manager, RedisTokenManager):
        return []
    own = [
        (tab, record)
        for tab, record in list(manager.token_to_socket.items())
        if record.instance_id == manager.instance_id
    ]
    for tab, record in own:
        await manager._store_socket_record(tab, record, nx=True)
    return [tab for tab, _ in own]


def keep_relaying(app: LiveApp) -> None:
    """Start Reflex's two Redis listeners of this worker again if they stopped (a no-op while they run).

    They relay to this worker's tabs what other workers send them, and keep its cache of which worker holds which
    tab. Reflex gives a listener up after five failures within a minute, which is Redis away for five seconds, and
    starts it again only when a new websocket connects: the tabs already open would never again get a push that
    another worker makes."""
    from reflex.utils.token_manager import RedisTokenManager

    namespace = app.event_namespace
    manager = namespace._token_manager if namespace is not None else None
    if namespace is None or not isinstance(manager, RedisTokenManager):
        return
    manager.ensure_lost_and_found_task(namespace.emit_update)
    manager._ensure_socket_record_task()


async def emit(app: LiveApp, update: StateUpdate, tab: str) -> None:
    """Send an update to a tab (relayed by Reflex to the worker holding its socket)."""
    if app.event_namespace is not None:
        await app.event_namespace.emit_update(update, tab)


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


# Reflex's re-send of a shared state's changes to the other tabs linked to it: after every event of a linked tab,
# one task per other tab loads that tab's state, patches the shared one in and sends the vars the shared state
# recorded as changed. It records them when it is cleaned while changed, and only then: in one worker the shared
# state is one object, so an event that changes nothing in it re-sends what an earlier event (a link: every var,
# or a push) changed, to every other tab, again and again.
_reflex_fan_out = reflex_shared._do_update_other_tokens
_reflex_modify_linked_states = reflex_shared.SharedStateBaseInternal._modify_linked_states
_kept_to_this_tab: ContextVar[object | None] = ContextVar("kept_to_this_tab", default=None)


def keep_to_this_tab() -> None:
    """What this event changes in a shared state goes to this tab only, not to the other tabs linked to it (a tab
    linking marks every var of the shared state changed, though the linked tabs already hold them)."""
    _kept_to_this_tab.set(event_in_progress())


@contextlib.asynccontextmanager
async def _this_events_changes(
    self: reflex_shared.SharedStateBaseInternal, previous_dirty_vars: dict[str, set[str]] | None = None
) -> AsyncIterator[None]:
    """Reflex's _modify_linked_states, with the linked states' record of changes started afresh for the event."""
    async with _reflex_modify_linked_states(self, previous_dirty_vars):
        if previous_dirty_vars is None:  # a tab's own event (not Reflex re-sending another tab's changes to it)
            for linked in self._held_locks_linked_states():
                if linked._previous_dirty_vars is not None:
                    linked._previous_dirty_vars.clear()
        yield


def _fan_out_changes(
    affected_tokens: set[str], previous_dirty_vars: dict[str, set[str]], state_type: type[BaseState]
) -> list[asyncio.Task[None]]:
    event = event_in_progress()
    if event is not None and _kept_to_this_tab.get() is event:
        return []
    if not any(previous_dirty_vars.values()):  # the event changed nothing in the shared state
        return []
    tasks: list[asyncio.Task[None]] = _reflex_fan_out(affected_tokens, previous_dirty_vars, state_type)
    return tasks


def share_changes_only() -> None:
    """Re-send to a shared state's other linked tabs only what an event of one of them changed in it: nothing for
    an event that changed nothing, and nothing for an event that kept its changes to its own tab
    (keep_to_this_tab)."""
    reflex_shared.SharedStateBaseInternal._modify_linked_states = _this_events_changes  # type: ignore[method-assign]
    reflex_shared._do_update_other_tokens = _fan_out_changes


# Reflex's disk state manager (one worker without Redis) purges expired tab states by reading the modification time
# of every state file it holds, a dozen per tab ever opened, after every write it makes: at most two seconds apart,
# for states kept an hour. With a thousand tabs open that is 12,000 stat calls every two seconds, in a thread that
# takes the interpreter's lock from the event loop, in a connect rush too. Once a minute is enough for an hour.
PURGE_EVERY_S = 60.0
_reflex_purge_expired_states: Callable[[StateManagerDisk], None] = StateManagerDisk._purge_expired_states


def _purge_expired_states_now_and_then(self: StateManagerDisk) -> None:
    now, last = time.monotonic(), _last_purge.get(id(self))
    if last is not None and now - last < PURGE_EVERY_S:
        return
    _last_purge[id(self)] = now
    _reflex_purge_expired_states(self)


_last_purge: dict[int, float] = {}  # state manager → when it last purged (monotonic)


def purge_expired_states_now_and_then() -> None:
    """Make Reflex's disk state manager look for expired tab states at most every PURGE_EVERY_S seconds (it looks
    after every write it makes, reading every state file's modification time)."""
    StateManagerDisk._purge_expired_states = _purge_expired_states_now_and_then  # type: ignore[method-assign]


# Reflex's on_load_internal queues a page's on_load handlers and then set_is_hydrated(True), an event of its own: the
# tab's lock, the guard's session lookup, a delta and a frame, only to flip one flag the frontend reads for its
# browser storage writes (this app keeps nothing there). It also sets the flag False first, which costs a frame of its
# own (an assignment marks a var changed, equal or not). A handler named here ends its page's hydration itself when it
# is the page's one on_load event, in its own delta: on_load_internal then queues that event alone and sends nothing.
_reflex_load_events_for_page = reflex_state._load_events_for_page
_hydrating: set[str] = set()  # full event names of the handlers that end a page's hydration themselves


def _hydrating_load_event(state: BaseState) -> list[Event] | None:
    """[the event] when the page the tab is on has one on_load event and it is a handler named here, else None."""
    path = cast(reflex_state.State, root_of(state)).rx_router_url.path
    events = Event.from_event_type(RegistrationContext.get().app.get_load_events(path))
    return events if len(events) == 1 and events[0].name in _hydrating else None


def _page_load_events(state: reflex_state.State) -> list[Any] | None:
    hydrating = _hydrating_load_event(state)
    if hydrating is not None:
        return list(hydrating)  # no is_hydrated False now and no set_is_hydrated after: the handler sets it
    events: list[Any] | None = _reflex_load_events_for_page(state)
    return events


def hydrate_with_the_page_load(state: type[BaseState], handler: str) -> None:
    """A page whose one on_load event is `state.handler` is hydrated by that handler (hydrated_by_its_one_load_event),
    not by one more event Reflex queues after it."""
    _hydrating.add(event_name(state, handler))
    reflex_state._load_events_for_page = _page_load_events


def hydrated_by_its_one_load_event(state: BaseState, handler: str) -> None:
    """Mark the tab's page hydrated, from `handler` of `state` (named with hydrate_with_the_page_load), when it is the
    page's one on_load event: Reflex then queued no set_is_hydrated after it."""
    hydrating = _hydrating_load_event(state)
    if hydrating is not None and hydrating[0].name == event_name(type(state), handler):
        cast(reflex_state.State, root_of(state)).is_hydrated = True


def root_of(state: BaseState) -> BaseState:
    return state._get_root_state()


def tab_token(state: BaseState) -> str:
    """The client token (one browser tab) a state tree belongs to."""
    return root_of(state).router.session.client_token


def linked_tokens(root: BaseState) -> dict[str, str]:
    """The shared states this tab is linked to: state full name → shared token."""
    links = getattr(root, "_reflex_internal_links", None)
    return dict(links) if isinstance(links, dict) else {}


async def unlink(shared: rx.SharedState) -> None:
    """Undo the tab's link: later events see the tab's own copy, and the tab leaves the shared state's links."""
    await shared._unlink()  # type: ignore[no-untyped-call]


def registered_handler(name: str) -> EventHandler | None:
    """The event handler a client event names, or None for a name no state registered."""
    registered = RegistrationContext.get().event_handlers.get(name)
    return registered.handler if registered is not None else None


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


def redis_client() -> Redis | None:
    """The Redis client of the app's state manager when REFLEX_REDIS_URL is set (several workers), else None."""
    return prerequisites.get_redis()


def state_expiry_seconds() -> int:
    """How long Reflex keeps a tab's state after its last change."""
    return int(get_config().redis_token_expiration)


def replace_cors(add_cors: Callable[[Starlette], None]) -> None:
    """Put `add_cors` where rx.App sets up CORS (it calls App._add_cors by name, on every build)."""
    rx.App._add_cors = staticmethod(add_cors)  # type: ignore[method-assign, assignment]


# The host names Reflex's frontend takes for "the page's own host" (SAME_DOMAIN_HOSTNAMES in its utils/state.js).
SAME_HOST_NAMES = ("localhost", "0.0.0.0", "::", "0:0:0:0:0:0:0:0")
STATE_JS = "utils/state.js"  # Reflex's frontend runtime, in the web dir
_PAGE_HOST = "    endpoint.hostname = frontend_hostname;\n"
_PAGE_PORT = '    if (endpoint.port === "") endpoint.port = window.location.port; // added by exports_app\n'


def backend_on_page_port(state_js: str) -> str:
    """Reflex's frontend runtime with one line added where it resolves a backend URL: a URL on a same-host name
    that names no port takes the page's port too, as it already takes the page's host. Idempotent (Reflex keeps
    the file between compiles); RuntimeError if Reflex's line is not there."""
    if _PAGE_PORT in state_js:
        return state_js
    if _PAGE_HOST not in state_js:
        raise RuntimeError(f"Reflex's {STATE_JS} no longer sets the backend's host from the page's")
    return state_js.replace(_PAGE_HOST, _PAGE_HOST + _PAGE_PORT, 1)


def backend_urls() -> dict[str, str]:
    """The backend URLs Reflex writes into the frontend's env.json, by endpoint name (EVENT, UPLOAD, …)."""
    return {endpoint.name: endpoint.get_url() for endpoint in constants.Endpoint}


def web_dir() -> Path:
    """The frontend work dir Reflex compiles into, builds in and serves the pages from (REFLEX_WEB_WORKDIR)."""
    return prerequisites.get_web_dir()


def build_frontend_only_when(stale: Callable[[Path], bool], built: Callable[[Path], None]) -> None:
    """Make the production build step of `reflex run` (Vite, in `reflex.utils.build.build`) run only when
    `stale(web dir)`, and call `built(web dir)` after it ran; it removes the previous build before building."""
    from reflex.utils import build

    vite_build: Callable[[], None] = build.build

    def build_when_stale() -> None:
        web = prerequisites.get_web_dir()
        if stale(web):
            vite_build()
            built(web)

    build.build = build_when_stale


def run_reflex(args: Sequence[str]) -> None:
    """Reflex's own command line (`reflex <args>`) in this process."""
    from reflex.reflex import cli

    cli.main(args=list(args), prog_name="reflex")


def build_without_serving() -> None:
    """Make `reflex run --env prod` end after it compiled the pages and built the bundle, instead of serving them.
    It neither announces an app that will not run nor compares the database with the models (the pages do not
    depend on it, and a checkout that never ran the migrations has no database)."""
    from reflex.utils import exec as reflex_exec

    def nothing(*args: object, **kwargs: object) -> None:
        return None

    for name in ("run_backend_prod", "notify_app_running", "notify_frontend"):
        setattr(reflex_exec, name, nothing)
    prerequisites.check_schema_up_to_date = nothing


def persist_lockfiles_whole() -> None:
    """Make Reflex's copy of the web dir's lockfiles back to `<cwd>/reflex.lock/` write a file only when its bytes
    changed, and then whole: written beside it and renamed over it.

    Reflex copies bun.lock and package.json back after every compile (`frontend_skeleton.sync_web_lockfile_to_root`)
    by truncating and writing the tracked files. Starts at once from one checkout (the test suite's apps, `make run`
    beside `make test`) then raced: one read the empty bun.lock another was writing, installed against it and
    refused to start, or persisted the empty file, and the checkout could not `make run` again.
    """
    from reflex.utils import frontend_skeleton

    def sync_web_lockfile_to_root(filename: str) -> None:
        web = frontend_skeleton.get_web_lockfile_path(filename)
        if not web.is_file():
            return
        content = web.read_bytes()
        root = frontend_skeleton.get_root_lockfile_path(filename)
        if root.is_file() and root.read_bytes() == content:
            return
        root.parent.mkdir(parents=True, exist_ok=True)
        staged = root.with_name(f".{root.name}.{os.getpid()}.new")
        staged.write_bytes(content)
        os.replace(staged, root)

    frontend_skeleton.sync_web_lockfile_to_root = sync_web_lockfile_to_root


# The event socket's three moments, for the socket guard (state/socket_guard.py): a socket opens (its sid, the
# Cookie header and client address of its handshake), a tab's event or ping arrives (its sid and tab token: True
# lets Reflex have it), a socket ends (its sid).
SocketOpened = Callable[[LiveApp, str, str, str], Awaitable[None]]
EventAdmitted = Callable[[LiveApp, str, str], Awaitable[bool]]
SocketClosed = Callable[[str], None]


def watch_sockets(*, opened: SocketOpened, admitted: EventAdmitted, closed: SocketClosed) -> None:
    """Hook Reflex's event socket: `opened` before Reflex takes a new socket, `admitted` before it parses or queues
    anything a tab sends (the boot event that comes with a connect too; False drops it), `closed` when a socket
    ends, a connect Reflex refused included. The socket's receive loop runs them in turn (Reflex handles socket
    messages inline), so a dropped event costs no task, no state load and no lock."""
    from reflex.app import EventNamespace, _decode_asgi_headers

    reflex_connect, reflex_disconnect = EventNamespace.on_connect, EventNamespace.on_disconnect
    reflex_event, reflex_ping = EventNamespace.on_event, EventNamespace.on_ping

    async def on_connect(self: EventNamespace, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        scope = environ.get("asgi.scope") or {}
        cookie = _decode_asgi_headers(scope.get("headers", [])).get("cookie", "")
        client = scope.get("client") or ("",)  # the peer, or the client a trusted proxy named (uvicorn's rule)
        await opened(self.app, sid, cookie, str(client[0]))
        try:
            await reflex_connect(self, sid, environ, auth)
        except BaseException:
            closed(sid)  # a refused connect never reaches on_disconnect
            raise

    async def on_event(self: EventNamespace, sid: str, data: Any) -> None:
        tab = self.sid_to_token.get(sid)
        if tab is None or await admitted(self.app, sid, tab):
            await reflex_event(self, sid, data)

    async def on_ping(self: EventNamespace, sid: str) -> None:
        tab = self.sid_to_token.get(sid)
        if tab is None or await admitted(self.app, sid, tab):
            await reflex_ping(self, sid)

    def on_disconnect(self: EventNamespace, sid: str) -> asyncio.Task[None] | None:
        closed(sid)
        task: asyncio.Task[None] | None = reflex_disconnect(self, sid)
        return task

    EventNamespace.on_connect = on_connect  # type: ignore[method-assign]
    EventNamespace.on_event = on_event  # type: ignore[method-assign]
    EventNamespace.on_ping = on_ping  # type: ignore[method-assign]
    EventNamespace.on_disconnect = on_disconnect  # type: ignore[method-assign]


async def close_socket(app: LiveApp, sid: str, update: StateUpdate) -> None:
    """Send `update` to the socket `sid` (not to its tab token, which a newer socket may hold now), then end it:
    the namespace first (the page's socket.io client does not reconnect after the server's disconnect; Reflex then
    cleans up as for any disconnect), then its connection, so a client that ignores the disconnect holds nothing."""
    namespace = app.event_namespace
    if namespace is None:
        return
    server = namespace.server
    connection = server.manager.eio_sid_from_sid(sid, namespace.namespace)
    if connection is None:  # already gone
        return
    await namespace.emit(str(constants.SocketEvent.EVENT), update, to=sid)
    await namespace.disconnect(sid)
    await server.eio.disconnect(connection)
