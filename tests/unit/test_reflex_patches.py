"""The contract of exports_app.reflex_bridge.patches with Reflex itself: each change the app makes to Reflex's own code,
put in place by install() where Reflex calls it, and doing there what the app needs, against the real rx.App, its
event processor and socket, its state managers and its command line's build steps.

A Reflex upgrade that moves, renames or reshapes a function the app patches fails here, in one place.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
import reflex as rx
import reflex_base
from reflex.istate.manager.disk import StateManagerDisk
from reflex.state import BaseState, OnLoadInternalState
from reflex_base.constants.base import LogLevel
from reflex_base.constants.state import FIELD_MARKER
from starlette.applications import Starlette

from exports_app import reflex_bridge as bridge
from exports_app.exports_app import app
from exports_app.reflex_bridge import patches
from exports_app.routes import EXPORTS_ROUTE, PUBLISH_ROUTE
from exports_app.services.auth import Member
from exports_app.services.secrets import member_token
from exports_app.state.auth import AuthState
from exports_app.state.exports import ExportModalState
from exports_app.state.exports_live import ExportsLive
from exports_app.state.publish import PublishState
from exports_app.state.socket_guard import SocketGuard
from exports_app.state.tab_guard import TabGuard
from tests.support.event_loop import run_in_own_loop
from tests.support.reflex_app import (
    OTHER_TAB,
    TAB,
    in_memory,
    own_event,
    running,
    session_cookie,
    sid_of,
    tab_event,
    tab_socket,
    undo_patches_after,
    until,
)
from tests.support.reflex_app import state_manager as state_manager  # the fixture `manager`
from tests.support.socketio_client import NAMESPACE


@dataclass
class Watch:
    """A patches.SocketWatch that notes what it is told, and answers `admit`'s words in turn (then lets all in)."""

    admit: list[bool] = field(default_factory=list)
    told: list[tuple[str, ...]] = field(default_factory=list)

    async def opened(self, app: bridge.LiveApp, sid: str, cookie: str, address: str) -> None:
        self.told.append(("opened", sid, cookie, address))

    async def admitted(self, app: bridge.LiveApp, sid: str, tab: str) -> bool:
        self.told.append(("admitted", sid, tab))
        return self.admit.pop(0) if self.admit else True

    def closed(self, sid: str) -> None:
        self.told.append(("closed", sid))


def test_the_app_installs_its_patches_where_reflex_calls_them() -> None:
    """The app module installed the server's part (exports_app.py): each function Reflex calls by name is the patch,
    and the socket's hooks tell the app's socket guard."""
    from reflex.app import EventNamespace
    from reflex.istate import shared

    assert shared._do_update_other_tokens is patches._fan_out_changes
    assert shared.SharedStateBaseInternal._modify_linked_states is patches._this_events_changes
    assert StateManagerDisk._purge_expired_states is patches._purge_expired_states_now_and_then
    assert rx.state._load_events_for_page is patches._page_load_events
    assert bridge.event_name(ExportModalState, "start_page") in patches._hydrating
    for name in ("on_connect", "on_event", "on_ping", "on_disconnect"):
        hook = getattr(EventNamespace, name)
        assert hook.__module__ == patches.__name__ and inspect_closure(hook, "watch").__class__ is SocketGuard
    from exports_app.api.guard import add_cors

    assert rx.App._add_cors is add_cors


def inspect_closure(function: Any, name: str) -> Any:
    """The value a closure holds under `name`."""
    cells = dict(zip(function.__code__.co_freevars, function.__closure__ or (), strict=True))
    return cells[name].cell_contents


