"""The rx.App: pages, the API routes, and the refresh scheduler's lifespan task (wiring only)."""

from __future__ import annotations

import reflex as rx

from exports_app.api.app import create_api
from exports_app.api.guard import Guard, add_cors
from exports_app.jobs.scheduler import refresh_lifespan
from exports_app.pages.exports import exports_page
from exports_app.pages.login import login_page
from exports_app.pages.publish import publish_page
from exports_app.pages.space import space_page
from exports_app.pages.timeline import timeline_page
from exports_app.state.auth import AuthState, LoginState
from exports_app.state.exports import ExportsLive, ExportsState
from exports_app.state.publish import PublishState, SpaceState, TimelineState

# Reflex adds its CORS middleware outside every transformer; ours grants credentialed CORS to the
# configured extra origins only (rx.App calls App._add_cors by name, so it is replaced there, not in a
# subclass; mypy refuses assigning to a method, which is the point here).
rx.App._add_cors = staticmethod(add_cors)  # type: ignore[method-assign]

app = rx.App(
    # The API's routes first, then the guard around everything (pages, websocket, uploads, API).
    api_transformer=[create_api(), Guard],
    stylesheets=["/styles.css"],
)
# The scheduler pushes through the app's modify_state, handed over here so jobs/ never imports the app.
app.register_lifespan_task(refresh_lifespan, modify_state=app.modify_state)

app.add_page(login_page, route="/login", title="Sign in · Exports", on_load=LoginState.redirect_if_signed_in)
# Every signed-in page links the member's live list (toasts reach any page) before the page's own load.
MEMBER_PAGE = [AuthState.require_member, ExportsLive.load, ExportsState.start_page]

app.add_page(exports_page, route="/exports", title="Exports", on_load=MEMBER_PAGE)
app.add_page(publish_page, route="/publish", title="Publish · Exports", on_load=[*MEMBER_PAGE, PublishState.load])
app.add_page(space_page, route="/space", title="Space · Exports",
             on_load=[*MEMBER_PAGE, SpaceState.load])
app.add_page(timeline_page, route="/timeline", title="Timeline · Exports",
             on_load=[*MEMBER_PAGE, TimelineState.load])
app.add_page(lambda: rx.center(rx.spinner()), route="/", on_load=rx.redirect("/exports"))
