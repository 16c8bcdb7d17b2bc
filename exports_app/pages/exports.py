"""/exports: the member's exports, newest first, with status badges and the cog modal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import reflex as rx
from reflex.vars import ObjectVar

from exports_app.components.hls_look import look_of
from exports_app.components.layout import page
from exports_app.components.modal import export_modal
from exports_app.components.styles import BLUE, ERROR_RED, TEXT_MUTED, THUMB_BG
from exports_app.components.table import items_table
from exports_app.components.vars import icon
from exports_app.pages.registry import member_page
from exports_app.routes import EXPORTS_ROUTE
from exports_app.state.exports import UPLOAD_ID, UPLOADING, ExportModalState
from exports_app.state.exports_live import MORE_ROWS, MORE_STATUSES, ExportsLive, rows_var, status_var, statuses_var
from exports_app.state.views import ExportRow


def status_badge(row: ObjectVar[ExportRow]) -> rx.Component:
    """The status badge of a row of the list's first page."""
    return badge_in(row, "statuses")


def badge_in(row: ObjectVar[ExportRow], store: str) -> rx.Component:
    """The row's status badge; store: the ExportsLive status var of the row's page."""
    status = status_var(row.id.to_string(), statuses_var(store))
    return rx.badge(
        status.badge,
        color_scheme=look_of(status.state).badge_color,
        data_testid=f"export-badge-{row.id}",
        variant="soft",
    )


def thumbnail(row: ObjectVar[ExportRow]) -> rx.Component:
    """The export's poster frame; decorative (the title beside it names the export)."""
    size: dict[str, Any] = {"width": "64px", "height": "36px", "border_radius": "4px", "background": THUMB_BG}
    return rx.cond(
        row.poster_url != "",
        rx.image(
            src=row.poster_url, alt="", loading="lazy", object_fit="cover", data_testid=f"export-thumb-{row.id}", **size
        ),
        rx.box(**size),
    )


def export_row(row: ObjectVar[ExportRow]) -> rx.Component:
    """A row of the list's first page (ExportsLive.rows)."""
    return export_row_in(row, "statuses")


def rows_of(store: str) -> Callable[[ObjectVar[ExportRow]], rx.Component]:
    """The rows of a page Show more added, whose statuses are in `store` (one of MORE_STATUSES)."""
    return lambda row: export_row_in(row, store)


def export_row_in(row: ObjectVar[ExportRow], store: str) -> rx.Component:
    """A table row; below 640 px wide the same row is a card (assets/styles.css): thumbnail, title, badge, cog.
    store: the ExportsLive status var of the row's page (rx.foreach hands a second parameter the row's index)."""
    return rx.table.row(
        rx.table.cell(thumbnail(row), class_name="col-thumb"),
        rx.table.cell(
            rx.vstack(
                # On a phone's card the title is cut to three lines (assets/styles.css); the whole of it stays
                # the text (and so the accessible name) and shows on hover.
                rx.text(row.title, weight="medium", title=row.title, class_name="export-title"),
                rx.text(row.filename, size="1", color=TEXT_MUTED),
                spacing="0",
            ),
            class_name="col-title",
        ),
        rx.table.cell(rx.text(row.created, size="2"), class_name="col-created"),
        rx.table.cell(rx.text(row.duration, size="2"), class_name="col-duration"),
        rx.table.cell(rx.text(row.size, size="2"), class_name="col-size"),
        rx.table.cell(badge_in(row, store), class_name="col-status"),
        rx.table.cell(
            rx.icon_button(
                icon("settings", size=16),
                variant="ghost",
                aria_label="Export settings",
                # mypy types an @rx.event handler as rx.event's own class (EventNamespace).
                on_click=ExportModalState.open_modal(row.id),  # type: ignore[operator]
                data_testid=f"export-cog-{row.id}",
            ),
            class_name="col-cog",
        ),
        data_testid=f"export-row-{row.id}",
        align="center",
    )


