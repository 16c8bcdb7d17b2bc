"""The member guard of event handlers (state/auth.member_event): the member comes from the session cookie of the
websocket handshake only; without a live session the handler does not run and the client goes to /login."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import reflex as rx
import sqlalchemy as sa
from reflex.event import EventHandler, EventSpec, resolve_upload_chunk_handler_param
from reflex.istate.data import RouterData
from reflex.state import BaseState, State
from reflex_base.event.processor.base_state_processor import _prepare_event_payload
from reflex_base.utils.exceptions import EventHandlerTypeError
from reflex_base.utils.format import format_event
from reflex_components_core.core._upload import UploadChunkIterator
from sqlmodel import SQLModel, select

from exports_app import db
from exports_app.db import session_scope
from exports_app.models import Space
from exports_app.routes import LOGIN_ROUTE
from exports_app.services import auth, productions, projects, publish
from exports_app.services.auth import Member
from exports_app.state.auth import AuthState, LoginState
from exports_app.state.exports import ExportModalState
from exports_app.state.exports_live import ExportsLive
from exports_app.state.publish import PublishState
from exports_app.state.space import SpaceState
from exports_app.state.timeline import TimelineState
from exports_app.state.views import ExportRow
from tests.support.event_loop import run_in_own_loop
from tests.support.records import add_upload, ready_production


def app_states() -> set[type[BaseState]]:
    """Every state class of the app: the substates of Reflex's root state that exports_app defines."""
    found: set[type[BaseState]] = set()
    todo: list[type[BaseState]] = [State]
    while todo:
        cls = todo.pop()
        todo.extend(cls.get_substates())
        if cls.__module__.startswith("exports_app."):
            found.add(cls)
    return found


@dataclass(frozen=True)
class World:
    """Alice's things a handler could touch: an export of a project, a space, a production ready to publish."""

    upload_id: int
    project_id: int
    space_id: int
    production_id: int


@pytest.fixture
def world(alice: Member) -> World:
    with session_scope() as session:
        project = projects.create_project(session=session, member=alice, title="Launch")
        space = publish.create_space(session=session, member=alice, name="Channel")
    assert project.id is not None and space.id is not None
    upload_id = add_upload(alice, title="Launch teaser", create_video_project_id=project.id)
    return World(upload_id, project.id, space.id, ready_production(alice, "Ready to publish"))


def tab(world: World, cookie: str) -> State:
    """A tab whose websocket handshake carried cookie, on a page whose query names each of Alice's things."""
    root = State(_reflex_internal_init=True)  # type: ignore[call-arg]  # BaseState.__init__ takes it; mypy misses it
    query = f"space={world.space_id}&project={world.project_id}&production={world.production_id}"
    root.router = RouterData.from_router_data(
        {
            "headers": {"cookie": cookie, "origin": "http://127.0.0.1:3000"},
            "pathname": "/space",
            "asPath": f"/space?{query}",
        }
    )
    modal = state_of(root, ExportModalState)
    modal.open_id = modal.last_opened = world.upload_id  # what prep, publish and delete act on
    for page in (SpaceState, TimelineState, PublishState):
        state_of(root, page).error = "shown before"  # a load that ran would clear it
    return root


def session_cookie(member: Member, *, days: int = 1, revoked: bool = False) -> str:
    with session_scope() as session:
        token = auth.start_session(session=session, member=member, days=days).token
        if revoked:
            auth.end_session(session=session, token=token)
    return f"{auth.SESSION_COOKIE}={token}; other=1"


def state_of(root: State, cls: type[BaseState]) -> Any:
    return root.get_substate(cls.get_full_name().split(".")[1:])


def event_handler(handler: object) -> EventHandler:
    """An @rx.event handler as it is at run time: mypy types one as rx.event's own class (EventNamespace)."""
    assert isinstance(handler, EventHandler)
    return handler


def fire(root: State, handler_attr: object, payload: dict[str, object]) -> object:
    """Run an event as Reflex's event processor does: the payload parsed by the handler's type hints, then
    handler.fn(state, **payload), awaited when it is a coroutine."""
    handler = event_handler(handler_attr)
    assert handler.state is not None
    answer = handler.fn(state_of(root, handler.state), **_prepare_event_payload(handler, payload))
    return run_in_own_loop(answer) if inspect.iscoroutine(answer) else answer


def snapshot(root: State) -> tuple[object, object]:
    """All a handler could change: the tab's state tree and every table's rows."""
    with db.get_engine().connect() as connection:
        rows = {
            table.name: sorted(map(tuple, connection.execute(sa.select(table)).all()), key=repr)
            for table in SQLModel.metadata.sorted_tables
        }
    return root.dict(), rows


def case(
    handler: object, payload: Callable[[World], dict[str, object]]
) -> tuple[EventHandler, Callable[[World], dict[str, object]]]:
    return event_handler(handler), payload


