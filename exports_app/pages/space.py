"""/space?space=<id>: a space of the member's and what is published there."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from exports_app.components.layout import query_page
from exports_app.components.styles import TEXT_MUTED
from exports_app.components.table import items_table
from exports_app.pages.registry import member_page
from exports_app.routes import SPACE_ROUTE
from exports_app.state.space import PublishedItem, SpaceState


def published_item(item: ObjectVar[PublishedItem]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(item.title), rx.table.cell("#" + item.production_id.to_string()), rx.table.cell(item.published)
    )


@member_page(route=SPACE_ROUTE, title="Space · Exports", on_load=[SpaceState.load])
def space_page() -> rx.Component:
    return query_page(
        SpaceState.error,
        "space-error",
        rx.heading(SpaceState.name, size="6", data_testid="space-title"),
        rx.cond(
            SpaceState.items.length() > 0,
            items_table(
                ("Export", "Production", "Published"), SpaceState.items, published_item, data_testid="space-items"
            ),
            rx.text("Nothing is published here yet.", color=TEXT_MUTED),
        ),
    )
