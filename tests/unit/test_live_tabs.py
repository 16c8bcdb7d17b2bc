"""The push's address book: every tab that opened a member's live list is found, even when many open at once."""

from __future__ import annotations

import asyncio
import shutil
from typing import Iterator

import pytest
from redis.asyncio import Redis

from exports_app.state import live_tabs
from tests.conftest import run_in_own_loop
from tests.redis_server import RedisServer


@pytest.fixture(params=["one worker", "redis"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """live_tabs as one worker keeps it (a dict), or on a private Redis as several workers share it."""
    monkeypatch.setattr(live_tabs, "_local", type(live_tabs._local)(dict))
    if request.param == "one worker":
        monkeypatch.setattr(live_tabs, "_redis_checked", True)
        monkeypatch.setattr(live_tabs, "_redis", None)
        yield request.param
        return
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (make test installs it)")
    with RedisServer() as server:
        monkeypatch.setattr(live_tabs, "_redis_checked", True)
        monkeypatch.setattr(live_tabs, "_redis", None)
        monkeypatch.setattr(live_tabs, "_client", lambda: Redis.from_url(server.url))  # a client per loop
        yield server.url


def test_every_tab_of_a_connect_rush_is_recorded(backend: str) -> None:
    async def run() -> None:
        # 400 tabs of one member and one tab of another, all at once: nothing is lost to a concurrent write.
        await asyncio.gather(*(live_tabs.add("m-alice", f"tab-{n}") for n in range(400)),
                             live_tabs.add("m-bob", "tab-bob"))
        assert await live_tabs.of("m-alice") == {f"tab-{n}" for n in range(400)}
        assert await live_tabs.of("m-bob") == {"tab-bob"}
        assert await live_tabs.of("m-nobody") == set()
        await live_tabs.add("m-alice", "tab-1")  # the same tab again (a page change): still one entry
        assert len(await live_tabs.of("m-alice")) == 400

    run_in_own_loop(run())


def test_an_entry_expires_with_the_state_it_addresses(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live_tabs, "_expiry", lambda: 1)

    async def run() -> None:
        await live_tabs.add("m-alice", "tab-old")
        await asyncio.sleep(2.1)
        await live_tabs.add("m-alice", "tab-new")  # one worker prunes on add; on Redis the key lapsed
        assert await live_tabs.of("m-alice") == {"tab-new"}

    run_in_own_loop(run())