# Every guarded handler with the arguments its page sends (an on_click with the row's id, an on_submit form, the
# upload's chunk stream, or none for on_load and plain clicks).
CASES: dict[str, tuple[EventHandler, Callable[[World], dict[str, object]]]] = {
    "ExportsLive.show_more": case(ExportsLive.show_more, lambda w: {}),
    "ExportModalState.open_modal": case(ExportModalState.open_modal, lambda w: {"upload_id": str(w.upload_id)}),
    "ExportModalState.prep": case(ExportModalState.prep, lambda w: {}),
    "ExportModalState.publish": case(ExportModalState.publish, lambda w: {}),
    "ExportModalState.confirm_delete": case(ExportModalState.confirm_delete, lambda w: {}),
    "ExportModalState.start_upload": case(ExportModalState.start_upload, lambda w: {}),
    "ExportModalState.upload": case(ExportModalState.upload, lambda w: {"chunks": UploadChunkIterator()}),
    "ExportModalState.start_page": case(ExportModalState.start_page, lambda w: {}),
    "PublishState.load": case(PublishState.load, lambda w: {}),
    "PublishState.create_space": case(PublishState.create_space, lambda w: {"form": {"name": "Another"}}),
    "PublishState.submit": case(PublishState.submit, lambda w: {}),
    "SpaceState.load": case(SpaceState.load, lambda w: {}),
    "TimelineState.load": case(TimelineState.load, lambda w: {}),
}


def guarded(handler: EventHandler) -> bool:
    return "member" in inspect.signature(inspect.unwrap(handler.fn)).parameters


def app_handlers() -> list[EventHandler]:
    """Every event a client can send to the app's states (Reflex makes each public method of a state one)."""
    states = app_states()
    assert states >= {AuthState, LoginState, ExportsLive, ExportModalState, PublishState, SpaceState, TimelineState}
    return [handler for state in states for handler in state.event_handlers.values()]


def test_no_event_takes_the_member_from_its_arguments() -> None:
    for handler in app_handlers():
        assert "member" not in handler._parameters, handler.fn.__qualname__
        assert not any(hint is Member for hint in handler._get_type_hints().values()), handler.fn.__qualname__


def test_the_cases_are_every_guarded_handler() -> None:
    assert {h.fn.__qualname__ for h in app_handlers() if guarded(h)} == set(CASES)


def test_reflex_reads_each_guarded_handler_as_before() -> None:
    """Sync or async, background or not, and the argument names and types Reflex parses the payload with."""
    seen = {
        name: (
            list(h._parameters),
            {k: v for k, v in h._get_type_hints().items() if k != "return"},
            h._is_coroutine_function,
            h.is_background,
        )
        for name, (h, _) in CASES.items()
    }
    assert seen["ExportModalState.open_modal"] == (["self", "upload_id"], {"upload_id": int}, True, False)
    assert seen["PublishState.create_space"] == (["self", "form"], {"form": dict[str, str]}, False, False)
    assert seen["ExportModalState.upload"] == (["self", "chunks"], {"chunks": UploadChunkIterator}, True, True)
    assert seen["SpaceState.load"] == (["self"], {}, False, False)
    assert seen["ExportModalState.start_page"] == (["self"], {}, True, False)
    # The specs pages build: an on_click with an argument, a callback handed the result, the upload's stream.
    assert str(ExportModalState.open_modal(7).args) == str(  # type: ignore[operator]  # an EventNamespace to mypy
        ExportModalState.open_modal(upload_id=7).args  # type: ignore[operator]
    )
    assert 'open_modal", {upload_id:_result}' in str(rx.call_script("1", callback=ExportModalState.open_modal))
    assert 'create_space", {form:_result}' in str(rx.call_script("1", callback=PublishState.create_space))
    assert resolve_upload_chunk_handler_param(ExportModalState.upload) == ("chunks", UploadChunkIterator)


@pytest.mark.parametrize("who", ["no cookie", "forged", "revoked", "expired", "another cookie"])
def test_without_a_live_session_every_handler_redirects_and_touches_nothing(
    alice: Member, world: World, who: str
) -> None:
    cookie = {
        "no cookie": "",
        "forged": f"{auth.SESSION_COOKIE}=forged",
        "revoked": session_cookie(alice, revoked=True),
        "expired": session_cookie(alice, days=-1),
        "another cookie": session_cookie(alice).replace(auth.SESSION_COOKIE, "exports_sessions"),
    }[who]
    for name, (handler, payload) in CASES.items():
        root = tab(world, cookie)
        before = snapshot(root)
        answer = fire(root, handler, payload(world))
        assert isinstance(answer, EventSpec) and format_event(answer) == format_event(rx.redirect(LOGIN_ROUTE)), name
        assert snapshot(root) == before, name


