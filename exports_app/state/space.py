"""/space: a space of the member's and the productions published there."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import reflex as rx
from sqlmodel import Session

from exports_app.routes import SPACE_PARAM
from exports_app.services import publish
from exports_app.services.auth import Member
from exports_app.state.query_page import QueryPageState


@dataclasses.dataclass
class PublishedItem:
    production_id: int = 0
    title: str = ""
    published: str = ""


class SpaceState(QueryPageState, rx.State):
    """A space of the member's and the productions published there."""

    query_parameter: ClassVar[str] = SPACE_PARAM
    space_id: rx.Field[int] = rx.field(0)
    name: rx.Field[str] = rx.field("")
    items: rx.Field[list[PublishedItem]] = rx.field(default_factory=list)

    def _show(self, session: Session, member: Member, wanted: str) -> None:
        view = publish.space_view(session=session, member=member, space_id=wanted)
        self.space_id, self.name = view.id, view.name
        self.items = [
            PublishedItem(i.production_id, i.title, i.published_at.strftime("%Y-%m-%d %H:%M UTC")) for i in view.items
        ]
