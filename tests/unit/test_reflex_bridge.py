"""The contract of exports_app.reflex_bridge's surface with Reflex itself: every name it exports, run against the real
rx.App, its event processor, its event socket and its state manager (in memory, and on Redis as several workers run
it).

A Reflex upgrade that renames or reshapes an internal the app leans on (linking, shared-state writes, the
connection table, handler registration, its names on the wire) fails here, in one place. The tab guard's hand-over
runs here too, through Reflex's own modify_state_with_links, as each event does. What the app changes in Reflex's
own code (reflex_bridge/patches.py) has its contract in test_reflex_patches.py; the first test here holds both
files to every name the bridge exports.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import reflex as rx
import reflex_base
import sqlalchemy as sa
from reflex.compiler.utils import compile_imports
from reflex_components_core.core import _upload
from sqlalchemy.orm import Session

from exports_app import db
from exports_app import reflex_bridge as bridge
from exports_app.components.hls_player import HlsVideo
from exports_app.exports_app import app
from exports_app.reflex_bridge import patches
from exports_app.services.auth import Member
from exports_app.services.secrets import member_token
from exports_app.state import live_tabs
from exports_app.state.auth import AuthState, LoginState, member_for_cookie
from exports_app.state.exports import ExportModalState
from exports_app.state.exports_live import ExportsLive
from exports_app.state.tab_guard import NEW_TAB_TOKEN, TabGuard, TabOwnerState
from tests.support.event_loop import run_in_own_loop
from tests.support.redis_server import RedisServer
from tests.support.reflex_app import (
    OTHER_TAB,
    TAB,
    in_memory,
    running,
    session_cookie,
    sid_of,
    tab_event,
    tab_socket,
    until,
)
from tests.support.reflex_app import state_manager as state_manager  # the fixture `manager`

PATCHES_CONTRACT = Path(__file__).with_name("test_reflex_patches.py")
REFLEX_WEB = Path(reflex_base.__file__).parent / ".templates" / "web"


def names_taken_from(module: str, test: Path) -> set[str]:
    """The names a test module takes from `module` (by its alias there: `bridge.x`, `patches.y`)."""
    return {
        node.attr
        for node in ast.walk(ast.parse(test.read_text()))
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == module
    }


def test_every_name_the_bridge_exports_is_run_by_its_contract_tests() -> None:
    """The bridge's promise: a Reflex upgrade that breaks any name it exports fails in its contract tests. The
    surface's names are run here, the patches' (and those the surface hands on from them) in test_reflex_patches."""
    surface = set(bridge.__all__) - set(patches.__all__)
    unrun = {
        "test_reflex_bridge.py": surface - names_taken_from("bridge", Path(__file__)),
        "test_reflex_patches.py": set(patches.__all__) - names_taken_from("patches", PATCHES_CONTRACT),
    }
    assert unrun == {"test_reflex_bridge.py": set(), "test_reflex_patches.py": set()}, "add a test for each"
    assert all(hasattr(bridge, name) for name in bridge.__all__) and all(hasattr(patches, n) for n in patches.__all__)


def test_handlers_are_found_by_the_names_clients_send(data_dir: Path) -> None:
    name = bridge.event_name(ExportModalState, "open_modal")
    handler = bridge.registered_handler(name)
    assert handler is not None and bridge.handler_function(handler).__name__ == "open_modal"
    assert list(inspect.signature(bridge.handler_function(handler)).parameters) == ["self", "upload_id"]
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
    assert bridge.Event(name=name, payload={"upload_id": 1}).name == name  # the event a middleware is handed
    assert issubclass(TabGuard, bridge.EventMiddleware)
    assert AuthState in bridge.substates_of(rx.State) and bridge.substates_of(AuthState) == set()


def test_linking_writing_and_unlinking_a_shared_state(manager: str) -> None:
    async def run() -> None:
        async with running(manager):
            async with tab_event() as root:
                assert isinstance(root, bridge.BaseState) and bridge.root_of(root) is root
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
            return await guard.preprocess(app, root, bridge.Event(name="state.no_handler", payload={})), root

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


def test_a_worker_writes_its_tabs_socket_records_back_into_an_emptied_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    """restore_own_sockets against Reflex's Redis token manager, two workers: the record of a tab whose socket this
    worker holds, gone with a Redis restart, is written back, so the other worker sees the tab connected again and
    relays to it; it lives as long as a tab's state. Without Redis there is nothing to restore."""
    from reflex.app import EventNamespace
    from reflex.utils.token_manager import RedisTokenManager
    from reflex_base.config import get_config

    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (make test installs it)")
    assert bridge.redis_client() is None  # one worker: states and socket records in memory
    assert run_in_own_loop(bridge.restore_own_sockets(app)) == []

    async def scene() -> None:
        here, there = EventNamespace("/_event", app), EventNamespace("/_event", app)  # two workers' namespaces
        assert isinstance(here._token_manager, RedisTokenManager)
        assert isinstance(there._token_manager, RedisTokenManager)
        monkeypatch.setattr(app, "_event_namespace", here)  # this worker's
        redis = bridge.redis_client()
        assert redis is not None
        try:
            await here._token_manager.link_token_to_sid(TAB, "sid-here")  # the tab's socket opens on this worker
            assert await there._token_manager.is_token_connected(TAB)
            await redis.flushall()  # Redis restarts empty
            assert not await there._token_manager.is_token_connected(TAB)
            assert await bridge.restore_own_sockets(app) == [TAB]
            assert await there._token_manager.is_token_connected(TAB)  # relayed to again
            assert 0 < await redis.ttl(here._token_manager._get_redis_key(TAB)) <= bridge.state_expiry_seconds()
        finally:
            for namespace in (here, there):
                await namespace._token_manager.close()
            await redis.aclose()

    with RedisServer() as server:
        monkeypatch.setattr(get_config(), "redis_url", server.url)
        run_in_own_loop(scene())


