"""The local transcoder's waiting line: each member's jobs in order, members taking turns (round-robin).

One member's batch of twenty preps must not hold everyone else's single prep back for twenty transcodes.
"""

from __future__ import annotations

import collections
from collections.abc import Hashable


class FairQueue:
    """Job ids queued per owner; pop() serves the owners in turn, each owner's jobs first in, first out."""

    def __init__(self) -> None:
        self._by_owner: dict[Hashable, collections.deque[int]] = {}
        self._turns: collections.deque[Hashable] = collections.deque()  # owners with jobs, next turn first

    def append(self, owner: Hashable, job_id: int) -> None:
        if owner not in self._by_owner:
            self._by_owner[owner] = collections.deque()
            self._turns.append(owner)
        self._by_owner[owner].append(job_id)

    def pop(self) -> int:
        """The next job: the first of the owner whose turn it is; that owner goes to the back of the line."""
        owner = self._turns.popleft()
        jobs = self._by_owner[owner]
        job_id = jobs.popleft()
        if jobs:
            self._turns.append(owner)
        else:
            del self._by_owner[owner]
        return job_id

    def remove(self, job_id: int) -> bool:
        """Take a waiting job out of the line (canceled); False if it is not waiting."""
        for owner, jobs in self._by_owner.items():
            if job_id in jobs:
                jobs.remove(job_id)
                if not jobs:
                    del self._by_owner[owner]
                    self._turns.remove(owner)
                return True
        return False

    def clear(self) -> None:
        self._by_owner.clear()
        self._turns.clear()

    def __len__(self) -> int:
        return sum(len(jobs) for jobs in self._by_owner.values())

    def __bool__(self) -> bool:
        return bool(self._turns)
