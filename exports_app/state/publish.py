"""/publish: choose spaces for a ready production (or make one there) and publish it, for the member only."""

from __future__ import annotations

import dataclasses

import reflex as rx

from exports_app.db import session_scope
from exports_app.routes import PRODUCTION_PARAM
from exports_app.services import publish
from exports_app.services.auth import Member
from exports_app.services.errors import ServiceError
from exports_app.state.auth import member_event
from exports_app.state.views import renditions_text


@dataclasses.dataclass
class SpaceOption:
    id: int = 0
    name: str = ""
    published: bool = False
    chosen: bool = False


class PublishState(rx.State):
    """Choosing spaces for a ready production."""

    production_id: rx.Field[int] = rx.field(0)
    export_title: rx.Field[str] = rx.field("")
    hls_url: rx.Field[str] = rx.field("")
    renditions: rx.Field[str] = rx.field("")  # "Renditions: 1080×1920 · 720×1280"; "" when not known
    spaces: rx.Field[list[SpaceOption]] = rx.field(default_factory=list)
    error: rx.Field[str] = rx.field("")
    message: rx.Field[str] = rx.field("")

    @rx.var
    def chosen_count(self) -> int:
        return sum(1 for s in self.spaces if s.chosen and not s.published)

    @rx.var
    def published(self) -> list[SpaceOption]:
        return [s for s in self.spaces if s.published]

    @rx.event
    @member_event
    def load(self, member: Member) -> None:
        self.error = self.message = ""
        self.production_id, self.spaces, self.export_title, self.hls_url, self.renditions = 0, [], "", "", ""
        self._read(member, self.router.url.query_parameters.get(PRODUCTION_PARAM, ""), chosen=set())

    def _read(self, member: Member, production_id: object, chosen: set[int]) -> None:
        """Load the production and the member's spaces; chosen: spaces to tick (besides published ones)."""
        try:
            with session_scope() as session:
                target = publish.publish_target(session=session, member=member, production_id=production_id)
        except ServiceError as exc:
            self.error = exc.message
            return
        self.production_id = target.production_id
        self.export_title = target.export_title
        self.hls_url = target.hls_url
        self.renditions = renditions_text(target.rendition_sizes)
        self.spaces = [SpaceOption(s.id, s.name, s.published, s.published or s.id in chosen) for s in target.spaces]

    @rx.event
    @member_event
    def create_space(self, member: Member, form: dict[str, str]) -> None:
        """A new space, right here, ticked for this production (the other ticks are kept)."""
        try:
            with session_scope() as session:
                space = publish.create_space(session=session, member=member, name=str(form.get("name", "")))
                new_id = space.id or 0
        except ServiceError as exc:
            self.message = exc.message
            return
        self.message = ""
        kept = {s.id for s in self.spaces if s.chosen}
        self._read(member, self.production_id, chosen=kept | {new_id})

    @rx.event
    def toggle(self, space_id: int, chosen: bool) -> None:
        self.spaces = [
            dataclasses.replace(s, chosen=chosen) if s.id == space_id and not s.published else s for s in self.spaces
        ]

    @rx.event
    @member_event
    def submit(self, member: Member) -> None:
        chosen = [s.id for s in self.spaces if s.chosen and not s.published]
        try:
            with session_scope() as session:
                added = publish.publish(
                    session=session, member=member, production_id=self.production_id, space_ids=chosen
                )
        except ServiceError as exc:
            self.message = exc.message
            return
        self.spaces = [dataclasses.replace(s, published=s.published or s.chosen) for s in self.spaces]
        self.message = f"Published to {added} space{'s' if added != 1 else ''}."
