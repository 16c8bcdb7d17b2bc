"""A tab's state tree and the shared states linked into it: writing one out of band, its links, its token, and where
Reflex keeps the states (its Redis client, how long a tab's state lives)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, Protocol

import reflex as rx
from redis.asyncio import Redis
from reflex.config import get_config
from reflex.istate.manager import StateManager
from reflex.state import BaseState as BaseState  # re-exported: the app's states' base
from reflex.state import StateUpdate as StateUpdate  # re-exported: what a tab is sent
from reflex.utils import prerequisites
from reflex_base.event.context import EventContext

if TYPE_CHECKING:
    from reflex.app import EventNamespace


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


def linked_tokens(root: BaseState) -> dict[str, str]:
    """The shared states this tab is linked to: state full name → shared token."""
    links = getattr(root, "_reflex_internal_links", None)
    return dict(links) if isinstance(links, dict) else {}


async def unlink(shared: rx.SharedState) -> None:
    """Undo the tab's link: later events see the tab's own copy, and the tab leaves the shared state's links."""
    await shared._unlink()  # type: ignore[no-untyped-call]


def root_of(state: BaseState) -> BaseState:
    """The root of the state tree `state` belongs to (one tab's, or a shared state's)."""
    return state._get_root_state()


def tab_token(state: BaseState) -> str:
    """The client token (one browser tab) a state tree belongs to."""
    return root_of(state).router.session.client_token


def substates_of(cls: type[BaseState]) -> set[type[BaseState]]:
    """The state classes declared directly under `cls`."""
    return set(cls.get_substates())


def redis_client() -> Redis | None:
    """The Redis client of the app's state manager when REFLEX_REDIS_URL is set (several workers), else None."""
    return prerequisites.get_redis()


def state_expiry_seconds() -> int:
    """How long Reflex keeps a tab's state after its last change."""
    return int(get_config().redis_token_expiration)
