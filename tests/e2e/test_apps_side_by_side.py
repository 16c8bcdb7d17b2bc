"""Apps started side by side keep their own frontends: each page opens its websocket on its own app's port.

The bundle names no port (exports_app/frontend_bundle.py): the page takes its own origin's port, so one build
serves apps on any port. Before, `reflex run --env prod` baked each app's port into its build, and when all apps
built into one .web, a second app's start made the shared app serve a frontend that opened its websocket on the
second app's port: every later test of the shared app failed to sign in.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser

from tests.support.app_process import RunningApp, start_app

pytestmark = pytest.mark.e2e


def socket_port(browser: Browser, app: RunningApp) -> int | None:
    """The port of the websocket that app's login page opens."""
    context = browser.new_context(base_url=app.url)
    try:
        page = context.new_page()
        with page.expect_websocket(timeout=30_000) as socket:
            page.goto("/login")
        return urlsplit(socket.value.url).port
    finally:
        context.close()


def test_the_bundle_names_no_port(app_server: RunningApp) -> None:
    assert urlsplit(app_server.frontend_event_url()).port is None


def test_a_second_app_leaves_the_running_apps_frontend_alone(
    app_server: RunningApp, browser: Browser, tmp_path: Path
) -> None:
    own_port = urlsplit(app_server.url).port
    assert socket_port(browser, app_server) == own_port
    other = start_app(tmp_path, {"EXPORTS_SKIP_SEED": "1"})
    try:
        assert socket_port(browser, other) == urlsplit(other.url).port
        assert socket_port(browser, app_server) == own_port
    finally:
        other.stop()
    assert socket_port(browser, app_server) == own_port
