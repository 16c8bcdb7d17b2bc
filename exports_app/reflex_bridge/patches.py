"""Every change this app makes to Reflex's own code, put in place by one call: install().

The app's server (exports_app.py) installs its part as the app module loads: its CORS set-up, the socket guard's hooks
on the event socket, the re-send of shared-state changes limited to what an event changed, the disk state manager's
purge once a minute, and pages hydrated by their one on_load event. The frontend's build and start
(frontend_bundle.py) install theirs before they run Reflex's command line: the Vite build only when the sources
changed, whole lockfile copies, and, for a build alone, no server after it. The one change to Reflex's frontend
runtime (backend_on_page_port) is a text edit the frontend bundle's plugin applies at each compile.

A patch that wraps a function of Reflex's calls Reflex's own, never an earlier patch: installing twice replaces a
patch instead of stacking one on another.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

import reflex as rx
import reflex.istate.shared as reflex_shared
import reflex.state as reflex_state
from reflex.istate.manager.disk import StateManagerDisk
from reflex.state import BaseState
from reflex.utils import prerequisites
from reflex_base.event import Event
from reflex_base.registry import RegistrationContext
from starlette.applications import Starlette

from exports_app.reflex_bridge.events import event_in_progress, event_name
from exports_app.reflex_bridge.states import LiveApp, root_of

if TYPE_CHECKING:
    from reflex.app import EventNamespace

__all__ = [
    "STATE_JS",
    "FrontendBuild",
    "Server",
    "SocketWatch",
    "backend_on_page_port",
    "hydrated_by_its_one_load_event",
    "install",
    "keep_to_this_tab",
]


class SocketWatch(Protocol):
    """Told of the event socket's three moments before Reflex is (state/socket_guard.py's SocketGuard)."""

    async def opened(self, app: LiveApp, sid: str, cookie: str, address: str) -> None:
        """A socket opens: its sid, and the Cookie header and client address of its handshake."""

    async def admitted(self, app: LiveApp, sid: str, tab: str) -> bool:
        """A tab's event or ping arrives on socket `sid`: True lets Reflex have it, False drops it."""

    def closed(self, sid: str) -> None:
        """A socket ends (a connect Reflex refused included)."""


@dataclass(frozen=True)
class Server:
    """The server's part: what the app hands its patches (exports_app.py)."""

    cors: Callable[[Starlette], None]  # sets up CORS where rx.App would (it does so at every build of the app)
    sockets: SocketWatch
    hydrating: Sequence[tuple[type[BaseState], str]] = ()  # (state, handler) that ends its page's hydration itself


@dataclass(frozen=True)
class FrontendBuild:
    """The frontend's part: when `reflex run --env prod` builds the bundle, and whether it serves it after."""

    stale: Callable[[Path], bool]  # whether the web dir's build must be made again
    built: Callable[[Path], None]  # called with the web dir after a build
    serve: bool = True  # False: end once the pages are compiled and the bundle built


def install(*, server: Server | None = None, frontend: FrontendBuild | None = None) -> None:
    """Put the patches of each part given where Reflex will call them."""
    if server is not None:
        rx.App._add_cors = staticmethod(server.cors)  # type: ignore[method-assign, assignment]  # called by name
        reflex_shared.SharedStateBaseInternal._modify_linked_states = _this_events_changes  # type: ignore[method-assign]
        reflex_shared._do_update_other_tokens = _fan_out_changes
        StateManagerDisk._purge_expired_states = _purge_expired_states_now_and_then  # type: ignore[method-assign]
        if server.hydrating:
            _hydrating.update(event_name(state, handler) for state, handler in server.hydrating)
            reflex_state._load_events_for_page = _page_load_events
        _watch_sockets(server.sockets)
    if frontend is not None:
        _persist_lockfiles_whole()
        _build_only_when(frontend.stale, frontend.built)
        if frontend.serve:
            _serve_in_this_process()
        else:
            _build_without_serving()


_REFLEX_OWN = "exports_app_stands_in_for"  # on a patch of ours: the function of Reflex's it calls


