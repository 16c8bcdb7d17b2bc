"""The contract of exports_app.reflex_bridge with Reflex itself: every function against the real rx.App, its event
processor and its state manager (in memory, and on Redis as several workers run it).

A Reflex upgrade that renames or reshapes an internal the app leans on (linking, shared-state writes, the
connection table, handler registration) fails here, in one place. The tab guard's hand-over runs here too,
through Reflex's own modify_state_with_links, as each event does.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
import reflex as rx
import reflex.istate.shared as reflex_shared
import reflex_base
import sqlalchemy as sa
from redis.asyncio import Redis
from reflex.istate.manager import StateManager
from reflex.istate.manager.disk import StateManagerDisk
from reflex.istate.manager.memory import StateManagerMemory
from reflex.istate.manager.redis import StateManagerRedis
from reflex.state import BaseState, OnLoadInternalState
from reflex_base.constants.base import LogLevel
from reflex_base.constants.state import FIELD_MARKER
from reflex_base.event import Event
from reflex_base.event.context import EventContext
from sqlalchemy.orm import Session

from exports_app import db
from exports_app import reflex_bridge as bridge
from exports_app.db import session_scope
from exports_app.exports_app import app
from exports_app.routes import EXPORTS_ROUTE, PUBLISH_ROUTE
from exports_app.services import auth
from exports_app.services.auth import Member
from exports_app.services.secrets import member_token
from exports_app.state import live_tabs
from exports_app.state.auth import AuthState, LoginState, member_for_cookie
from exports_app.state.exports import ExportModalState, ExportsLive
from exports_app.state.publish import PublishState
from exports_app.state.tab_guard import NEW_TAB_TOKEN, TabGuard, TabOwnerState
from tests.support.event_loop import run_in_own_loop
from tests.support.redis_server import RedisServer

TAB = "0f8fad5b-d9cb-469f-a165-70867728950e"
OTHER_TAB = "7c9e6679-7425-40de-944b-e07fc1f90ae7"


@pytest.fixture(params=["memory", "redis"])
def manager(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> Iterator[str]:
    """The app's state manager for the test: Reflex's memory one, or its Redis one on a private server."""
    monkeypatch.setattr(live_tabs, "_local", defaultdict[str, dict[str, float]](dict))
    monkeypatch.setattr(live_tabs, "_redis_checked", True)
    monkeypatch.setattr(live_tabs, "_redis", None)
    if request.param == "memory":
        monkeypatch.setattr(app, "_state_manager", StateManagerMemory())  # type: ignore[abstract]  # as below
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
async def tab_event(cookie: str = "", tab: str = TAB) -> AsyncIterator[BaseState]:
    """The root of the tab's state for one event, links patched in, as Reflex processes an event."""
    state_manager: StateManager = app.state_manager
    async with state_manager.modify_state_with_links(rx.BaseStateToken(ident=tab, cls=ExportsLive)) as root:
        router = {"token": tab, "pathname": "/exports", "headers": {"cookie": cookie}}
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


def test_handlers_are_found_by_the_names_clients_send(data_dir: Path) -> None:
    name = bridge.event_name(ExportModalState, "open_modal")
    handler = bridge.registered_handler(name)
    assert handler is not None and handler.fn.__name__ == "open_modal"
    assert bridge.handler_hints(handler)["upload_id"] is int
    assert bridge.registered_handler(name + "_nope") is None
    assert bridge.event_name(ExportModalState, "upload").endswith(".upload")
    assert "member" not in bridge.handler_hints(handler)  # member_event's own parameter is no event argument
    assert bridge.running_event() is None  # outside an event
    submit = bridge.registered_handler(bridge.event_name(LoginState, "submit"))
    assert submit is not None  # a form's fields arrive as pairs; the handler gets a dict
    assert bridge.handler_payload(submit, {"form": {"__reflex_form_data__": [["username", "a"]]}}) == {
        "form": {"username": "a"}
    }


