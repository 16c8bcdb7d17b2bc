"""The rx.App: pages, the API routes, and the lifespan tasks of the refresh scheduler and tab records (wiring only)."""

from __future__ import annotations

from functools import partial

import reflex as rx

from exports_app.api.app import create_api
from exports_app.api.guard import Guard, add_cors
from exports_app.api.observe import Observe
from exports_app.config import get_settings
from exports_app.jobs.scheduler import refresh_lifespan
from exports_app.jobs.tab_records import tab_records_lifespan
from exports_app.logs import configure as configure_logs
from exports_app.pages import add_pages
from exports_app.reflex_bridge import event_name, patches
from exports_app.services.secrets import member_token
from exports_app.state import live_tabs
from exports_app.state.errors import on_backend_exception, on_frontend_exception
from exports_app.state.exports import ExportModalState
from exports_app.state.socket_guard import SocketGuard
from exports_app.state.tab_guard import TabGuard
from exports_app.worker_heap import settle_heap

# Reflex's own code as this app changes it (reflex_bridge/patches.py), before the app is built. Besides what is named
# here: a member's tabs share one live list, which Reflex re-sends to the member's other tabs only when an event
# changed it (a tab linking to it re-sends nothing); and tab states kept on disk (REFLEX_STATE_MANAGER_MODE=disk) are
# looked through for expired ones once a minute, not after every write.
patches.install(
    server=patches.Server(
        # Reflex adds its CORS middleware outside every transformer; ours grants credentialed CORS to the
        # configured extra origins only.
        cors=add_cors,
        # Every websocket and every event a tab sends is counted before Reflex takes it: live tabs per member (or
        # address) and an event budget per tab and per member (state/socket_guard.py).
        sockets=SocketGuard(get_settings()),
        # /exports loads in the one event of its on_load, which also ends its hydration: no set_is_hydrated after it.
        hydrating=[(ExportModalState, "start_page")],
    )
)

configure_logs(get_settings().log_format)

app = rx.App(
    # The API's routes first, then the guard around everything (pages, websocket, uploads, API), then the request
    # ids and metrics around that (so the guard's own refusals are counted too).
    # The guard knows the one handler that takes files, and who each tab belongs to, from here.
    api_transformer=[
        create_api(),
        partial(
            Guard,
            upload_handlers=frozenset({event_name(ExportModalState, "upload")}),
            tab_owner=live_tabs.owner,
            member_key=member_token,
        ),
        Observe,
    ],
    stylesheets=["/styles.css"],
    # One bounded log line per error; browser reports only from signed-in tabs (state/errors.py).
    frontend_exception_handler=on_frontend_exception,
    backend_exception_handler=on_backend_exception,
)
# Ahead of Reflex's hydrate: a tab holds one member's data at a time, and event arguments fit their handler.
app.add_middleware(TabGuard(), index=0)
# The scheduler pushes through the app's state manager and socket namespace, handed over here so jobs/ never
# imports the app.
app.register_lifespan_task(refresh_lifespan, live=app)
# Every worker writes its tabs' records back when Redis restarted empty (jobs/tab_records.py).
app.register_lifespan_task(tab_records_lifespan, live=app)
add_pages(app)
# Last, once the rest has started: the loaded worker is frozen out of the collector's passes (worker_heap.py).
app.register_lifespan_task(settle_heap)
