"""E2E fixtures: the app started by scripts/serve.sh (as `make run` starts it) and headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Playwright

from tests.e2e.members import DEMO_PASSWORD
from tests.support.app_process import CHROMIUM, CHROMIUM_ARGS, RunningApp, start_app
from tests.support.ports import free_port


@pytest.fixture(scope="session")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    # test_origins checks EXPORTS_ALLOWED_ORIGINS, so this app names its own origins explicitly.
    port = free_port()
    app = start_app(
        tmp_path_factory.mktemp("e2e-data"),
        {
            "EXPORTS_DEMO_PASSWORD": DEMO_PASSWORD,
            "EXPORTS_REFRESH_SECONDS": "1",
            "EXPORTS_ALLOWED_ORIGINS": f"http://127.0.0.1:{port},http://localhost:{port}",
            # test_load holds 50 live tabs of one member, past the default cap of 20.
            "EXPORTS_MAX_TABS_PER_MEMBER": "60",
        },
        port=port,
    )
    try:
        yield app
    finally:
        app.stop()


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture
def context(browser: Browser, app_server: RunningApp) -> Iterator[BrowserContext]:
    """A fresh browser context; the test fails if any page of it broke the app's Content-Security-Policy."""
    ctx = browser.new_context(base_url=app_server.url, viewport={"width": 1280, "height": 900})
    refused: list[str] = []  # Chromium reports each blocked script, style, worker or connection on the console
    ctx.on(
        "console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None
    )
    yield ctx
    ctx.close()
    assert refused == [], f"the page broke its own CSP: {refused}"
