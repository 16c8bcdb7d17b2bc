"""Which tabs hold a member's live list: the addresses of a status push, kept apart from Reflex's state locks.

Reflex records a linked tab in the shared state's `_linked_from`, written under the shared state's lock. Under
Redis that lock expires after `redis_lock_expiration`; in a connect rush of 2,000 tabs a slow holder outlived it
and a concurrent link overwrote the set, so 5 tabs silently never got a push (bench/bench_capacity.py). Here a
tab is added with one atomic Redis ZADD (or to this process's dict when there is no Redis: one worker), so no
link is lost, and the push sends to both sets. Closed tabs stay listed until the member's entry expires (the
state expiry, refreshed on every add) or MAX_TABS newer tabs push them out; the push skips tabs that are not
connected. Under Redis each worker also keeps its own copy of what its tabs recorded, and writes it back when
Redis restarted empty (`lost`, `restore`; jobs/tab_records.py runs them).
"""

from __future__ import annotations

import os
import socket
import time
from collections import defaultdict
from collections.abc import Awaitable, Iterable
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
    # Kept in this process under Redis too (for the tabs whose events this worker took): Redis run without
    # persistence forgets everything when it restarts, and `restore` writes these back (see jobs/tab_records).
    now = time.monotonic()
    tabs = _local[member_key]
    tabs.pop(tab, None)
    tabs[tab] = now  # the newest last
    for stale in [t for t, seen in tabs.items() if now - seen > _expiry()]:
        del tabs[stale]
    while len(tabs) > MAX_TABS:
        del tabs[next(iter(tabs))]
    redis = _client()
    if redis is None:
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
    _owners.pop(tab, None)  # this process's copy, under Redis too (see add)
    _owners[tab] = (member_key, session)
    while len(_owners) > MAX_OWNERS:
        del _owners[next(iter(_owners))]
    redis = _client()
    if redis is None:
        return
    await redis.set(OWNER_PREFIX + tab, f"{member_key} {session}", ex=_expiry())


async def release(tab: str, member_key: str) -> None:
    """`tab` no longer belongs to `member_key`: it leaves the member's tabs and has no owner."""
    _local.get(member_key, {}).pop(tab, None)
    _owners.pop(tab, None)
    redis = _client()
    if redis is None:
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


# This worker's mark in Redis: absent when Redis lost its keys (restarted empty), or after an hour (a harmless
# restore: every write of `restore` keeps what Redis has). Named by host and process, not at import: the workers
# are forked from one process that imported this module.
MARK_PREFIX = "exports_app:tab-records-kept:"
MARK_SECONDS = 3600


def _mark() -> str:
    return f"{MARK_PREFIX}{socket.gethostname()}:{os.getpid()}"


async def lost() -> bool:
    """Whether Redis lost this worker's records since the last call (True the first time); False without Redis."""
    redis = _client()
    return redis is not None and bool(await redis.set(_mark(), "1", nx=True, ex=MARK_SECONDS))


async def forget_mark() -> None:
    """Take back the mark lost() set, so that the next call says lost again (a restore that failed)."""
    redis = _client()
    if redis is not None:
        await redis.delete(_mark())


async def restore(held: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Write back into Redis what this worker recorded of the tabs whose websockets it holds (`held`): their owners
    and the members' lists they show, where Redis has none (after it restarted empty). Tabs not held here are
    forgotten here: their own worker restores them. Returns the owner (member key, session) of each held tab."""
    redis = _client()
    if redis is None:
        return {}
    tabs = set(held)
    for tab in [t for t in _owners if t not in tabs]:
        del _owners[tab]
    for member_key in list(_local):
        for tab in [t for t in _local[member_key] if t not in tabs]:
            del _local[member_key][tab]
        if not _local[member_key]:
            del _local[member_key]
    async with redis.pipeline(transaction=False) as pipe:
        for tab, (member_key, session) in _owners.items():
            pipe.set(OWNER_PREFIX + tab, f"{member_key} {session}", ex=_expiry(), nx=True)
        for member_key, shown in _local.items():
            pipe.zadd(KEY_PREFIX + member_key, dict.fromkeys(shown, time.time()), nx=True)
            pipe.expire(KEY_PREFIX + member_key, _expiry())
        await pipe.execute()
    return dict(_owners)
