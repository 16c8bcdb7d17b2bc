"""/publish: choose spaces for a ready production (or make one there) and publish it, for the member only."""

from __future__ import annotations

import dataclasses

import reflex as rx

from exports_app.db import session_scope
from exports_app.routes import PRODUCTION_PARAM
from exports_app.services import publish
from exports_app.services.auth import Member
from exports_app.services.errors import ServiceError
from exports_app.state import growing_list
from exports_app.state.auth import member_event
from exports_app.state.views import renditions_text


@dataclasses.dataclass
class SpaceOption:
    id: int = 0
    name: str = ""


# The vars holding the spaces made on this page since it loaded (state/growing_list.py's buckets, bucket i of
# 2**i spaces): making one sends the new space (and now and then a bucket), not every space the member has.
ADDED = tuple(f"added_{level}" for level in range(growing_list.LEVELS))


class PublishState(rx.State):
    """Choosing spaces for a ready production.

    Each event sends what it changed, never the whole list of the member's spaces: the list as loaded (`spaces`)
    and the spaces made here since (ADDED) are kept apart from the ticks. A space made here starts ticked, so its
    ticks are kept the other way round (`unticked`): making one changes no list of ticks.
    """

    production_id: rx.Field[int] = rx.field(0)
    export_title: rx.Field[str] = rx.field("")
    hls_url: rx.Field[str] = rx.field("")
    # "Renditions: 640×360 · 416×234 · 1280×720 and 960×540 on their way"; "" when not known
    renditions: rx.Field[str] = rx.field("")
    spaces: rx.Field[list[SpaceOption]] = rx.field(default_factory=list)  # as the page loaded them, by name
    added_0: rx.Field[list[SpaceOption]] = rx.field(default_factory=list)
    added_1: rx.Field[list[SpaceOption]] = rx.field(default_factory=list)
    added_2: rx.Field[list[SpaceOption]] = rx.field(default_factory=list)
    added_3: rx.Field[list[SpaceOption]] = rx.field(default_factory=list)
    added_4: rx.Field[list[SpaceOption]] = rx.field(default_factory=list)
    added_5: rx.Field[list[SpaceOption]] = rx.field(default_factory=list)
    added_6: rx.Field[list[SpaceOption]] = rx.field(default_factory=list)
    added_7: rx.Field[list[SpaceOption]] = rx.field(default_factory=list)
    added_8: rx.Field[list[SpaceOption]] = rx.field(default_factory=list)
    space_count: rx.Field[int] = rx.field(0)
    chosen: rx.Field[list[int]] = rx.field(default_factory=list)  # ticked among `spaces`
    unticked: rx.Field[list[int]] = rx.field(default_factory=list)  # not ticked among the spaces made here
    chosen_count: rx.Field[int] = rx.field(0)  # ticked and not published yet: what Publish would publish to
    published: rx.Field[list[SpaceOption]] = rx.field(default_factory=list)  # where the production is
    published_ids: rx.Field[list[int]] = rx.field(default_factory=list)
    error: rx.Field[str] = rx.field("")
    message: rx.Field[str] = rx.field("")

    @rx.event
    @member_event
    def load(self, member: Member) -> None:
        self.error = self.message = ""
        self.production_id, self.export_title, self.hls_url, self.renditions = 0, "", "", ""
        self._show_spaces([], [])
        wanted = self.router.url.query_parameters.get(PRODUCTION_PARAM, "")
        try:
            with session_scope() as session:
                target = publish.publish_target(session=session, member=member, production_id=wanted)
        except ServiceError as exc:
            self.error = exc.message
            return
        self.production_id = target.production_id
        self.export_title = target.export_title
        self.hls_url = target.hls_url
        self.renditions = renditions_text(target.rendition_sizes, target.coming_sizes)
        options = [SpaceOption(s.id, s.name) for s in target.spaces]
        self._show_spaces(options, [o for o, s in zip(options, target.spaces, strict=True) if s.published])

    def _show_spaces(self, spaces: list[SpaceOption], published: list[SpaceOption]) -> None:
        """The whole list afresh (a page load): no spaces made here, nothing ticked."""
        self.spaces, self.published, self.chosen, self.unticked, self.chosen_count = spaces, published, [], [], 0
        self.published_ids = [s.id for s in published]
        self.space_count = len(spaces)
        for name in ADDED:
            if getattr(self, name):
                setattr(self, name, [])

    def _made_here(self) -> list[SpaceOption]:
        return growing_list.in_order([], [getattr(self, name) for name in ADDED])

    def _to_publish(self) -> list[int]:
        """The ticked spaces that are not published yet, in the page's order."""
        made = [s.id for s in self._made_here() if s.id not in self.unticked]
        return [i for i in [*self.chosen, *made] if i not in self.published_ids]

    @rx.event
    @member_event
    def create_space(self, member: Member, form: dict[str, str]) -> None:
        """A new space, right here, ticked for this production (the other ticks are kept), shown last."""
        try:
            with session_scope() as session:
                space = publish.create_space(session=session, member=member, name=str(form.get("name", "")))
                made = SpaceOption(space.id or 0, space.name)
        except ServiceError as exc:
            self.message = exc.message
            return
        self.message = ""
        changed = growing_list.carried([getattr(self, name) for name in ADDED], [made])
        if changed is None:  # every bucket full: they all join the loaded list, once, their ticks with them
            ticked = set(self._to_publish())
            self.chosen = [*self.chosen, *(s.id for s in self._made_here() if s.id in ticked), made.id]
            self.spaces, self.unticked = [*self.spaces, *self._made_here(), made], []
            changed = {level: [] for level in range(len(ADDED))}
        for level, bucket in changed.items():
            setattr(self, ADDED[level], bucket)
        self.space_count += 1
        self.chosen_count += 1

    @rx.event
    def toggle(self, space_id: int, chosen: bool) -> None:
        if space_id in self.published_ids:
            return
        if any(s.id == space_id for s in self._made_here()):
            if (space_id not in self.unticked) != chosen:
                self.unticked = [i for i in self.unticked if i != space_id] if chosen else [*self.unticked, space_id]
        elif any(s.id == space_id for s in self.spaces) and (space_id in self.chosen) != chosen:
            self.chosen = [*self.chosen, space_id] if chosen else [i for i in self.chosen if i != space_id]
        self.chosen_count = len(self._to_publish())

    @rx.event
    @member_event
    def submit(self, member: Member) -> None:
        chosen = self._to_publish()
        try:
            with session_scope() as session:
                added = publish.publish(
                    session=session, member=member, production_id=self.production_id, space_ids=chosen
                )
        except ServiceError as exc:
            self.message = exc.message
            return
        listed = growing_list.in_order(self.spaces, [getattr(self, name) for name in ADDED])
        self.published = [*self.published, *(s for s in listed if s.id in chosen)]
        self.published_ids = [*self.published_ids, *chosen]
        self.chosen, self.chosen_count = [], 0
        self.message = f"Published to {added} space{'s' if added != 1 else ''}."
