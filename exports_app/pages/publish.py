"""/publish?production=<id>: choose spaces for a ready production, make one when there is none, see where it is."""

from __future__ import annotations

from typing import cast

import reflex as rx
from reflex.vars import ArrayVar, ObjectVar

from exports_app.components.layout import query_page
from exports_app.components.styles import BLUE, DARK_GRAY, TEXT_MUTED, filled
from exports_app.components.vars import cond_str
from exports_app.pages.registry import member_page
from exports_app.routes import PUBLISH_ROUTE, space_url
from exports_app.state.publish import ADDED, PublishState, SpaceOption


def space_option(space: ObjectVar[SpaceOption], *, made_here: bool = False) -> rx.Component:
    """A space to tick; made_here: one made on this page since it loaded (ticked unless unticked)."""
    published = ids(PublishState.published_ids).contains(space.id)
    ticked = (
        ~ids(PublishState.unticked).contains(space.id) if made_here else ids(PublishState.chosen).contains(space.id)
    )
    return rx.hstack(
        rx.checkbox(
            checked=published | ticked,
            disabled=published,
            # mypy types an @rx.event handler as rx.event's own class (EventNamespace).
            on_change=lambda value: PublishState.toggle(space.id, value),  # type: ignore[operator]
            aria_label=space.name,
            data_testid=f"space-{space.id}",
        ),
        rx.text(space.name),
        rx.cond(published, rx.badge("Published", color_scheme="green", variant="soft")),
        align="center",
        spacing="2",
    )


def made_here_option(space: ObjectVar[SpaceOption]) -> rx.Component:
    return space_option(space, made_here=True)


def ids(field: object) -> ArrayVar[list[int]]:
    """A list-of-ids field of PublishState as the Var it is (mypy types a list field's class access otherwise)."""
    return cast(ArrayVar[list[int]], field)


def added(name: str) -> ArrayVar[list[SpaceOption]]:
    """One of PublishState's buckets of spaces made on the page (ADDED)."""
    return cast(ArrayVar[list[SpaceOption]], getattr(PublishState, name))


def new_space_form() -> rx.Component:
    """A name and Create: the member's first space (or another one) made right here."""
    return rx.form(
        rx.hstack(
            rx.input(
                name="name",
                placeholder="New space name",
                aria_label="New space name",
                required=True,
                max_length=128,
                data_testid="space-name",
            ),
            rx.button("Create", type="submit", style={**filled(BLUE), "width": "auto"}, data_testid="btn-create-space"),
            spacing="2",
            align="center",
        ),
        on_submit=PublishState.create_space,
        reset_on_submit=True,
    )


def published_to() -> rx.Component:
    """Where the production is published, each space a link."""
    return rx.cond(
        PublishState.published.length() > 0,
        rx.vstack(
            rx.text("Published to", weight="medium"),
            rx.foreach(
                PublishState.published,
                lambda space: rx.link(space.name, href=space_url(space.id), data_testid=f"published-{space.id}"),
            ),
            spacing="1",
            data_testid="published-to",
        ),
    )


@member_page(route=PUBLISH_ROUTE, title="Publish · Exports", on_load=[PublishState.load])
def publish_page() -> rx.Component:
    can_publish = PublishState.chosen_count > 0
    return query_page(
        PublishState.error,
        "publish-error",
        rx.heading("Publish “" + PublishState.export_title + "”", size="6", data_testid="publish-title"),
        rx.text(
            "Production #" + PublishState.production_id.to_string(),
            color=TEXT_MUTED,
            size="2",
            data_testid="publish-production",
        ),
        rx.cond(
            PublishState.renditions != "",
            rx.text(PublishState.renditions, color=TEXT_MUTED, size="2", data_testid="publish-renditions"),
        ),
        rx.text("Choose spaces", weight="medium"),
        rx.cond(
            PublishState.space_count == 0,
            rx.text("You have no spaces yet. Create one to publish to:", data_testid="no-spaces"),
        ),
        # The list as loaded, then the spaces made here since, the oldest first (state/growing_list.py).
        rx.foreach(PublishState.spaces, space_option),
        *(rx.foreach(added(name), made_here_option) for name in reversed(ADDED)),
        new_space_form(),
        rx.button(
            "Publish to selected spaces",
            on_click=PublishState.submit,
            disabled=~can_publish,
            style={**filled(cond_str(can_publish, BLUE, DARK_GRAY)), "width": "auto"},
            data_testid="btn-publish-confirm",
        ),
        rx.cond(PublishState.message != "", rx.text(PublishState.message, data_testid="publish-message")),
        published_to(),
    )
