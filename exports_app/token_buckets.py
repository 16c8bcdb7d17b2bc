"""Token buckets: at most a burst of actions per key at once, refilled at a steady rate (in this process).

The one rate rule of the app's in-process budgets: browser error reports (state/errors.py) and the events and
pings a tab and a member send over the websocket (state/socket_guard.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

PRUNE_FROM = 10_000  # keys held before the full buckets (which carry no information) are forgotten

_lock = threading.Lock()  # one for every bucket: take_each spends from several at once


@dataclass
class TokenBuckets:
    """Per key, at most `capacity` actions in a burst, refilled evenly over `refill_seconds`."""

    capacity: float
    refill_seconds: float
    _levels: dict[object, tuple[float, float]] = field(default_factory=dict)  # key -> (tokens, at)
    _prune_at: int = PRUNE_FROM

    @classmethod
    def of_rate(cls, *, burst: float, per_second: float) -> TokenBuckets:
        """Buckets holding `burst` tokens, refilled at `per_second`."""
        return cls(burst, burst / per_second)

    def take(self, key: object) -> bool:
        """Spend one token of key's bucket; False when it is empty."""
        return take_each([(self, key)])

    def _level(self, key: object, now: float) -> float:
        tokens, at = self._levels.get(key, (float(self.capacity), now))
        return min(float(self.capacity), tokens + (now - at) * self.capacity / self.refill_seconds)

    def _set(self, key: object, tokens: float, now: float) -> None:
        self._levels[key] = (tokens, now)
        if len(self._levels) > self._prune_at:
            self._levels = {k: v for k, v in self._levels.items() if self._level(k, now) < self.capacity}
            # Pruned again only once as many keys again are held: a crowd of busy keys costs one pass, not one a take.
            self._prune_at = max(PRUNE_FROM, 2 * len(self._levels))


def take_each(buckets: Sequence[tuple[TokenBuckets, object]]) -> bool:
    """Spend one token from each (buckets, key), or none at all when any of them is empty: a refused action costs
    no bucket anything."""
    now = time.monotonic()
    with _lock:
        levels = [bucket._level(key, now) for bucket, key in buckets]
        spent = all(level >= 1 for level in levels)
        for (bucket, key), level in zip(buckets, levels, strict=True):
            bucket._set(key, level - 1 if spent else level, now)
        return spent