def _reflex_own(owner: object, name: str) -> Any:
    """Reflex's own `owner.name`, under a patch of ours if one is there."""
    current = getattr(owner, name)
    return getattr(current, _REFLEX_OWN, current)


def _put(owner: object, name: str, patch: Callable[..., Any], reflex_own: object) -> None:
    setattr(patch, _REFLEX_OWN, reflex_own)
    setattr(owner, name, patch)


# Reflex's re-send of a shared state's changes to the other tabs linked to it: after every event of a linked tab,
# one task per other tab loads that tab's state, patches the shared one in and sends the vars the shared state
# recorded as changed. It records them when it is cleaned while changed, and only then: in one worker the shared
# state is one object, so an event that changes nothing in it re-sends what an earlier event (a link: every var,
# or a push) changed, to every other tab, again and again. Patched: only what this event changed, if anything.
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


# Reflex's disk state manager (one worker without Redis) purges expired tab states by reading the modification time
# of every state file it holds, a dozen per tab ever opened, after every write it makes: at most two seconds apart,
# for states kept an hour. With a thousand tabs open that is 12,000 stat calls every two seconds, in a thread that
# takes the interpreter's lock from the event loop, in a connect rush too. Once a minute is enough for an hour.
PURGE_EVERY_S = 60.0
_reflex_purge_expired_states: Callable[[StateManagerDisk], None] = StateManagerDisk._purge_expired_states
_last_purge: dict[int, float] = {}  # state manager → when it last purged (monotonic)


def _purge_expired_states_now_and_then(self: StateManagerDisk) -> None:
    now, last = time.monotonic(), _last_purge.get(id(self))
    if last is not None and now - last < PURGE_EVERY_S:
        return
    _last_purge[id(self)] = now
    _reflex_purge_expired_states(self)


# Reflex's on_load_internal queues a page's on_load handlers and then set_is_hydrated(True), an event of its own: the
# tab's lock, the guard's session lookup, a delta and a frame, only to flip one flag the frontend reads for its
# browser storage writes (this app keeps nothing there). It also sets the flag False first, which costs a frame of its
# own (an assignment marks a var changed, equal or not). A handler named in Server.hydrating ends its page's hydration
# itself when it is the page's one on_load event, in its own delta: on_load_internal then queues that event alone.
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


def hydrated_by_its_one_load_event(state: BaseState, handler: str) -> None:
    """Mark the tab's page hydrated, from `handler` of `state` (named in Server.hydrating), when it is the page's one
    on_load event: Reflex then queued no set_is_hydrated after it."""
    hydrating = _hydrating_load_event(state)
    if hydrating is not None and hydrating[0].name == event_name(type(state), handler):
        cast(reflex_state.State, root_of(state)).is_hydrated = True


