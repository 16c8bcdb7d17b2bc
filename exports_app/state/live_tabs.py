"""Which tabs hold a member's live list: the addresses of a status push, kept apart from Reflex's state locks.

Reflex records a linked tab in the shared state's `_linked_from`, written under the shared state's lock. Under
Redis that lock expires after `redis_lock_expiration`; in a connect rush of 2,000 tabs a slow holder outlived it
and a concurrent link overwrote the set, so 5 tabs silently never got a push (bench/bench_capacity.py). Here a
tab is added with one atomic Redis ZADD (or to this process's dict when there is no Redis: one worker), so no
link is lost, and the push sends to both sets. Closed tabs stay listed until the member's entry expires (the
state expiry, refreshed on every add) or MAX_TABS newer tabs push them out; the push skips tabs that are not
connected.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Awaitable
from typing import cast

from redis.asyncio import Redis

from exports_app import reflex_bridge

KEY_PREFIX = "exports_app:live-tabs:"
MAX_TABS = 50  # per member, the most recently opened: a member opening tabs by the thousand cannot slow every push

_local: dict[str, dict[str, float]] = defaultdict(dict)  # member key → tab → last added (oldest first)
_redis: Redis | None = None
_redis_checked = False


def _expiry() -> int:
    """Seconds a member's entry outlives its last add: as long as Reflex keeps a tab's state."""
    return reflex_bridge.state_expiry_seconds()


def _client() -> Redis | None:
    """The process's Redis client when the app runs with REFLEX_REDIS_URL (several workers), else None."""
    global _redis, _redis_checked
    if not _redis_checked:
        _redis, _redis_checked = reflex_bridge.redis_client(), True
    return _redis


async def add(member_key: str, tab: str) -> None:
    """Record that `tab` (a client token) shows the live list of `member_key` (the member's shared token)."""
    redis = _client()
    if redis is None:
        now = time.monotonic()
        tabs = _local[member_key]
        tabs.pop(tab, None)
        tabs[tab] = now  # the newest last
        for stale in [t for t, seen in tabs.items() if now - seen > _expiry()]:
            del tabs[stale]
        while len(tabs) > MAX_TABS:
            del tabs[next(iter(tabs))]
        return
    key = KEY_PREFIX + member_key
    async with redis.pipeline(transaction=False) as pipe:  # a sorted set by time: one atomic add, oldest trimmed
        pipe.zadd(key, {tab: time.time()})
        pipe.zremrangebyrank(key, 0, -MAX_TABS - 1)
        pipe.expire(key, _expiry())
        await pipe.execute()


async def of(member_key: str) -> set[str]:
    """The tabs recorded for `member_key` (at most MAX_TABS), connected or not."""
    redis = _client()
    if redis is None:
        return set(_local.get(member_key, {}))
    # redis-py types its calls for its sync and asyncio clients at once; this is the asyncio one.
    members = await cast(Awaitable[list[bytes | str]], redis.zrange(KEY_PREFIX + member_key, 0, -1))
    return {t.decode() if isinstance(t, bytes) else t for t in members}


# Who each tab belongs to: (member key, session fingerprint), written when a tab is bound to a member and dropped
# when it changes hands. The push sends a member's statuses only to tabs bound to that member under a session
# that is still live, and the upload gate refuses a tab bound to someone else.
OWNER_PREFIX = "exports_app:tab-owner:"
_owners: dict[str, tuple[str, str]] = {}  # one worker: tab → (member key, session fingerprint), oldest first
MAX_OWNERS = 100_000  # one worker's record of tabs ever bound stays bounded (the oldest go first)


async def bind(tab: str, member_key: str, session: str) -> None:
    """Record that `tab` now belongs to `member_key`, signed in under the session fingerprint `session`."""
    redis = _client()
    if redis is None:
        _owners.pop(tab, None)
        _owners[tab] = (member_key, session)
        while len(_owners) > MAX_OWNERS:
            del _owners[next(iter(_owners))]
        return
    await redis.set(OWNER_PREFIX + tab, f"{member_key} {session}", ex=_expiry())


async def release(tab: str, member_key: str) -> None:
    """`tab` no longer belongs to `member_key`: it leaves the member's tabs and has no owner."""
    redis = _client()
    if redis is None:
        _local.get(member_key, {}).pop(tab, None)
        _owners.pop(tab, None)
        return
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zrem(KEY_PREFIX + member_key, tab)
        pipe.delete(OWNER_PREFIX + tab)
        await pipe.execute()


async def owners(tabs: list[str]) -> dict[str, tuple[str, str]]:
    """The recorded (member key, session fingerprint) of each of `tabs` that has one."""
    redis = _client()
    if redis is None:
        return {tab: _owners[tab] for tab in tabs if tab in _owners}
    if not tabs:
        return {}
    found = await cast(Awaitable[list[bytes | str | None]], redis.mget([OWNER_PREFIX + tab for tab in tabs]))
    result: dict[str, tuple[str, str]] = {}
    for tab, value in zip(tabs, found, strict=True):
        if value is not None:
            key, _, session = (value.decode() if isinstance(value, bytes) else value).partition(" ")
            result[tab] = (key, session)
    return result


async def owner(tab: str) -> str | None:
    """The member key `tab` is bound to, or None (the upload gate's question)."""
    found = (await owners([tab])).get(tab)
    return found[0] if found else None
