"""Every page of the app, one module each, listed here: the app adds exactly these (one per route in routes.py)."""

from __future__ import annotations

import reflex as rx

from exports_app.pages.exports import exports_page
from exports_app.pages.index import index_page
from exports_app.pages.login import login_page
from exports_app.pages.publish import publish_page
from exports_app.pages.registry import Page
from exports_app.pages.space import space_page
from exports_app.pages.timeline import timeline_page

PAGES: tuple[Page, ...] = (login_page, exports_page, publish_page, space_page, timeline_page, index_page)


def add_pages(app: rx.App) -> None:
    """Add every page to the app."""
    for listed in PAGES:
        listed.add_to(app)
