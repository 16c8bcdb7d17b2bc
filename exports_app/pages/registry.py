"""The app's pages: each page module declares its route, title and on_load beside the page function."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import reflex as rx

from exports_app.state.auth import AuthState
from exports_app.state.exports import ExportModalState, ExportsLive

PageFunction = Callable[[], rx.Component]
# An event handler or spec, as app.add_page takes them; mypy types @rx.event methods as Reflex's
# EventNamespace, which its own EventType alias does not include.
OnLoad = Any


@dataclass(frozen=True)
class Page:
    component: PageFunction
    route: str
    title: str
    on_load: tuple[OnLoad, ...]


PAGES: list[Page] = []
# Every signed-in page first checks the session (else /login), then links the member's live list, so a toast
# reaches any page, then resets this tab's modal; the page's own on_load runs after these.
MEMBER_ON_LOAD: tuple[OnLoad, ...] = (AuthState.require_member, ExportsLive.load, ExportModalState.start_page)


def page(*, route: str, title: str, on_load: Sequence[OnLoad] = ()) -> Callable[[PageFunction], PageFunction]:
    """Register a page open to anyone (only /login)."""

    def register(component: PageFunction) -> PageFunction:
        PAGES.append(Page(component, route, title, tuple(on_load)))
        return component

    return register


def member_page(*, route: str, title: str, on_load: Sequence[OnLoad] = ()) -> Callable[[PageFunction], PageFunction]:
    """Register a page for signed-in members: the member guard and the live list come first."""
    return page(route=route, title=title, on_load=(*MEMBER_ON_LOAD, *on_load))
