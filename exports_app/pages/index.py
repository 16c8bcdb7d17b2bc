"""/: no page of its own; it sends the visitor on to /exports (and a signed-out one from there to /login)."""

from __future__ import annotations

import reflex as rx

from exports_app.pages.registry import page
from exports_app.routes import EXPORTS_ROUTE, INDEX_ROUTE


@page(route=INDEX_ROUTE, title=None, on_load=[rx.redirect(EXPORTS_ROUTE)])
def index_page() -> rx.Component:
    return rx.center(rx.spinner())