def test_installing_again_replaces_the_patches_and_never_stacks_them(monkeypatch: pytest.MonkeyPatch) -> None:
    from reflex.app import EventNamespace
    from reflex.utils import build

    undo_patches_after(monkeypatch)
    first, second = Watch(), Watch()
    set_up: list[Starlette] = []
    vite: list[str] = []
    monkeypatch.setattr(build, "build", lambda: vite.append("vite"))
    frontend = patches.FrontendBuild(stale=lambda web: True, built=lambda web: None)
    for watch in (first, second):
        patches.install(server=patches.Server(cors=set_up.append, sockets=watch), frontend=frontend)
    on_connect = EventNamespace.on_connect
    assert inspect_closure(on_connect, "watch") is second
    assert inspect_closure(on_connect, "reflex_connect").__module__ == "reflex.app"  # Reflex's own, not a patch
    build.build()  # type: ignore[no-untyped-call]
    assert vite == ["vite"]  # one build, not one per install
    starlette = Starlette()
    rx.App._add_cors(starlette)
    assert set_up == [starlette]


def test_the_socket_hooks_see_every_socket_and_message_before_reflex(monkeypatch: pytest.MonkeyPatch) -> None:
    """install's socket hooks, over a real socket to Reflex's event endpoint: opened with the handshake's cookie and
    address before Reflex links the tab, admitted with the tab before Reflex takes a ping or an event (a ping it does
    not admit Reflex never answers), and closed when the socket ends."""
    in_memory(monkeypatch)
    undo_patches_after(monkeypatch)
    watch = Watch()
    watching: patches.SocketWatch = watch
    patches.install(server=patches.Server(cors=lambda api: None, sockets=watching))
    pongs: list[str] = []

    def note(payload: Any, _at: float) -> None:
        pongs.append(str(payload))

    async def scene() -> None:
        async with tab_socket(note, cookie="a=1") as socket:
            sid = sid_of(TAB)
            assert watch.told == [("opened", sid, "a=1", "127.0.0.1")]
            watch.admit = [False, True]
            socket._send_text(f'42{NAMESPACE},["ping"]')  # dropped
            socket._send_text(f'42{NAMESPACE},["ping"]')
            await until(lambda: pongs != [], "the second ping's answer")
            # Reflex takes a socket's messages in turn: had it answered the first ping, that answer came first.
            assert pongs == ["pong"] and watch.told[1:] == [("admitted", sid, TAB)] * 2
            await socket.close()
            await until(lambda: ("closed", sid) in watch.told, "the socket's end told")

    run_in_own_loop(scene())


def test_the_frontend_runtime_takes_the_pages_port_for_a_portless_backend() -> None:
    template = Path(reflex_base.__file__).parent / ".templates" / "web" / patches.STATE_JS
    state_js = template.read_text()
    patched = patches.backend_on_page_port(state_js)
    assert patched != state_js and patches.backend_on_page_port(patched) == patched  # once, then left alone
    assert "endpoint.port = window.location.port" in patched
    with pytest.raises(RuntimeError):
        patches.backend_on_page_port(state_js.replace("endpoint.hostname = frontend_hostname;", ""))


def test_the_build_step_runs_only_when_the_sources_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    from reflex.utils import build

    undo_patches_after(monkeypatch)
    # The production start builds through the module's `build` (looked up when it runs), so wrapping it holds.
    assert "build" in build.setup_frontend_prod.__code__.co_names
    calls: list[str] = []
    monkeypatch.setattr(build, "build", lambda: calls.append("vite"))
    monkeypatch.setattr("reflex.utils.prerequisites.get_web_dir", lambda: Path("web"))
    stale = True
    built = patches.FrontendBuild(stale=lambda web: stale, built=lambda web: calls.append(f"built {web}"))
    patches.install(frontend=built)
    build.build()  # type: ignore[no-untyped-call]
    stale = False
    build.build()  # type: ignore[no-untyped-call]
    assert calls == ["vite", "built web"]


