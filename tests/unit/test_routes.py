"""Routes and pages in one place: the app serves exactly routes.py's pages, each listed once in exports_app.pages."""

from __future__ import annotations

import importlib
import pkgutil

from reflex_base.utils.format import format_route

import exports_app.pages
from exports_app.pages import PAGES
from exports_app.pages.registry import Page
from exports_app.routes import PAGE_ROUTES, exports_url, publish_url, space_url, timeline_url


def declared_pages() -> set[Page]:
    """Every page declared in a module of the pages package, listed or not."""
    found = set()
    for module in pkgutil.iter_modules(exports_app.pages.__path__, "exports_app.pages."):
        found |= {value for value in vars(importlib.import_module(module.name)).values() if isinstance(value, Page)}
    return found


def test_every_declared_page_is_listed_once() -> None:
    assert set(PAGES) == declared_pages() and len(PAGES) == len(set(PAGES))


def test_each_route_has_exactly_one_page() -> None:
    assert sorted(page.route for page in PAGES) == sorted(PAGE_ROUTES)


def test_the_app_serves_exactly_the_listed_routes() -> None:
    from exports_app.exports_app import app

    # Reflex keys its pages by the formatted route ("exports", "index" for "/"); it has no public list of them.
    served = app._unevaluated_pages
    assert set(served) == {format_route(route) for route in PAGE_ROUTES}
    assert {format_route(page.route): page.title for page in PAGES} == {route: served[route].title for route in served}


def test_url_builders() -> None:
    assert (publish_url(5), timeline_url(7), space_url(9)) == (
        "/publish?production=5",
        "/timeline?project=7",
        "/space?space=9",
    )
    assert (exports_url(), exports_url(open_upload=3)) == ("/exports", "/exports?open=3")