def _watch_sockets(watch: SocketWatch) -> None:
    """Hook Reflex's event socket: `opened` before Reflex takes a new socket, `admitted` before it parses or queues
    anything a tab sends (the boot event that comes with a connect too; False drops it), `closed` when a socket
    ends, a connect Reflex refused included. The socket's receive loop runs them in turn (Reflex handles socket
    messages inline), so a dropped event costs no task, no state load and no lock."""
    from reflex.app import EventNamespace, _decode_asgi_headers

    reflex_connect = _reflex_own(EventNamespace, "on_connect")
    reflex_event, reflex_ping = _reflex_own(EventNamespace, "on_event"), _reflex_own(EventNamespace, "on_ping")
    reflex_disconnect = _reflex_own(EventNamespace, "on_disconnect")

    async def on_connect(self: EventNamespace, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        scope = environ.get("asgi.scope") or {}
        cookie = _decode_asgi_headers(scope.get("headers", [])).get("cookie", "")
        client = scope.get("client") or ("",)  # the peer, or the client a trusted proxy named (uvicorn's rule)
        await watch.opened(self.app, sid, cookie, str(client[0]))
        try:
            await reflex_connect(self, sid, environ, auth)
        except BaseException:
            watch.closed(sid)  # a refused connect never reaches on_disconnect
            raise

    async def on_event(self: EventNamespace, sid: str, data: Any) -> None:
        tab = self.sid_to_token.get(sid)
        if tab is None or await watch.admitted(self.app, sid, tab):
            await reflex_event(self, sid, data)

    async def on_ping(self: EventNamespace, sid: str) -> None:
        tab = self.sid_to_token.get(sid)
        if tab is None or await watch.admitted(self.app, sid, tab):
            await reflex_ping(self, sid)

    def on_disconnect(self: EventNamespace, sid: str) -> asyncio.Task[None] | None:
        watch.closed(sid)
        task: asyncio.Task[None] | None = reflex_disconnect(self, sid)
        return task

    _put(EventNamespace, "on_connect", on_connect, reflex_connect)
    _put(EventNamespace, "on_event", on_event, reflex_event)
    _put(EventNamespace, "on_ping", on_ping, reflex_ping)
    _put(EventNamespace, "on_disconnect", on_disconnect, reflex_disconnect)


def _build_only_when(stale: Callable[[Path], bool], built: Callable[[Path], None]) -> None:
    """The production build step of `reflex run` (Vite, in `reflex.utils.build.build`) runs only when
    `stale(web dir)`, and `built(web dir)` is called after it ran; it removes the previous build before building."""
    from reflex.utils import build

    vite_build: Callable[[], None] = _reflex_own(build, "build")

    def build_when_stale() -> None:
        web = prerequisites.get_web_dir()
        if stale(web):
            vite_build()
            built(web)

    _put(build, "build", build_when_stale, vite_build)


def _build_without_serving() -> None:
    """`reflex run --env prod` ends after it compiled the pages and built the bundle, instead of serving them. It
    neither announces an app that will not run nor compares the database with the models (the pages do not depend
    on it, and a checkout that never ran the migrations has no database)."""
    from reflex.utils import exec as reflex_exec

    def nothing(*args: object, **kwargs: object) -> None:
        return None

    for name in ("run_backend_prod", "notify_app_running", "notify_frontend"):
        setattr(reflex_exec, name, nothing)
    prerequisites.check_schema_up_to_date = nothing


def _serve_in_this_process() -> None:
    """`reflex run --env prod` serves with gunicorn in its own process, which becomes gunicorn's master, instead of
    starting gunicorn as a child process with the same command line and waiting for it.

    The child imported the whole app again (about 1.1 s of CPU a start) to load what this process already holds,
    and it served on as an orphan when only its starter was stopped. Here the process a supervisor starts is the
    server: its SIGTERM is gunicorn's graceful stop, and gunicorn forks the workers from it. Reflex still makes the
    command (options, GUNICORN_CMD_ARGS, the app's target, the skipped compile); only where it runs changes.
    """
    from reflex.utils import exec as reflex_exec
    from reflex.utils import processes

    reflex_run: Callable[..., None] = _reflex_own(reflex_exec, "run_uvicorn_backend_prod")

    def run_uvicorn_backend_prod(*args: Any, **kwargs: Any) -> None:
        reflex_new_process = processes.new_process
        processes.new_process = _gunicorn_in_this_process  # type: ignore[assignment]
        try:
            reflex_run(*args, **kwargs)
        finally:
            processes.new_process = reflex_new_process

    _put(reflex_exec, "run_uvicorn_backend_prod", run_uvicorn_backend_prod, reflex_run)


def _gunicorn_in_this_process(
    command: list[str], run: bool = False, env: dict[str, str] | None = None, **_: Any
) -> None:
    """Reflex's `python -m gunicorn ARG…` (run to its end, with env added), run by gunicorn's own command line in
    this process: it returns, or raises SystemExit, when the server stops."""
    from gunicorn.app.wsgiapp import run as gunicorn

    if command[:3] != [sys.executable, "-m", "gunicorn"] or not run:
        raise RuntimeError(f"Reflex no longer starts its server as `python -m gunicorn`: {command[:3]}")
    os.environ.update(env or {})
    sys.argv = ["gunicorn", *command[3:]]
    gunicorn(prog="gunicorn")


def _persist_lockfiles_whole() -> None:
    """Reflex's copy of the web dir's lockfiles back to `<cwd>/reflex.lock/` writes a file only when its bytes
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
