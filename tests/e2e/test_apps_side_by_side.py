"""Apps started side by side keep their own frontends: starting one does not repoint another's tabs.

Each `reflex run --env prod` builds the frontend with its own port baked in and serves that build while it
runs. When all apps built into one .web, a second app's start made the shared app serve a frontend that opened
its websocket on the second app's port, and every later test of the shared app failed to sign in.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support.app_process import RunningApp, start_app

pytestmark = pytest.mark.e2e


def test_a_second_app_leaves_the_running_apps_frontend_alone(app_server: RunningApp, tmp_path: Path) -> None:
    before = app_server.frontend_event_url()
    assert urlsplit(before).port == urlsplit(app_server.url).port
    other = start_app(tmp_path, {"EXPORTS_SKIP_SEED": "1"})
    try:
        assert urlsplit(other.frontend_event_url()).port == urlsplit(other.url).port
        assert app_server.frontend_event_url() == before
    finally:
        other.stop()
    assert app_server.frontend_event_url() == before