def test_the_lockfiles_go_back_to_the_checkout_whole_and_only_when_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reflex.utils import frontend_skeleton

    web, checkout = tmp_path / "web", tmp_path / "checkout"
    web.mkdir()
    (checkout / "reflex.lock").mkdir(parents=True)
    monkeypatch.chdir(checkout)
    monkeypatch.setenv("REFLEX_WEB_WORKDIR", str(web))
    undo_patches_after(monkeypatch)
    patches.install(frontend=patches.FrontendBuild(stale=lambda web: False, built=lambda web: None))
    root = checkout / "reflex.lock" / "bun.lock"
    (web / "bun.lock").write_text("one")
    frontend_skeleton.sync_web_lockfiles_to_root()  # type: ignore[no-untyped-call]  # Reflex's caller reaches it
    assert root.read_text() == "one"
    written = root.stat()
    frontend_skeleton.sync_web_lockfiles_to_root()  # type: ignore[no-untyped-call]
    assert root.stat().st_ino == written.st_ino and root.stat().st_mtime_ns == written.st_mtime_ns  # same bytes: kept
    (web / "bun.lock").write_text("two")
    frontend_skeleton.sync_web_lockfiles_to_root()  # type: ignore[no-untyped-call]
    assert root.read_text() == "two" and root.stat().st_ino != written.st_ino  # renamed over, never truncated
    assert sorted(path.name for path in root.parent.iterdir()) == ["bun.lock"]  # nothing staged is left


def test_a_build_without_serving_stops_where_reflex_would_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    from reflex.utils import exec as reflex_exec
    from reflex.utils import prerequisites

    undo_patches_after(monkeypatch)
    # The production start looks each of them up on its module when it runs, so replacing them holds.
    import reflex.reflex as reflex_cli

    assert {"run_backend_prod", "notify_app_running", "notify_frontend"} <= set(reflex_cli._run_prod.__code__.co_names)
    patches.install(frontend=patches.FrontendBuild(stale=lambda web: False, built=lambda web: None, serve=False))
    assert reflex_exec.run_backend_prod("127.0.0.1", 1, LogLevel.WARNING, True) is None
    assert prerequisites.check_schema_up_to_date() is None  # type: ignore[no-untyped-call]


def test_the_production_server_runs_in_the_starting_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """With serving on, Reflex's production backend is gunicorn's own command line run in this process (which becomes
    gunicorn's master), with the command Reflex makes, and no child process; any other command is refused."""
    import subprocess
    import sys

    import gunicorn.app.wsgiapp
    from reflex.environment import environment
    from reflex.utils import exec as reflex_exec
    from reflex.utils import processes

    undo_patches_after(monkeypatch)
    monkeypatch.setenv("REFLEX_USE_GRANIAN", "false")
    monkeypatch.delenv(environment.REFLEX_SKIP_COMPILE.name, raising=False)
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    served: list[tuple[list[str], bool]] = []
    monkeypatch.setattr(
        gunicorn.app.wsgiapp, "run", lambda prog: served.append((sys.argv, environment.REFLEX_SKIP_COMPILE.get()))
    )

    def no_child(*args: object, **kwargs: object) -> None:
        raise AssertionError("the server was started as a child process")

    monkeypatch.setattr(subprocess, "Popen", no_child)
    reflex_new_process = processes.new_process
    patches.install(frontend=patches.FrontendBuild(stale=lambda web: False, built=lambda web: None))
    reflex_exec.run_backend_prod("127.0.0.1", 1, LogLevel.WARNING, True)
    [(argv, skip_compile)] = served
    assert (
        argv[:2] == ["gunicorn", "--preload"] and "127.0.0.1:1" in argv and argv[-3] == "exports_app.exports_app:app()"
    )
    assert skip_compile  # the pages are compiled already: the server only loads them
    assert processes.new_process is reflex_new_process  # put back once the server has stopped
    with pytest.raises(RuntimeError, match="no longer starts its server"):
        patches._gunicorn_in_this_process(["granian", "app:app"], run=True)


