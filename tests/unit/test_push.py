"""The live push: one write of the member's shared list, and the same delta to each of their connected tabs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import reflex as rx
import sqlalchemy as sa
from reflex.istate.manager.memory import StateManagerMemory
from reflex.state import StateUpdate
from reflex_base.event import Event
from reflex_base.event.context import EventContext
from reflex_base.registry import RegistrationContext
from sqlmodel import col

from exports_app.db import session_scope
from exports_app.domain import utcnow
from exports_app.jobs import push
from exports_app.models import AuthSession
from exports_app.services import auth, productions
from exports_app.services.auth import Member
from exports_app.services.hls_status import HlsStatus
from exports_app.services.secrets import member_token
from exports_app.state import live_tabs
from exports_app.state.exports_live import ExportsLive
from tests.support.event_loop import run_in_own_loop
from tests.support.records import add_upload


@dataclass
class Tokens:
    connected: set[str]

    async def is_token_connected(self, token: str) -> bool:
        return token in self.connected


@dataclass
class Namespace:
    """The socket side: which tabs are connected, and what each was sent."""

    _token_manager: Tokens
    sent: list[tuple[str, StateUpdate]] = field(default_factory=list)

    async def emit_update(self, update: StateUpdate, token: str) -> None:
        self.sent.append((token, update))


@dataclass
class App:
    state_manager: StateManagerMemory
    event_namespace: Any
    registration: RegistrationContext

    @contextlib.contextmanager
    def set_contexts(self) -> Iterator[None]:
        """The contexts the app provides: its registered states, and its event processor's root context."""
        registered = RegistrationContext.set(self.registration)
        root = EventContext.set(EventContext(token="", state_manager=self.state_manager, enqueue_impl=enqueue_nothing))
        try:
            yield
        finally:
            EventContext.reset(root)
            RegistrationContext.reset(registered)


async def enqueue_nothing(token: str, *events: Event) -> None:
    """The event processor's enqueue: these tests push state, they queue no events."""


def signed_in_session(member: Member) -> str:
    """A fresh live session of the member's: its fingerprint, as the tab guard records it."""
    with session_scope() as session:
        return auth.token_hash(auth.start_session(session=session, member=member, days=1).token)


async def bind_tabs(member: Member, tabs: set[str]) -> str:
    """Bind `tabs` to the member under one live session, as the tab guard does on their first event."""
    fingerprint = signed_in_session(member)
    for tab in tabs:
        await live_tabs.bind(tab, member_token(member.id), fingerprint)
    return fingerprint


async def linked_app(member: Member, tabs: set[str], connected: set[str], registration: RegistrationContext) -> App:
    """An app whose state manager holds the member's shared list, loaded and linked from `tabs` (bound to them)."""
    # mypy takes Reflex's overloaded state methods for abstract ones ("get_state-redefinition").
    app = App(StateManagerMemory(), Namespace(Tokens(connected)), registration)  # type: ignore[abstract]
    await bind_tabs(member, tabs)
    token = rx.BaseStateToken(ident=member_token(member.id), cls=ExportsLive)
    with app.set_contexts():
        async with app.state_manager.modify_state(token) as root:
            live = await root.get_state(ExportsLive)
            live._reload(member)
            live._linked_from.update(tabs)
            root._clean()  # type: ignore[no-untyped-call]  # Reflex leaves it unannotated
    return app


