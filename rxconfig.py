"""Reflex config: app name, the one port, database from the app's settings, telemetry off."""

import os

import reflex as rx

from exports_app.config import get_settings
from exports_app.frontend_bundle import SameOriginFrontend

settings = get_settings()

config = rx.Config(
    app_name="exports_app",
    db_url=settings.database_url,
    frontend_port=settings.port,
    backend_port=settings.port,
    telemetry_enabled=False,
    # Credentialed CORS only for the extra origins; the app's own origin needs none. The websocket's
    # origin check is ours (exports_app/api/guard.py): it compares with the request's Host.
    cors_allowed_origins=settings.allowed_origins,
    show_built_with_reflex=False,
    # Plugins explicit: Radix themes (no sitemap for a signed-in app; no Tailwind, styles are in Python), and ours
    # that keeps the port out of the frontend bundle, so one build serves any port (exports_app/frontend_bundle.py).
    plugins=[
        rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="blue", radius="medium")),
        SameOriginFrontend(),
    ],
    disable_plugins=[rx.plugins.SitemapPlugin],
    # One worker without Redis keeps its tabs' states in memory. Reflex's default, its disk manager, keeps the
    # same states in memory too and also pickles every changed one to a file after each event, so that a restarted
    # worker finds them; here a restarted tab reloads all it shows from the database anyway, and the pickling and
    # writing cost a quarter of the CPU of a connecting tab (bench_capacity, one worker, connect only, 600 tabs:
    # 8.3–9.3 → 6.3–6.9 ms a tab). With REFLEX_REDIS_URL, Reflex picks its Redis manager only while the mode is
    # left unset; REFLEX_STATE_MANAGER_MODE still wins over both.
    **({} if os.environ.get("REFLEX_REDIS_URL") else {"state_manager_mode": rx.constants.StateManagerMode.MEMORY}),
)