def test_the_disk_state_manager_looks_for_expired_tab_states_once_a_minute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reflex's disk state manager (one worker, no Redis) reads every state file's age after each write it makes; the
    app has it look once a minute (a thousand tabs are 12,000 files): an expired state still goes, a minute late."""
    states = tmp_path / "states"
    monkeypatch.setenv("REFLEX_STATES_WORKDIR", str(states))
    expired = time.time() - 2 * bridge.state_expiry_seconds()

    def expired_state(name: str) -> Path:
        path = states / f"{name}.pkl"
        path.write_bytes(b"")
        os.utime(path, (expired, expired))
        return path

    # Reflex's base class declares these methods as abstract overloads: a cold mypy run takes the disk manager for
    # abstract ("get_state-redefinition"; a warm cache did not), so it is built through Any.
    manager: StateManagerDisk = cast(Any, StateManagerDisk)()  # it looks once as it starts
    assert manager.states_directory == states.absolute()
    first = expired_state("first")
    manager._purge_expired_states()  # type: ignore[no-untyped-call]  # as after each write: within the minute, no look
    assert first.exists()
    monkeypatch.setattr(patches, "PURGE_EVERY_S", 0.0)  # the minute has passed
    manager._purge_expired_states()  # type: ignore[no-untyped-call]  # Reflex leaves it unannotated
    assert not first.exists()


@dataclass
class PageLoad:
    """A page load as a tab's socket makes it (the boot event, hydrate_and_load), run by the app's event processor
    to its end."""

    events: list[str]  # the events of the chain the tab guard saw, in order
    seen: list[str]  # every event it saw (the processor may run a chain once more: see load_page)
    deltas: list[tuple[str, dict[str, Any]]]  # the deltas the chain sent the tab, by the event that sent each
    username: str  # what the tab holds afterwards
    link: str
    hydrated: bool


def load_page(manager: str, cookie: str, path: str, last: str, monkeypatch: pytest.MonkeyPatch) -> PageLoad:
    """Connect a tab to the page (hydrate_and_load) and run its chain to the event named `last` (then drain)."""
    events: list[str] = []
    sent: list[tuple[int, dict[str, Any]]] = []
    guard_preprocess = TabGuard.preprocess

    async def counted(self: TabGuard, **given: Any) -> Any:
        events.append(given["event"].name)
        return await guard_preprocess(self, **given)

    async def emit_update(_namespace: Any, update: bridge.StateUpdate, token: str) -> None:
        if token == TAB and update.delta:
            sent.append((len(events) - 1, dict(update.delta)))

    monkeypatch.setattr(TabGuard, "preprocess", counted)
    boot = bridge.event_name(rx.State, "hydrate_and_load")
    shown: list[PageLoad] = []

    async def run() -> None:
        async with running(manager):
            processor = app._event_processor
            assert processor is not None and app.event_namespace is not None
            monkeypatch.setattr(type(app.event_namespace), "emit_update", emit_update)
            router = {"pathname": path, "asPath": path, "headers": {"cookie": cookie}}
            await (await processor.enqueue(TAB, bridge.Event(name=boot, payload={}, router_data=router)))
            # The chain's next event is queued as the one before it ends: join() can return in between.
            deadline = time.monotonic() + 30
            while last not in events and time.monotonic() < deadline:
                await processor.join()
                await asyncio.sleep(0.01)
            await processor.join()
            async with tab_event(cookie) as root:
                username = (await root.get_state(AuthState)).username
                link = bridge.linked_tokens(root).get(ExportsLive.get_full_name(), "")
                hydrated = bool(getattr(root, "is_hydrated", False))
            # The chain of the one boot event sent, to its end (a processor driven by hand, as here, may run it
            # once more after join() returned; a page's socket sends the chain once).
            chain = events[: events.index(last) + 1] if last in events else list(events)
            deltas = [(events[at], delta) for at, delta in sent if 0 <= at < len(chain)]
            shown.append(PageLoad(chain, list(events), deltas, username, link, hydrated))

    run_in_own_loop(run())
    return shown[0]


def test_a_member_page_loads_in_one_event_of_the_apps(
    manager: str, alice: Member, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/exports's on_load is one event of the app's (the header's name, the live list linked and read, the modal
    reset), after Reflex's own hydrate and on_load_internal, and that event ends the page's hydration: Reflex's
    set_is_hydrated event after it, and on_load_internal's frame flagging the page not hydrated yet, would cost each
    tab one more event and two more frames, a connect rush a thousand times."""
    start_page = bridge.event_name(ExportModalState, "start_page")
    boot, on_load = (
        bridge.event_name(rx.State, "hydrate_and_load"),
        bridge.event_name(OnLoadInternalState, "on_load_internal"),
    )
    load = load_page(manager, session_cookie(alice), EXPORTS_ROUTE, start_page, monkeypatch)
    assert load.events == [boot, on_load, start_page]
    assert not [name for name in load.seen if name.endswith("set_is_hydrated")]
    assert (load.username, load.link, load.hydrated) == ("alice", member_token(alice.id), True)
    # Two frames: the hydrate's snapshot, then the page's start with the list and the hydrated flag.
    assert [name for name, _ in load.deltas] == [boot, start_page], load.deltas
    root = rx.State.get_full_name()
    assert load.deltas[1][1][root]["is_hydrated" + FIELD_MARKER] is True
    assert load.deltas[1][1][ExportsLive.get_full_name()]["rows" + FIELD_MARKER] == []  # alice has no exports


