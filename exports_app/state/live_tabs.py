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
from typing import Awaitable, cast

from redis.asyncio import Redis
from reflex.config import get_config
from reflex.utils import prerequisites

KEY_PREFIX = "exports_app:live-tabs:"
MAX_TABS = 50  # per member, the most recently opened: a member opening tabs by the thousand cannot slow every push

_local: dict[str, dict[str, float]] = defaultdict(dict)  # member key → tab → last added (oldest first)
_redis: Redis | None = None
_redis_checked = False


def _expiry() -> int:
    """Seconds a member's entry outlives its last add: as long as Reflex keeps a tab's state."""
    return int(get_config().redis_token_expiration)


def _client() -> Redis | None:
    """The process's Redis client when the app runs with REFLEX_REDIS_URL (several workers), else None."""
    global _redis, _redis_checked
    if not _redis_checked:
        _redis, _redis_checked = prerequisites.get_redis(), True
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
