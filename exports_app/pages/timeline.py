"""/timeline?project=<id>: a read-only view of a video project."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from exports_app.components.layout import query_page
from exports_app.components.styles import TEXT_MUTED
from exports_app.components.table import items_table
from exports_app.pages.registry import member_page
from exports_app.routes import TIMELINE_ROUTE
from exports_app.state.timeline import TimelineState
from exports_app.state.views import ExportRow


def project_export(item: ObjectVar[ExportRow]) -> rx.Component:
    return rx.table.row(rx.table.cell(item.title), rx.table.cell(item.duration), rx.table.cell(item.size))


@member_page(route=TIMELINE_ROUTE, title="Timeline · Exports", on_load=[TimelineState.load])
def timeline_page() -> rx.Component:
    return query_page(
        TimelineState.error,
        "timeline-error",
        rx.heading(TimelineState.title, size="6", data_testid="timeline-title"),
        rx.text("Created " + TimelineState.created, size="2", color=TEXT_MUTED),
        rx.text(TimelineState.description),
        rx.text("Exports rendered from this project", weight="medium"),
        items_table(("Title", "Duration", "Size"), TimelineState.exports, project_export),
    )
