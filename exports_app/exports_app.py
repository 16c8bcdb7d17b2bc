"""The rx.App: pages, the API routes, and the refresh scheduler's lifespan task (wiring only)."""

from __future__ import annotations

import reflex as rx

from exports_app.api.app import create_api
from exports_app.api.guard import Guard, add_cors
from exports_app.api.observe import Observe
from exports_app.config import get_settings
from exports_app.jobs.scheduler import refresh_lifespan
from exports_app.logs import configure as configure_logs

# Importing the page modules registers their pages (route, title and on_load are declared beside each page).
from exports_app.pages import exports, login, publish, space, timeline  # noqa: F401
from exports_app.pages.registry import PAGES

# Reflex adds its CORS middleware outside every transformer; ours grants credentialed CORS to the
# configured extra origins only (rx.App calls App._add_cors by name, so it is replaced there, not in a
# subclass; mypy refuses assigning to a method, which is the point here).
rx.App._add_cors = staticmethod(add_cors)  # type: ignore[method-assign]

configure_logs(get_settings().log_format)

app = rx.App(
    # The API's routes first, then the guard around everything (pages, websocket, uploads, API), then the request
    # ids and metrics around that (so the guard's own refusals are counted too).
    api_transformer=[create_api(), Guard, Observe],
    stylesheets=["/styles.css"],
)
# The scheduler pushes through the app's state manager and socket namespace, handed over here so jobs/ never
# imports the app.
app.register_lifespan_task(refresh_lifespan, live=app)

for registered in PAGES:
    app.add_page(registered.component, route=registered.route, title=registered.title,
                 on_load=list(registered.on_load))
app.add_page(lambda: rx.center(rx.spinner()), route="/", on_load=rx.redirect("/exports"))