def test_a_page_with_more_on_load_events_is_hydrated_after_the_last(
    manager: str, alice: Member, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/publish runs its own on_load after the member page's start: Reflex's set_is_hydrated still ends that chain."""
    hydrated = bridge.event_name(OnLoadInternalState, "set_is_hydrated")
    load = load_page(manager, session_cookie(alice), PUBLISH_ROUTE, hydrated, monkeypatch)
    reflex_own = (OnLoadInternalState.get_full_name(), bridge.event_name(rx.State, "hydrate_and_load"))
    apps = [name for name in load.events if not name.startswith(reflex_own)]
    assert apps == [bridge.event_name(ExportModalState, "start_page"), bridge.event_name(PublishState, "load")]
    assert load.events[-1] == hydrated and load.hydrated


def test_a_handler_ends_its_pages_hydration_only_as_the_pages_one_load_event(manager: str) -> None:
    """hydrated_by_its_one_load_event against Reflex's own page registry: start_page (named in the app's install)
    marks /exports hydrated, where it is the one on_load event; not /publish, which has two; another handler, never."""

    async def run() -> None:
        async with running(manager):
            for tab, path, hydrated in ((TAB, EXPORTS_ROUTE, True), (OTHER_TAB, PUBLISH_ROUTE, False)):
                async with tab_event(tab=tab, path=path) as root:
                    modal = await root.get_state(ExportModalState)
                    patches.hydrated_by_its_one_load_event(modal, "open_modal")
                    assert not cast(rx.State, root).is_hydrated
                    patches.hydrated_by_its_one_load_event(modal, "start_page")
                    assert cast(rx.State, root).is_hydrated is hydrated

    run_in_own_loop(run())


def test_only_what_an_event_changed_in_a_shared_state_goes_to_its_other_tabs(
    manager: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reflex re-sends a shared state to its other linked tabs after every event of a linked tab; with
    share_changes_only, after an event that changed it and did not keep the change to its own tab."""
    resent: list[tuple[set[str], dict[str, set[str]]]] = []

    def reflex_fan_out(tabs: set[str], dirty: dict[str, set[str]], _cls: type[BaseState]) -> list[Any]:
        resent.append((set(tabs), {name: set(names) for name, names in dirty.items()}))
        return []

    monkeypatch.setattr(patches, "_reflex_fan_out", reflex_fan_out)  # under the patch the app installed
    live_name = ExportsLive.get_full_name()

    async def event(tab: str, link: bool = False, keep: bool = False, total: int | None = None) -> None:
        """One event of the tab, as Reflex runs it: the handler's work, then its delta sent (which cleans)."""
        with own_event(tab):
            async with tab_event(tab=tab) as root:
                live = await root.get_state(ExportsLive)
                if link:
                    live = await live._link_to("mfanout")
                if keep:
                    patches.keep_to_this_tab()
                if total is not None:
                    live.total = total
                await bridge.sent_delta(root)

    async def run() -> None:
        async with running(manager):
            await event(OTHER_TAB, link=True, keep=True)
            await event(TAB, link=True, keep=True)  # the second tab links: nothing for the first
            await event(TAB)  # reads the shared state, changes nothing
            await event(OTHER_TAB)
            assert resent == []
            await event(TAB, total=5)
            assert resent == [({OTHER_TAB}, {live_name: {"total", "has_more"}})]
            await event(OTHER_TAB, total=6, keep=True)
            assert len(resent) == 1

    run_in_own_loop(run())
