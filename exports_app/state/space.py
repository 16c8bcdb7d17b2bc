"""/space: a space of the member's and the productions published there."""

from __future__ import annotations

import dataclasses

import reflex as rx

from exports_app.db import session_scope
from exports_app.services import publish
from exports_app.services.auth import Member
from exports_app.services.errors import ServiceError
from exports_app.state.auth import member_event


@dataclasses.dataclass
class PublishedItem:
    production_id: int = 0
    title: str = ""
    published: str = ""


class SpaceState(rx.State):
    """A space of the member's and the productions published there."""

    space_id: rx.Field[int] = rx.field(0)
    name: rx.Field[str] = rx.field("")
    items: rx.Field[list[PublishedItem]] = rx.field(default_factory=list)
    error: rx.Field[str] = rx.field("")

    @rx.event
    @member_event
    def load(self, member: Member) -> None:
        self.error, self.space_id, self.name, self.items = "", 0, "", []
        try:
            with session_scope() as session:
                view = publish.space_view(session, member, self.router.url.query_parameters.get("space", ""))
        except ServiceError as exc:
            self.error = exc.message
            return
        self.space_id, self.name = view.id, view.name
        self.items = [PublishedItem(i.production_id, i.title, i.published_at.strftime("%Y-%m-%d %H:%M UTC"))
                      for i in view.items]
