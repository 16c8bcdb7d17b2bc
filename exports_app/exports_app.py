"""The rx.App: pages, the API routes, and the refresh scheduler's lifespan task (wiring only)."""

from __future__ import annotations

import reflex as rx

from exports_app.api.app import create_api
from exports_app.api.guard import Guard, add_cors
from exports_app.jobs.scheduler import refresh_lifespan
from exports_app.pages import add_pages

# Reflex adds its CORS middleware outside every transformer; ours grants credentialed CORS to the
# configured extra origins only (rx.App calls App._add_cors by name, so it is replaced there, not in a
# subclass; mypy refuses assigning to a method, which is the point here).
rx.App._add_cors = staticmethod(add_cors)  # type: ignore[method-assign]

app = rx.App(
    # The API's routes first, then the guard around everything (pages, websocket, uploads, API).
    api_transformer=[create_api(), Guard],
    stylesheets=["/styles.css"],
)
# The scheduler pushes through the app's state manager and socket namespace, handed over here so jobs/ never
# imports the app.
app.register_lifespan_task(refresh_lifespan, live=app)
add_pages(app)
