"""The cog modal: status line, HD line, detail, progress or preview, then Open Timeline, Prep, Publish, Delete."""

from __future__ import annotations

import reflex as rx

from exports_app.components.hls_look import look_of
from exports_app.components.hls_player import hls_video
from exports_app.components.styles import BLUE, BURGUNDY, DARK_GRAY, ERROR_RED, TEXT_MUTED, filled
from exports_app.components.vars import cond_str
from exports_app.state.exports import ExportModalState
from exports_app.state.exports_live import status_var

status = status_var(ExportModalState.open_key)  # the open export's StatusView
look = look_of(status.state)  # what its state shows and allows


def _prep_button() -> rx.Component:
    return rx.button(
        look.prep_label,
        on_click=ExportModalState.prep,
        disabled=~look.prep_enabled,
        style=filled(cond_str(look.prep_enabled, BLUE, DARK_GRAY)),
        data_testid="btn-prep",
    )


def _publish_button() -> rx.Component:
    return rx.button(
        "Publish",
        on_click=ExportModalState.publish,
        disabled=~look.publish_enabled,
        style=filled(cond_str(look.publish_enabled, BLUE, DARK_GRAY)),
        data_testid="btn-publish",
    )


def _timeline_button() -> rx.Component:
    has_project = ExportModalState.open_project_id > 0
    button = rx.button(
        "Open Timeline",
        on_click=ExportModalState.open_timeline,
        disabled=~has_project,
        style=filled(cond_str(has_project, BLUE, DARK_GRAY)),
        data_testid="btn-open-timeline",
    )
    return rx.cond(
        has_project, button, rx.tooltip(rx.box(button, width="100%"), content="This export has no timeline project.")
    )


def _delete_area() -> rx.Component:
    return rx.cond(
        ExportModalState.confirming_delete,
        rx.vstack(
            rx.text("Delete this export? Its HLS productions stay.", size="2", weight="medium"),
            rx.hstack(
                rx.button(
                    "Delete export only",
                    on_click=ExportModalState.confirm_delete,
                    style=filled(BURGUNDY),
                    data_testid="btn-confirm-delete",
                ),
                rx.button(
                    "Cancel", variant="soft", on_click=ExportModalState.cancel_delete, data_testid="btn-cancel-delete"
                ),
                width="100%",
            ),
            width="100%",
            padding="0.6em",
            border=f"1px solid {BURGUNDY}",
            border_radius="6px",
            data_testid="delete-confirm",
        ),
        rx.button("Delete", on_click=ExportModalState.ask_delete, style=filled(BURGUNDY), data_testid="btn-delete"),
    )


def _progress() -> rx.Component:
    return rx.cond(
        look.shows_progress,
        rx.vstack(
            rx.progress(
                value=status.percent, max=100, width="100%", aria_label="Transcode progress", data_testid="hls-progress"
            ),
            rx.text(
                status.phase.to(str) + " · " + status.percent.to_string() + "%",
                size="1",
                color=TEXT_MUTED,
                data_testid="hls-phase",
            ),
            width="100%",
            spacing="1",
        ),
    )


def _preview() -> rx.Component:
    return rx.cond(
        look.shows_preview,
        rx.box(
            hls_video(
                src=status.hls_url,
                poster=status.poster_url,
                controls=True,
                preload="metadata",
                style={"width": "100%", "display": "block"},
            ),
            width="100%",
            data_testid="hls-preview",
        ),
    )


def export_modal() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.cond(
                ExportModalState.modal_open,
                rx.vstack(
                    rx.dialog.title(ExportModalState.open_title),
                    rx.text(status.text, weight="medium", data_testid="hls-status"),
                    # A ready production of two passes: its HD pass on the way, or why it has none.
                    rx.cond(status.hd != "", rx.text(status.hd, size="1", color=TEXT_MUTED, data_testid="hls-hd")),
                    rx.cond(
                        status.detail != "",
                        rx.text(
                            rx.cond(
                                status.attempt != "",
                                rx.text.span(status.attempt.to(str) + ": ", data_testid="hls-attempt"),
                            ),
                            status.detail,
                            size="1",
                            color=ERROR_RED,
                            data_testid="hls-detail",
                        ),
                    ),
                    rx.cond(
                        ExportModalState.message != "",
                        rx.text(ExportModalState.message, size="1", color=ERROR_RED, data_testid="modal-message"),
                    ),
                    _progress(),
                    _preview(),
                    _timeline_button(),
                    _prep_button(),
                    _publish_button(),
                    _delete_area(),
                    rx.dialog.close(rx.button("Close", variant="ghost", width="100%", color=DARK_GRAY)),
                    spacing="3",
                    width="100%",
                ),
            ),
            data_testid="export-modal",
            max_width="26em",
            # A dialog without a trigger returns focus nowhere; the keyboard user goes back to the cog they left.
            on_close_auto_focus=rx.call_script(
                "document.querySelector('[data-testid=\"export-cog-"
                + ExportModalState.last_opened.to_string()
                + "\"]')?.focus()"
            ),
        ),
        open=ExportModalState.modal_open,
        on_open_change=ExportModalState.set_modal_open,
    )
