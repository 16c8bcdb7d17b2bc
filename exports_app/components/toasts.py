"""Toasts: a prep that ended while its modal was closed, told on whatever page the member's tab shows."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from exports_app.components.styles import BLUE, BORDER_STRONG, ERROR_RED, READY_GREEN
from exports_app.components.vars import cond_str, icon
from exports_app.hls_states import READY
from exports_app.state.exports import ExportModalState
from exports_app.state.exports_live import ExportsLive
from exports_app.state.views import Notice


def toast(item: ObjectVar[Notice]) -> rx.Component:
    shown = (
        (item.upload_id != ExportModalState.open_id)
        & (item.id.to(int) > ExportModalState.notices_after)
        & ~ExportModalState.dismissed.contains(item.id)
    )
    return rx.cond(
        shown,
        rx.hstack(
            icon(
                cond_str(item.kind == READY, "circle-check", "circle-alert"),
                size=18,
                color=cond_str(item.kind == READY, READY_GREEN, ERROR_RED),
            ),
            rx.text(item.text, size="2", weight="medium"),
            rx.link(
                item.action,
                href=item.href,
                size="2",
                weight="bold",
                color=BLUE,
                data_testid=f"toast-action-{item.upload_id}",
            ),
            rx.icon_button(
                icon("x", size=14),
                variant="ghost",
                size="1",
                color_scheme="gray",
                aria_label="Dismiss",
                # mypy types an @rx.event handler as rx.event's own class (EventNamespace).
                on_click=ExportModalState.dismiss(item.id),  # type: ignore[operator]
            ),
            align="center",
            spacing="3",
            padding="0.7em 1em",
            background="white",
            border=f"1px solid {BORDER_STRONG}",
            border_radius="8px",
            box_shadow="0 4px 16px rgba(0, 0, 0, 0.12)",
            data_testid=f"toast-{item.upload_id}",
        ),
    )


def toasts() -> rx.Component:
    """The stack of toasts, bottom right; read out politely by screen readers."""
    return rx.vstack(
        rx.foreach(ExportsLive.notices, toast),
        position="fixed",
        bottom="1em",
        right="1em",
        left=["1em", "auto"],
        align="end",
        spacing="2",
        z_index="60",
        aria_live="polite",
        data_testid="toasts",
    )