def test_one_write_reaches_each_connected_tab_with_only_the_live_list(alice: Member, data_dir: Path) -> None:
    upload_id = add_upload(alice)
    registration = RegistrationContext.get()  # the test's thread's; the loop below runs in another thread
    running = HlsStatus(state="in_progress", production_id=4, percent=30)

    async def run() -> None:
        app = await linked_app(
            alice,
            tabs={"tab-a", "tab-b", "tab-closed"},
            connected={"tab-a", "tab-b", "someone-else"},
            registration=registration,
        )
        with session_scope() as session:  # a prep starts: the database now says in progress
            productions.prep_hls(session=session, member=alice, upload_id=upload_id, provider="local")
        await push.notify([(alice.id, upload_id)], app)
        sent = app.event_namespace.sent
        assert sorted(token for token, _ in sent) == ["tab-a", "tab-b"]
        update, again = (update for _, update in sent)
        assert update is again  # worked out once for the member
        assert list(update.delta) == [ExportsLive.get_full_name()]  # never the shared token's router data
        statuses = update.delta[ExportsLive.get_full_name()]["statuses_rx_state_"]
        assert statuses[str(upload_id)].state == "in_progress"  # read from the database

        sent.clear()
        await push.notify([(alice.id, upload_id)], app)  # the same status again: nothing goes out
        assert sent == []
        first, tabs = await push.write_shared(app, alice.id, {upload_id: running})
        assert first is not None and tabs == {"tab-a", "tab-b", "tab-closed"}  # the percent moved

    run_in_own_loop(run())


def test_a_member_with_no_tab_costs_one_write_and_no_emit(alice: Member, data_dir: Path) -> None:
    upload_id = add_upload(alice)
    registration = RegistrationContext.get()

    async def run() -> None:
        app = await linked_app(alice, tabs=set(), connected={"tab-a"}, registration=registration)
        update, tabs = await push.write_shared(app, alice.id, {upload_id: HlsStatus(state="ready", production_id=9)})
        assert update is not None and tabs == set()
        assert await push.send(app, update, tabs) == 0
        assert app.event_namespace.sent == []

    run_in_own_loop(run())


def test_tabs_closed_by_the_hundred_are_forgotten_by_the_next_push(alice: Member, data_dir: Path) -> None:
    """Reflex keeps every tab that ever linked; past live_tabs.MAX_TABS the push drops the closed ones."""
    upload_id = add_upload(alice)
    registration = RegistrationContext.get()
    closed = {f"closed-{n}" for n in range(3 * live_tabs.MAX_TABS)}

    async def run() -> None:
        app = await linked_app(alice, tabs=closed | {"tab-a"}, connected={"tab-a"}, registration=registration)
        update, tabs = await push.write_shared(app, alice.id, {upload_id: HlsStatus(state="ready", production_id=2)})
        assert update is not None and tabs == {"tab-a"}
        token = rx.BaseStateToken(ident=member_token(alice.id), cls=ExportsLive)
        with app.set_contexts():
            async with app.state_manager.modify_state(token) as root:
                assert (await root.get_state(ExportsLive))._linked_from == {"tab-a"}

    run_in_own_loop(run())


def test_tabs_that_changed_hands_or_signed_out_get_nothing_and_leave_the_link(
    alice: Member, bob: Member, data_dir: Path
) -> None:
    """A tab still linked to alice's list but now bound to bob, or bound under a revoked session, gets no push."""
    upload_id = add_upload(alice)
    registration = RegistrationContext.get()

    async def run() -> None:
        app = await linked_app(
            alice,
            tabs={"tab-a", "tab-bob", "tab-revoked"},
            connected={"tab-a", "tab-bob", "tab-revoked"},
            registration=registration,
        )
        await bind_tabs(bob, {"tab-bob"})  # bob signed in on that tab
        revoked = signed_in_session(alice)
        await live_tabs.bind("tab-revoked", member_token(alice.id), revoked)
        with session_scope() as session:
            session.execute(
                sa.update(AuthSession).where(col(AuthSession.token_hash) == revoked).values(revoked_at=utcnow())
            )
        update, tabs = await push.write_shared(app, alice.id, {upload_id: HlsStatus(state="ready", production_id=3)})
        assert update is not None and tabs == {"tab-a"}
        assert await push.send(app, update, tabs) == 1
        assert [token for token, _ in app.event_namespace.sent] == ["tab-a"]
        token = rx.BaseStateToken(ident=member_token(alice.id), cls=ExportsLive)
        with app.set_contexts():
            async with app.state_manager.modify_state(token) as root:
                assert (await root.get_state(ExportsLive))._linked_from == {"tab-a"}

    run_in_own_loop(run())
