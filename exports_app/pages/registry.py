"""How a page is declared: its route, title and on_load beside the page function (exports_app/pages lists them)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import reflex as rx

from exports_app.state.exports import ExportModalState

PageFunction = Callable[[], rx.Component]
# An event handler or spec, as app.add_page takes them; mypy types @rx.event methods as Reflex's
# EventNamespace, which its own EventType alias does not include.
OnLoad = Any


@dataclass(frozen=True, eq=False)  # a page is itself: compared and hashed by identity (its on_load holds dicts)
class Page:
    """A page as the app adds it; declaring one registers nothing (pages/__init__.py lists every page)."""

    component: PageFunction
    route: str
    title: str | None
    on_load: tuple[OnLoad, ...]

    def add_to(self, app: rx.App) -> None:
        app.add_page(self.component, route=self.route, title=self.title, on_load=list(self.on_load))


# Every signed-in page first checks the session (else /login), links the member's live list, so a toast reaches
# any page, and resets this tab's modal, all in one event; the page's own on_load runs after it.
MEMBER_ON_LOAD: tuple[OnLoad, ...] = (ExportModalState.start_page,)


def page(*, route: str, title: str | None, on_load: Sequence[OnLoad] = ()) -> Callable[[PageFunction], Page]:
    """Declare a page open to anyone (/login, and / which sends everyone on)."""

    def declare(component: PageFunction) -> Page:
        return Page(component, route, title, tuple(on_load))

    return declare


def member_page(*, route: str, title: str, on_load: Sequence[OnLoad] = ()) -> Callable[[PageFunction], Page]:
    """Declare a page for signed-in members: the member guard and the live list come first."""
    return page(route=route, title=title, on_load=(*MEMBER_ON_LOAD, *on_load))
