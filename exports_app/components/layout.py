"""The page frame: a header with the product name, the member and Sign out; the frame of the pages a query names."""

from __future__ import annotations

import reflex as rx

from exports_app.components.styles import BORDER, PAGE_BG, TEXT_MUTED
from exports_app.components.toasts import toasts
from exports_app.components.vars import icon
from exports_app.routes import EXPORTS_ROUTE
from exports_app.state.auth import AuthState


def header() -> rx.Component:
    return rx.hstack(
        rx.link(rx.heading("Exports", size="5"), href=EXPORTS_ROUTE, underline="none", color="inherit"),
        rx.spacer(),
        rx.cond(
            AuthState.username != "",
            rx.hstack(
                icon("user", size=16, color=TEXT_MUTED),
                rx.text(AuthState.username, data_testid="member-name", size="2"),
                rx.button(
                    "Sign out", variant="soft", size="1", on_click=AuthState.sign_out, data_testid="btn-sign-out"
                ),
                align="center",
                spacing="2",
            ),
        ),
        padding_x="1.5em",
        padding_y="0.9em",
        border_bottom=f"1px solid {BORDER}",
        background="white",
        width="100%",
        align="center",
    )


def page(*children: rx.Component) -> rx.Component:
    return rx.box(
        header(),
        rx.box(*children, max_width="1100px", margin_x="auto", padding="1.5em"),
        toasts(),
        background=PAGE_BG,
        min_height="100vh",
    )


def query_page(error: rx.Var[str], error_testid: str, *children: rx.Component) -> rx.Component:
    """A page showing what its query names: a way back to the list, then the content, or the one-line refusal."""
    return page(
        rx.link("← Back to exports", href=EXPORTS_ROUTE, size="2"),
        rx.cond(
            error != "",
            rx.callout(error, color_scheme="red", margin_top="1em", data_testid=error_testid),
            rx.vstack(*children, spacing="3", margin_top="1em", width="100%"),
        ),
    )