def test_linking_writing_and_unlinking_a_shared_state(manager: str) -> None:
    async def run() -> None:
        async with running(manager):
            async with tab_event() as root:
                assert bridge.tab_token(root) == TAB
                linked = await (await root.get_state(ExportsLive))._link_to("mcontract")
                linked.total = 3
                assert bridge.linked_tokens(root) == {ExportsLive.get_full_name(): "mcontract"}
            async with bridge.shared_state(app, "mcontract", ExportsLive) as shared_root:
                live = await shared_root.get_state(ExportsLive)
                assert live.total == 3 and bridge.linked_from(live) == {TAB}
                live.total = 4
                delta = await bridge.sent_delta(shared_root)
                assert delta[ExportsLive.get_full_name()]["total_rx_state_"] == 4
                assert await bridge.sent_delta(shared_root) == {}  # what was sent counts as sent
            async with tab_event() as root:
                live = await root.get_state(ExportsLive)
                assert live.total == 4  # the tab reads the shared state
                assert isinstance(live, rx.SharedState)
                await bridge.unlink(live)
            async with tab_event() as root:
                assert bridge.linked_tokens(root) == {}
                assert (await root.get_state(ExportsLive)).total == 0  # its own copy again
            async with bridge.shared_state(app, "mcontract", ExportsLive) as shared_root:
                assert bridge.linked_from(await shared_root.get_state(ExportsLive)) == set()
            assert not await bridge.connected(app, TAB)  # no socket in a test
            await bridge.emit(app, bridge.StateUpdate(delta={}), TAB)  # to a closed tab: nothing, no error

    run_in_own_loop(run())


def test_the_tab_guard_hands_a_tab_over_when_its_member_changes(manager: str, alice: Member, bob: Member) -> None:
    alice_cookie, bob_cookie = session_cookie(alice), session_cookie(bob)
    guard = TabGuard()

    async def preprocess(cookie: str) -> Any:
        async with tab_event(cookie) as root:
            return await guard.preprocess(app, root, Event(name="state.no_handler", payload={})), root

    async def run() -> None:
        async with running(manager):
            first, _ = await preprocess(alice_cookie)  # alice's first event binds the tab to her
            assert first is None
            assert await live_tabs.owner(TAB) == member_token(alice.id)
            async with tab_event(alice_cookie) as root:  # her page loads her list and opens an export
                live = await (await root.get_state(ExportsLive))._link_to(member_token(alice.id))
                live.total = 7
                (await root.get_state(ExportModalState)).open_title = "Alice's roadmap"
            handed, _ = await preprocess(bob_cookie)  # bob signs in on the same tab
            assert handed is not None and NEW_TAB_TOKEN in str(handed.events)
            async with tab_event(bob_cookie) as root:
                assert bridge.linked_tokens(root) == {}
                assert (await root.get_state(ExportModalState)).open_title == ""
                assert (await root.get_state(ExportsLive)).total == 0
                assert (await root.get_state(TabOwnerState))._member_key == member_token(bob.id)
            assert await live_tabs.owner(TAB) == member_token(bob.id)
            assert TAB not in await live_tabs.of(member_token(alice.id))
            async with bridge.shared_state(app, member_token(alice.id), ExportsLive) as shared_root:
                shared = await shared_root.get_state(ExportsLive)
                assert shared.total == 7 and TAB not in bridge.linked_from(shared)  # her list is intact, unlinked
            signed_out, _ = await preprocess("")  # then signs out: handed over again, bound to no one
            assert signed_out is not None and await live_tabs.owner(TAB) is None
            again, _ = await preprocess("")  # a signed-out tab that holds nothing is left alone
            assert again is None

    run_in_own_loop(run())


def test_the_frontend_runtime_takes_the_pages_port_for_a_portless_backend() -> None:
    template = Path(reflex_base.__file__).parent / ".templates" / "web" / bridge.STATE_JS
    state_js = template.read_text()
    patched = bridge.backend_on_page_port(state_js)
    assert patched != state_js and bridge.backend_on_page_port(patched) == patched  # once, then left alone
    assert "endpoint.port = window.location.port" in patched
    for name in bridge.SAME_HOST_NAMES:  # the host names Reflex's runtime replaces with the page's
        assert f'"{name}"' in state_js.split("SAME_DOMAIN_HOSTNAMES = [", 1)[1].split("]", 1)[0]
    with pytest.raises(RuntimeError):
        bridge.backend_on_page_port(state_js.replace("endpoint.hostname = frontend_hostname;", ""))


