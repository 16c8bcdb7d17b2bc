"""/login: the sign-in form."""

from __future__ import annotations

import reflex as rx

from exports_app.components.styles import BLUE, PAGE_BG
from exports_app.pages.registry import page
from exports_app.routes import LOGIN_ROUTE
from exports_app.state.auth import LoginState


@page(route=LOGIN_ROUTE, title="Sign in · Exports", on_load=[LoginState.redirect_if_signed_in])
def login_page() -> rx.Component:
    return rx.center(
        rx.card(
            rx.form(
                rx.vstack(
                    rx.heading("Sign in to Exports", size="5"),
                    rx.text("Prep your exports for publishing.", size="2", color="gray"),
                    rx.input(
                        name="username",
                        placeholder="Username",
                        auto_complete="username",
                        width="100%",
                        data_testid="login-username",
                        required=True,
                    ),
                    rx.input(
                        name="password",
                        placeholder="Password",
                        type="password",
                        auto_complete="current-password",
                        width="100%",
                        data_testid="login-password",
                        required=True,
                    ),
                    rx.cond(
                        LoginState.error != "",
                        rx.callout(
                            LoginState.error, color_scheme="red", size="1", width="100%", data_testid="login-error"
                        ),
                    ),
                    rx.button(
                        "Sign in",
                        type="submit",
                        width="100%",
                        loading=LoginState.busy,
                        background_color=BLUE,
                        data_testid="login-submit",
                    ),
                    spacing="3",
                    width="100%",
                ),
                on_submit=LoginState.submit,
                reset_on_submit=False,
            ),
            width="22em",
        ),
        min_height="100vh",
        background=PAGE_BG,
    )