def test_a_live_session_gives_each_handler_its_member(
    alice: Member, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    members: list[tuple[str, Member]] = []

    def spy(module: object, name: str) -> None:
        real = getattr(module, name)

        def recorded(*args: object, **kwargs: object) -> object:
            members.extend((name, a) for a in (*args, *kwargs.values()) if isinstance(a, Member))
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, recorded)

    for module, name in [
        (publish, "space_view"),
        (projects, "owned_project"),
        (productions, "export_view"),
        (publish, "create_space"),
        (publish, "publish_target"),
    ]:
        spy(module, name)
    root = tab(world, session_cookie(alice))
    for handler in map(
        event_handler, (SpaceState.load, TimelineState.load, PublishState.load, PublishState.create_space)
    ):
        assert fire(root, handler, CASES[handler.fn.__qualname__][1](world)) is None
    assert fire(root, ExportModalState.open_modal, {"upload_id": str(world.upload_id)}) is None  # "7" parsed to 7
    assert [name for name, _ in members] == [
        "space_view",
        "owned_project",
        "publish_target",
        "create_space",
        "export_view",
    ]
    assert {member for _, member in members} == {alice}

    space, timeline, page = state_of(root, SpaceState), state_of(root, TimelineState), state_of(root, PublishState)
    assert (space.error, space.space_id, space.name) == ("", world.space_id, "Channel")
    assert (timeline.error, timeline.project_id, timeline.title) == ("", world.project_id, "Launch")
    assert [(e.id, e.title, e.duration, e.size) for e in timeline.exports] == [
        (world.upload_id, "Launch teaser", "0:02", "1000 B")
    ]
    assert [s.name for s in page.spaces] == ["Channel"] and page.error == ""
    assert [s.name for s in page.added_0] == ["Another"] and page.chosen_count == 1  # made here: shown last, ticked
    assert state_of(root, ExportModalState).open_title == "Launch teaser"


def test_an_event_argument_cannot_supply_the_member(alice: Member, bob: Member, world: World) -> None:
    forged = {"id": alice.id, "username": alice.username}
    for handler, _ in CASES.values():  # the page cannot even build such an event
        with pytest.raises(EventHandlerTypeError, match="extra argument member"):
            handler(member=forged)

    # A hand-made event naming Alice, sent by Bob's tab or by a tab signed in as nobody: nothing runs.
    for cookie in (session_cookie(bob), ""):
        for name, (handler, payload) in CASES.items():
            root = tab(world, cookie)
            before = snapshot(root)
            if cookie:
                with pytest.raises(TypeError, match="member"):
                    fire(root, handler, {**payload(world), "member": forged})
            else:
                answer = fire(root, handler, {**payload(world), "member": forged})
                assert isinstance(answer, EventSpec) and format_event(answer) == format_event(rx.redirect(LOGIN_ROUTE))
            assert snapshot(root) == before, name
    with session_scope() as session:
        assert [s.name for s in session.exec(select(Space))] == ["Channel"]


def test_a_query_page_shows_only_what_its_query_names_for_the_member(alice: Member, bob: Member, world: World) -> None:
    root = tab(world, session_cookie(alice))
    space, timeline = state_of(root, SpaceState), state_of(root, TimelineState)
    fire(root, SpaceState.load, {})
    fire(root, TimelineState.load, {})
    assert (space.name, len(space.items), timeline.title, len(timeline.exports)) == ("Channel", 0, "Launch", 1)

    # Bob's tab on the same addresses: the one-line refusal, and nothing of Alice's in the state.
    root = tab(world, session_cookie(bob))
    space, timeline = state_of(root, SpaceState), state_of(root, TimelineState)
    space.name, timeline.title, timeline.exports = "shown before", "shown before", [ExportRow(id=1)]
    fire(root, SpaceState.load, {})
    fire(root, TimelineState.load, {})
    assert (space.error, space.space_id, space.name, space.items) == ("Space not found.", 0, "", [])
    assert (timeline.error, timeline.project_id, timeline.title, timeline.exports) == ("Project not found.", 0, "", [])


# Reflex makes every public method of a state an event any client can send (ExportsLive.reload once read any
# member's list): the events are exactly these. Backend-only methods start with "_"; `setvar` reaches only
# explicit setters (the app has no auto setters).
CLIENT_EVENTS = {
    "AuthState.sign_out",
    "ExportModalState.ask_delete",
    "ExportModalState.cancel_delete",
    "ExportModalState.cancel_upload",
    "ExportModalState.close_modal",
    "ExportModalState.confirm_delete",
    "ExportModalState.dismiss",
    "ExportModalState.open_modal",
    "ExportModalState.open_timeline",
    "ExportModalState.prep",
    "ExportModalState.publish",
    "ExportModalState.set_modal_open",
    "ExportModalState.start_page",
    "ExportModalState.start_upload",
    "ExportModalState.upload",
    "ExportModalState.upload_progress",
    "ExportsLive.show_more",
    "LoginState.redirect_if_signed_in",
    "LoginState.show_error",
    "LoginState.submit",
    "PublishState.create_space",
    "PublishState.load",
    "PublishState.submit",
    "PublishState.toggle",
    "SpaceState.load",
    "TimelineState.load",
}


def test_every_event_a_client_can_send_is_meant_to_be_one() -> None:
    events = {h.fn.__qualname__ for h in app_handlers()} - {"EventHandlerSetVar.setvar"}
    assert events == CLIENT_EVENTS
