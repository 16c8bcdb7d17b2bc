"""The push's address book: every tab that opened a member's live list is found, even when many open at once."""

from __future__ import annotations

import asyncio
import shutil
from collections import defaultdict
from collections.abc import Iterator
from typing import cast

import pytest
from redis.asyncio import Redis

from exports_app import reflex_bridge
from exports_app.jobs import push, tab_records
from exports_app.reflex_bridge import LiveApp
from exports_app.state import live_tabs
from tests.support.event_loop import run_in_own_loop
from tests.support.redis_server import RedisServer


@pytest.fixture(params=["one worker", "redis"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """live_tabs as one worker keeps it (a dict), or on a private Redis as several workers share it."""
    monkeypatch.setattr(live_tabs, "_local", defaultdict[str, dict[str, float]](dict))
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
        # 20 members × 20 tabs, all at once: nothing is lost to a concurrent write.
        await asyncio.gather(*(live_tabs.add(f"m-{m}", f"tab-{m}-{n}") for n in range(20) for m in range(20)))
        for m in range(20):
            assert await live_tabs.of(f"m-{m}") == {f"tab-{m}-{n}" for n in range(20)}
        assert await live_tabs.of("m-nobody") == set()
        await live_tabs.add("m-1", "tab-1-1")  # the same tab again (a page change): still one entry
        assert len(await live_tabs.of("m-1")) == 20

    run_in_own_loop(run())


def test_a_member_opening_tabs_by_the_thousand_keeps_only_the_newest(backend: str) -> None:
    """Each push walks the member's tabs: a member (or a script signed in as one) opening thousands of tabs must
    not make every push slower for everyone, so only the MAX_TABS most recently opened are kept."""

    async def run() -> None:
        for n in range(live_tabs.MAX_TABS * 3):
            await live_tabs.add("m-greedy", f"tab-{n}")
        await live_tabs.add("m-greedy", "tab-0")  # an old tab opened again is among the newest
        newest = {f"tab-{n}" for n in range(live_tabs.MAX_TABS * 2 + 1, live_tabs.MAX_TABS * 3)} | {"tab-0"}
        assert await live_tabs.of("m-greedy") == newest

    run_in_own_loop(run())


def test_an_entry_expires_with_the_state_it_addresses(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live_tabs, "_expiry", lambda: 1)

    async def run() -> None:
        await live_tabs.add("m-alice", "tab-old")
        await asyncio.sleep(2.1)
        await live_tabs.add("m-alice", "tab-new")  # one worker prunes on add; on Redis the key lapsed
        assert await live_tabs.of("m-alice") == {"tab-new"}

    run_in_own_loop(run())


def test_a_worker_writes_its_tabs_back_when_redis_restarts_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    """Redis without persistence forgets every tab's owner and list when it restarts; each worker writes back
    those of the tabs whose websockets it holds (jobs/tab_records), and forgets the others."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (make test installs it)")
    monkeypatch.setattr(live_tabs, "_local", defaultdict[str, dict[str, float]](dict))
    monkeypatch.setattr(live_tabs, "_owners", {})
    with RedisServer() as server:
        monkeypatch.setattr(live_tabs, "_client", lambda: Redis.from_url(server.url))

        async def before() -> None:
            assert await live_tabs.lost()  # the first check: nothing of this worker's was there
            assert not await live_tabs.lost()
            for tab in ("tab-here", "tab-closed"):
                await live_tabs.bind(tab, "m-ann", "session-1")
                await live_tabs.add("m-ann", tab)

        async def after() -> None:
            assert await live_tabs.of("m-ann") == set() and await live_tabs.owners(["tab-here"]) == {}
            assert await live_tabs.lost()
            await live_tabs.restore(["tab-here"])  # the one tab still connected to this worker
            assert await live_tabs.of("m-ann") == {"tab-here"}
            assert await live_tabs.owners(["tab-here", "tab-closed"]) == {"tab-here": ("m-ann", "session-1")}
            assert not await live_tabs.lost()

        run_in_own_loop(before())
        server.stop()
        server.__enter__()  # the same port, empty
        run_in_own_loop(after())


def test_a_restore_that_fails_is_tried_again_at_the_next_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first check after Redis came back sets this worker's mark; if writing the records back then fails (Redis
    away again a moment later), the mark must not stay, or no later check would ever write them back."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (make test installs it)")
    monkeypatch.setattr(live_tabs, "_local", defaultdict[str, dict[str, float]](dict))
    monkeypatch.setattr(live_tabs, "_owners", {"tab-here": ("m-ann", "session-1")})
    monkeypatch.setattr(push, "resend", lambda live, owners: asyncio.sleep(0))
    sockets: list[object] = [ConnectionError("Redis went away"), ["tab-here"]]

    async def restore_own_sockets(live: object) -> list[str]:
        answer = sockets.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return cast(list[str], answer)

    monkeypatch.setattr(reflex_bridge, "restore_own_sockets", restore_own_sockets)
    with RedisServer() as server:
        monkeypatch.setattr(live_tabs, "_client", lambda: Redis.from_url(server.url))
        live = cast(LiveApp, object())

        async def checks() -> None:
            with pytest.raises(ConnectionError):
                await tab_records.restore_if_lost(live)
            assert await tab_records.restore_if_lost(live) is not None  # tried again, and written back
            assert await live_tabs.owners(["tab-here"]) == {"tab-here": ("m-ann", "session-1")}
            assert await tab_records.restore_if_lost(live) is None

        run_in_own_loop(checks())