def test_the_backend_urls_and_the_build_step_are_where_reflex_keeps_them(monkeypatch: pytest.MonkeyPatch) -> None:
    from reflex.utils import build

    urls = bridge.backend_urls()
    assert {"EVENT", "UPLOAD", "PING"} <= set(urls) and urls["EVENT"].startswith("ws")
    # The production start builds through the module's `build` (looked up when it runs), so wrapping it holds.
    assert "build" in build.setup_frontend_prod.__code__.co_names
    calls: list[str] = []
    monkeypatch.setattr(build, "build", lambda: calls.append("vite"))
    monkeypatch.setattr("reflex.utils.prerequisites.get_web_dir", lambda: Path("web"))
    stale = True
    bridge.build_frontend_only_when(lambda web: stale, lambda web: calls.append(f"built {web}"))
    build.build()  # type: ignore[no-untyped-call]
    stale = False
    build.build()  # type: ignore[no-untyped-call]
    assert calls == ["vite", "built web"]


def test_the_web_dir_is_the_one_reflex_builds_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from reflex.utils import prerequisites

    monkeypatch.delenv("REFLEX_WEB_WORKDIR", raising=False)
    assert bridge.web_dir() == prerequisites.get_web_dir() == Path(".web")
    monkeypatch.setenv("REFLEX_WEB_WORKDIR", str(tmp_path / "web"))  # a test app's own (tests/support/app_process)
    assert bridge.web_dir() == prerequisites.get_web_dir() == tmp_path / "web"


def test_the_lockfiles_go_back_to_the_checkout_whole_and_only_when_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reflex.utils import frontend_skeleton

    web, checkout = tmp_path / "web", tmp_path / "checkout"
    web.mkdir()
    (checkout / "reflex.lock").mkdir(parents=True)
    monkeypatch.chdir(checkout)
    monkeypatch.setenv("REFLEX_WEB_WORKDIR", str(web))
    monkeypatch.setattr(frontend_skeleton, "sync_web_lockfile_to_root", frontend_skeleton.sync_web_lockfile_to_root)
    bridge.persist_lockfiles_whole()
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

    for name in ("run_backend_prod", "notify_app_running", "notify_frontend"):
        monkeypatch.setattr(reflex_exec, name, getattr(reflex_exec, name))
    monkeypatch.setattr(prerequisites, "check_schema_up_to_date", prerequisites.check_schema_up_to_date)
    # The production start looks each of them up on its module when it runs, so replacing them holds.
    import reflex.reflex as reflex_cli

    assert {"run_backend_prod", "notify_app_running", "notify_frontend"} <= set(reflex_cli._run_prod.__code__.co_names)
    bridge.build_without_serving()
    assert reflex_exec.run_backend_prod("127.0.0.1", 1, LogLevel.WARNING, True) is None
    assert prerequisites.check_schema_up_to_date() is None  # type: ignore[no-untyped-call]


def test_an_event_looks_its_session_up_once(manager: str, alice: Member, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tab guard (ahead of every handler) and the handler's own member check share one session lookup: the
    event Reflex processes is one object for both (bridge.event_in_progress), and each event asks again."""
    cookie = session_cookie(alice)
    lookups: list[str] = []
    events: list[str] = []  # every event the app processed: each passes the guard once
    guard_preprocess = TabGuard.preprocess

    async def counted(self: TabGuard, **given: Any) -> Any:
        events.append(given["event"].name)
        return await guard_preprocess(self, **given)

    monkeypatch.setattr(TabGuard, "preprocess", counted)

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "JOIN sessions" in statement:
            lookups.append(statement)

    async def run() -> None:
        async with running(manager):
            processor = app._event_processor
            assert processor is not None
            router = {"pathname": "/no-page-here", "headers": {"cookie": cookie}}  # a page without on_load
            name = bridge.event_name(ExportModalState, "start_page")  # a handler that asks who is signed in
            for _ in range(2):
                await (await processor.enqueue(TAB, Event(name=name, payload={}, router_data=router)))
            await processor.join()
            async with tab_event(cookie) as root:
                assert (await root.get_state(AuthState)).username == "alice"  # the handler ran, signed in

    sa.event.listen(db.get_engine(), "before_cursor_execute", note)
    try:
        run_in_own_loop(run())
    finally:
        sa.event.remove(db.get_engine(), "before_cursor_execute", note)
    assert events.count(bridge.event_name(ExportModalState, "start_page")) == 2, events
    assert len(lookups) == len(events), f"{len(lookups)} session lookups for {len(events)} events: {events}"
    assert bridge.event_in_progress() is None  # outside an event


def test_an_events_session_lookup_is_one_statement_on_a_plain_connection(alice: Member, bob: Member) -> None:
    """Every event's session lookup (the tab guard's) is the one statement on a pooled connection, with no ORM
    session around it: in a connect rush it runs four times per tab, and the ORM's work cost more than the query."""
    orm: list[object] = []
    statements: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    def note_orm(state: object) -> None:
        orm.append(state)

    cookies = [session_cookie(alice), session_cookie(bob)]
    sa.event.listen(Session, "do_orm_execute", note_orm)
    sa.event.listen(db.get_engine(), "before_cursor_execute", note)
    try:
        found = [member_for_cookie(cookie) for cookie in [*cookies, cookies[0], "", "exports_session=nope"]]
    finally:
        sa.event.remove(db.get_engine(), "before_cursor_execute", note)
        sa.event.remove(Session, "do_orm_execute", note_orm)
    assert found == [alice, bob, alice, None, None]
    assert orm == []
    assert len(statements) == 4, statements  # one per cookie with a token (none for a cookie without one)


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
    monkeypatch.setattr(bridge, "PURGE_EVERY_S", 0.0)  # the minute has passed
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
            await (await processor.enqueue(TAB, Event(name=boot, payload={}, router_data=router)))
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