def upload_feedback() -> rx.Component:
    """While a file uploads: a bar with its percent and Cancel; then, the bar full, "Checking the video…"."""
    return rx.box(
        rx.cond(
            ExportModalState.upload_phase != "",
            rx.hstack(
                rx.progress(
                    value=ExportModalState.upload_percent,
                    max=100,
                    width="12em",
                    aria_label="Upload progress",
                    data_testid="upload-progress",
                ),
                rx.text(ExportModalState.upload_percent.to_string() + "%", size="2", data_testid="upload-percent"),
                rx.cond(
                    ExportModalState.upload_phase == UPLOADING,
                    rx.button(
                        "Cancel",
                        variant="soft",
                        size="1",
                        on_click=ExportModalState.cancel_upload,
                        data_testid="btn-cancel-upload",
                    ),
                    rx.text("Checking the video\u2026", size="2", data_testid="upload-checking"),
                ),
                align="center",
                spacing="3",
            ),
        ),
        role="status",
    )


PROGRESS_EVERY_MS = 250


def upload_control() -> rx.Component:
    control = rx.upload.root(
        rx.hstack(
            icon("upload", size=16),
            rx.text("New export: drop a video here or click to choose", size="2"),
            align="center",
            spacing="2",
        ),
        id=UPLOAD_ID,
        accept={"video/*": [".mp4", ".mov", ".m4v", ".mkv", ".webm"]},
        max_files=1,
        disabled=ExportModalState.upload_phase != "",
        on_drop=[
            ExportModalState.start_upload,
            # mypy types rx.event(background=True)'s result as an unresolved EventCallback, not callable.
            ExportModalState.upload(
                rx.upload_files_chunk(  # type: ignore[misc]
                    upload_id=UPLOAD_ID,
                    # A count at most every PROGRESS_EVERY_MS: the browser reports up to 20 a second, which a long
                    # upload would keep up past the tab's event budget (state/socket_guard.py); 4 move the bar as well.
                    on_upload_progress=lambda progress: ExportModalState.upload_progress(progress).throttle(
                        PROGRESS_EVERY_MS
                    ),
                )
            ),
        ],
        border=f"1px dashed {BLUE}",
        padding="0.8em 1.2em",
        border_radius="8px",
        cursor="pointer",
        data_testid="upload-export",
    )
    # rx.upload.root: its drop zone, whose first child is the <input> (children are typed as BaseComponent).
    file_input = cast(rx.Component, control.children[0].children[0])
    file_input.custom_attrs["aria-label"] = "Choose a video to add as a new export"
    return rx.vstack(
        control,
        upload_feedback(),
        rx.cond(
            ExportModalState.upload_error != "",
            rx.text(ExportModalState.upload_error, color=ERROR_RED, size="2", data_testid="upload-error"),
        ),
        rx.cond(
            ExportModalState.message != "", rx.text(ExportModalState.message, size="2", data_testid="exports-message")
        ),
        spacing="2",
    )


@member_page(route=EXPORTS_ROUTE, title="Exports")
def exports_page() -> rx.Component:
    return page(
        rx.hstack(
            rx.heading("Your exports", size="6"),
            rx.text(ExportsLive.total.to_string() + " total", size="2", color=TEXT_MUTED, data_testid="exports-total"),
            align="baseline",
            spacing="3",
        ),
        rx.box(upload_control(), margin_y="1em"),
        rx.cond(
            ExportsLive.rows.length() > 0,
            items_table(
                ("", "Title", "Created", "Duration", "Size", "HLS", ""),
                ExportsLive.rows,
                export_row,
                # The pages Show more added, the oldest first, each row with its page's statuses (MORE_ROWS).
                more=[
                    (rows_var(rows), rows_of(statuses))
                    for rows, statuses in reversed(list(zip(MORE_ROWS, MORE_STATUSES, strict=True)))
                ],
                variant="surface",
                class_name="exports-table",
                data_testid="exports-table",
            ),
            rx.text("No exports yet. Add one above.", color=TEXT_MUTED, data_testid="exports-empty"),
        ),
        rx.cond(
            ExportsLive.has_more,
            rx.center(
                rx.button("Show more", variant="soft", on_click=ExportsLive.show_more, data_testid="btn-show-more"),
                margin_top="1em",
            ),
        ),
        export_modal(),
    )
