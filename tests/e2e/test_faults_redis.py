"""Redis restarted (its keys gone: no persistence, as a cache is often run) under an app of two workers, as
`make run` starts it with REFLEX_REDIS_URL and EXPORTS_WORKERS=2: a member's open tabs, on both workers, regain
their live pushes once Redis is back, and none is lost."""

from __future__ import annotations

import pickle
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.members import MEMBER_PASSWORD
from tests.support.app_process import RunningApp, csrf_of, sign_in, start_app
from tests.support.clips import make_clip
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.e2e

MAX_TABS = 12
SOCKET_RECORD = "token_manager_socket_record_"  # Reflex's RedisTokenManager key prefix
READY_TIMEOUT_MS = 180_000
# Longer than Reflex's own listeners keep trying (five failures a second apart), as a restart under load or a
# failover takes: the workers must start them again.
AWAY_SECONDS = 8


@pytest.fixture(scope="module")
def redis_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningApp, RedisServer]]:
    with RedisServer() as redis_server:
        app = start_app(
            tmp_path_factory.mktemp("faults-redis"),
            {
                "REFLEX_REDIS_URL": redis_server.url,
                "EXPORTS_WORKERS": "2",
                "EXPORTS_REFRESH_SECONDS": "1",
                "EXPORTS_SKIP_SEED": "1",
            },
        )
        try:
            yield app, redis_server
        finally:
            app.stop()


def restart(redis_server: RedisServer) -> None:
    """Stop Redis and start it again on its port, empty, after AWAY_SECONDS."""
    redis_server.stop()
    time.sleep(AWAY_SECONDS)
    redis_server.__enter__()


def worker_of(redis_server: RedisServer, page: Page) -> str | None:
    """The Reflex worker instance that holds this tab's websocket (its socket record in Redis)."""
    token = page.evaluate("() => window.sessionStorage.getItem('token')")
    raw = redis_server.client().get(SOCKET_RECORD + token)
    return pickle.loads(raw).instance_id if isinstance(raw, bytes) else None


def open_tab(context: BrowserContext, upload_id: str) -> Page:
    page = context.new_page()
    page.goto("/exports")
    expect(page.get_by_test_id(f"export-row-{upload_id}")).to_be_visible(timeout=30_000)
    return page


def test_tabs_regain_their_pushes_after_redis_restarts(
    redis_app: tuple[RunningApp, RedisServer], browser: Browser
) -> None:
    app, redis_server = redis_app
    app.cli("user", "create", "rita", "--password", MEMBER_PASSWORD)
    clip = make_clip(app.data_dir.parent / "redis-clip.mp4", seconds=1.0, width=160, height=120)
    before, after = (
        app.cli("export", "import", "--user", "rita", str(clip), "--title", title)
        for title in ("Before the restart", "After the restart")
    )
    context = browser.new_context(base_url=app.url, viewport={"width": 1280, "height": 900})
    try:
        sign_in(context.new_page(), "rita", MEMBER_PASSWORD)
        # Tabs until both workers hold some of their websockets (the kernel spreads a host's connections).
        tabs: list[Page] = []
        while len(tabs) < MAX_TABS and (len(tabs) < 2 or len({worker_of(redis_server, t) for t in tabs}) < 2):
            tabs.append(open_tab(context, before))
        assert len({worker_of(redis_server, t) for t in tabs}) == 2, f"{len(tabs)} tabs all on one worker"
        csrf = csrf_of(context)

        # Pushes reach every tab while Redis is up.
        assert context.request.post(f"/api/exports/{before}/prep-hls", headers={"X-CSRF-Token": csrf}).ok
        for tab in tabs:
            expect(tab.get_by_test_id(f"export-badge-{before}")).to_have_text("Ready", timeout=READY_TIMEOUT_MS)

        restart(redis_server)

        # None of the tabs is reloaded or touched: each must learn of the next change by a push.
        prep = context.request.post(f"/api/exports/{after}/prep-hls", headers={"X-CSRF-Token": csrf})
        assert prep.ok, prep.text()
        for tab in tabs:
            expect(tab.get_by_test_id(f"export-badge-{after}")).to_have_text("Ready", timeout=READY_TIMEOUT_MS)
            expect(tab.get_by_test_id(f"export-badge-{before}")).to_have_text("Ready")  # the list kept whole
    finally:
        context.close()