def test_a_tab_on_a_socket_is_reached_and_its_socket_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    """connected, emit and close_socket over a real socket to Reflex's event endpoint, its hooks as the app installs
    them: the tab is connected while its socket is open, an update reaches it, and close_socket sends the socket its
    last update and ends it, after which the tab is no longer connected and a second close does nothing."""
    in_memory(monkeypatch)
    frames: list[str] = []

    def note(payload: Any, _at: float) -> None:
        frames.append(json.dumps(payload))

    def told(script: str) -> bridge.StateUpdate:
        return bridge.StateUpdate(events=bridge.client_events(rx.call_script(script)))

    async def scene() -> None:
        live: bridge.LiveApp = app
        async with tab_socket(note) as socket:
            assert await bridge.connected(live, TAB) and not await bridge.connected(live, OTHER_TAB)
            await bridge.emit(live, told("first()"), TAB)
            await until(lambda: any("first()" in frame for frame in frames), "the tab gets the update")
            sid = sid_of(TAB)
            await bridge.close_socket(live, sid, told("last()"))
            await until(lambda: socket.closed, "the socket ends")
            assert "last()" in frames[-1]
            await until(lambda: not live_connected(), "Reflex forgets the tab")
            await bridge.close_socket(live, sid, told("again()"))  # gone already: nothing, no error
        assert not any("again()" in frame for frame in frames)

    def live_connected() -> bool:
        namespace = app.event_namespace
        return namespace is not None and TAB in namespace.sid_to_token.values()

    run_in_own_loop(scene())


def test_reflexs_names_on_the_wire_are_the_ones_it_uses() -> None:
    """The upload route and its two headers as Reflex's frontend sends them and its route reads them, its health
    route, the browser's key of the tab token, and the host names its frontend takes for the page's own."""
    upload_js = (REFLEX_WEB / "utils" / "helpers" / "upload.js").read_text().lower()
    upload_route = inspect.getsource(_upload).lower()
    for header in (bridge.CLIENT_TOKEN_HEADER, bridge.HANDLER_HEADER):
        assert f'setrequestheader("{header}"' in upload_js and f'headers.get("{header}")' in upload_route
    urls = bridge.backend_urls()
    assert {"EVENT", "UPLOAD", "PING"} <= set(urls) and urls["EVENT"].startswith("ws")
    assert urls["UPLOAD"].endswith(bridge.UPLOAD_PATH)
    assert app._api is not None and bridge.HEALTH_PATH in [getattr(route, "path", None) for route in app._api.routes]
    state_js = (REFLEX_WEB / "utils" / "state.js").read_text()
    token_key = state_js.split("const TOKEN_KEY = ", 1)[1].split(";", 1)[0]
    assert "window.sessionStorage.getItem(TOKEN_KEY)" in state_js
    assert bridge.FORGET_TAB_TOKEN == f"window.sessionStorage.removeItem({token_key.replace(chr(34), chr(39))});"
    assert NEW_TAB_TOKEN.startswith(bridge.FORGET_TAB_TOKEN)
    same_hosts = state_js.split("SAME_DOMAIN_HOSTNAMES = [", 1)[1].split("]", 1)[0]
    assert sorted(f'"{name}"' for name in bridge.SAME_HOST_NAMES) == sorted(
        name.strip() for name in same_hosts.split(",") if name.strip()
    )


def test_a_component_is_imported_from_a_subpath_of_its_package() -> None:
    imported = bridge.imported_from(bridge.ImportVar(tag="HlsVideo", is_default=True), "/react")
    assert compile_imports({"hls-video-element@1.5.11": [imported]}) == [
        {"lib": "hls-video-element/react", "default": "HlsVideo", "rest": []}
    ]
    player = HlsVideo.create(src="/media/master.m3u8")
    assert isinstance(player.import_var, bridge.ImportVar)
    assert player._get_all_imports() == {"hls-video-element@1.5.11": [player.import_var]}
    assert player.import_var.package_path == "/react"


def test_reflexs_command_line_runs_in_this_process(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ended:
        bridge.run_reflex(["--version"])
    assert ended.value.code == 0
    assert capsys.readouterr().out.strip() == rx.constants.Reflex.VERSION


def test_the_web_dir_is_the_one_reflex_builds_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from reflex.utils import prerequisites

    monkeypatch.delenv("REFLEX_WEB_WORKDIR", raising=False)
    assert bridge.web_dir() == prerequisites.get_web_dir() == Path(".web")
    monkeypatch.setenv("REFLEX_WEB_WORKDIR", str(tmp_path / "web"))  # a test app's own (tests/support/app_process)
    assert bridge.web_dir() == prerequisites.get_web_dir() == tmp_path / "web"


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
                await (await processor.enqueue(TAB, bridge.Event(name=name, payload={}, router_data=router)))
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
