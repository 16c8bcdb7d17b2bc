"""Sign-in throttling: too many failed logins for one account or from one address are refused for a while."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque

WINDOW_SECONDS = 300.0
MAX_FAILURES_PER_ACCOUNT = 10
MAX_FAILURES_PER_ADDRESS = 50


class LoginThrottle:
    """Sliding-window failure counts per account and per client address (in this process)."""

    def __init__(self, window: float = WINDOW_SECONDS, per_account: int = MAX_FAILURES_PER_ACCOUNT,
                 per_address: int = MAX_FAILURES_PER_ADDRESS) -> None:
        self.window, self.per_account, self.per_address = window, per_account, per_address
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures[key]
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def retry_after(self, username: str, address: str) -> int:
        """Seconds until this account/address may try again; 0 when allowed now."""
        now = time.monotonic()
        with self._lock:
            waits = []
            for key, limit in ((f"u:{username.lower()}", self.per_account), (f"a:{address}", self.per_address)):
                times = self._recent(key, now)
                if len(times) >= limit:
                    waits.append(times[0] + self.window - now)
            return int(max(waits)) + 1 if waits else 0

    def failed(self, username: str, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in (f"u:{username.lower()}", f"a:{address}"):
                self._recent(key, now).append(now)

    def reset(self) -> None:
        with self._lock:
            self._failures.clear()

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(f"u:{username.lower()}", None)


login_throttle = LoginThrottle()