def test_only_what_an_event_changed_in_a_shared_state_goes_to_its_other_tabs(
    manager: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reflex re-sends a shared state to its other linked tabs after every event of a linked tab; with
    share_changes_only, after an event that changed it and did not keep the change to its own tab."""
    resent: list[tuple[set[str], dict[str, set[str]]]] = []

    def reflex_fan_out(tabs: set[str], dirty: dict[str, set[str]], _cls: type[BaseState]) -> list[Any]:
        resent.append((set(tabs), {name: set(names) for name, names in dirty.items()}))
        return []

    monkeypatch.setattr(bridge, "_reflex_fan_out", reflex_fan_out)
    monkeypatch.setattr(reflex_shared, "_do_update_other_tokens", reflex_shared._do_update_other_tokens)
    shared_base = reflex_shared.SharedStateBaseInternal
    monkeypatch.setattr(shared_base, "_modify_linked_states", shared_base._modify_linked_states)
    bridge.share_changes_only()  # as the app does (exports_app.py); undone after the test
    live_name = ExportsLive.get_full_name()

    async def event(tab: str, link: bool = False, keep: bool = False, total: int | None = None) -> None:
        """One event of the tab, as Reflex runs it: the handler's work, then its delta sent (which cleans)."""
        with own_event(tab):
            async with tab_event(tab=tab) as root:
                live = await root.get_state(ExportsLive)
                if link:
                    live = await live._link_to("mfanout")
                if keep:
                    bridge.keep_to_this_tab()
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


def test_the_redis_listeners_a_worker_gave_up_are_started_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """keep_relaying against Reflex's own event namespace and its Redis token manager: the lost-and-found relay and
    the socket-record watcher run after it; once they end (as Reflex ends them after five failures), the next call
    starts them again, and while they run it leaves them be."""
    from reflex.app import EventNamespace
    from reflex.utils.token_manager import RedisTokenManager
    from reflex_base.config import get_config

    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (make test installs it)")

    def listeners(manager: RedisTokenManager) -> tuple[asyncio.Task[Any], asyncio.Task[Any]]:
        tasks = (manager._lost_and_found_task, manager._socket_record_task)
        assert tasks[0] is not None and tasks[1] is not None, "keep_relaying started no listener"
        return tasks[0], tasks[1]

    async def scene() -> None:
        namespace = EventNamespace("/_event", app)  # as Reflex makes it, its token manager from the config
        manager = namespace._token_manager
        assert isinstance(manager, RedisTokenManager)
        monkeypatch.setattr(app, "_event_namespace", namespace)  # where Reflex keeps the one it serves
        bridge.keep_relaying(app)
        first = listeners(manager)
        assert not any(task.done() for task in first)
        bridge.keep_relaying(app)
        assert listeners(manager) == first, "a running listener was started twice"
        for task in first:
            task.cancel()
        await asyncio.gather(*first, return_exceptions=True)
        bridge.keep_relaying(app)
        again = listeners(manager)
        assert not any(task.done() for task in again) and set(again).isdisjoint(first)
        for task in again:
            task.cancel()
        await asyncio.gather(*again, return_exceptions=True)
        await manager.redis.aclose()

    with RedisServer() as server:
        monkeypatch.setattr(get_config(), "redis_url", server.url)
        run_in_own_loop(scene())
