"""The app's page routes and the URLs that lead to them: the one place a page's path is written.

exports_app/pages lists a page for each route here, and tests/unit/test_routes.py holds the app to exactly this set.
A builder takes an id, or a Reflex Var of one in a component (the URL is then put together in the browser).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from reflex.vars import Var

INDEX_ROUTE = "/"  # sends the member on to EXPORTS_ROUTE
LOGIN_ROUTE = "/login"
EXPORTS_ROUTE = "/exports"
PUBLISH_ROUTE = "/publish"
SPACE_ROUTE = "/space"
TIMELINE_ROUTE = "/timeline"

PAGE_ROUTES = frozenset({INDEX_ROUTE, LOGIN_ROUTE, EXPORTS_ROUTE, PUBLISH_ROUTE, SPACE_ROUTE, TIMELINE_ROUTE})

# The query parameters that name what a page shows; the pages' states read them by these names.
OPEN_PARAM = "open"  # /exports: the export whose modal opens
PRODUCTION_PARAM = "production"
SPACE_PARAM = "space"
PROJECT_PARAM = "project"

Id: TypeAlias = "int | Var[int]"


def exports_url(*, open_upload: Id | None = None) -> str:
    """/exports, or /exports?open=<id>: the list with that export's modal open (a failed prep's toast)."""
    return EXPORTS_ROUTE if open_upload is None else f"{EXPORTS_ROUTE}?{OPEN_PARAM}={open_upload}"


def publish_url(production_id: Id) -> str:
    """/publish?production=<id>: publish a ready production to spaces."""
    return f"{PUBLISH_ROUTE}?{PRODUCTION_PARAM}={production_id}"


def space_url(space_id: Id) -> str:
    """/space?space=<id>: a space and what is published there."""
    return f"{SPACE_ROUTE}?{SPACE_PARAM}={space_id}"


def timeline_url(project_id: Id) -> str:
    """/timeline?project=<id>: the video project an export was rendered from."""
    return f"{TIMELINE_ROUTE}?{PROJECT_PARAM}={project_id}"
