"""/publish?production=<id>: choose spaces for a ready production."""

from __future__ import annotations

import reflex as rx

from exports_app.components.layout import page
from exports_app.components.styles import BLUE, DARK_GRAY, TEXT_MUTED, filled
from exports_app.state.publish import PublishState, SpaceOption


def space_option(space: SpaceOption) -> rx.Component:
    return rx.hstack(
        rx.checkbox(checked=space.chosen, disabled=space.published,
                    on_change=lambda value: PublishState.toggle(space.id, value),
                    data_testid=f"space-{space.id}"),
        rx.text(space.name),
        rx.cond(space.published, rx.badge("Published", color_scheme="green", variant="soft")),
        align="center",
        spacing="2",
    )


def publish_page() -> rx.Component:
    can_publish = PublishState.chosen_count > 0
    return page(
        rx.link("← Back to exports", href="/exports", size="2"),
        rx.cond(
            PublishState.error != "",
            rx.callout(PublishState.error, color_scheme="red", margin_top="1em", data_testid="publish-error"),
            rx.vstack(
                rx.heading("Publish “" + PublishState.export_title + "”", size="6",
                           data_testid="publish-title"),
                rx.text("Production #" + PublishState.production_id.to_string(), color=TEXT_MUTED, size="2",
                        data_testid="publish-production"),
                rx.text("Choose spaces", weight="medium"),
                rx.foreach(PublishState.spaces, space_option),
                rx.button("Publish to selected spaces", on_click=PublishState.submit, disabled=~can_publish,
                          style={**filled(rx.cond(can_publish, BLUE, DARK_GRAY)), "width": "auto"},
                          data_testid="btn-publish-confirm"),
                rx.cond(PublishState.message != "", rx.text(PublishState.message, data_testid="publish-message")),
                spacing="3",
                margin_top="1em",
            ),
        ),
    )
