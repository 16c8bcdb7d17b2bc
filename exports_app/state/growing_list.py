"""A list a page appends to, kept in a few state vars so that an append sends what changed, not the whole list.

Reflex sends a changed var whole: the frontend replaces it (no patch of a list exists). A list held in one var
costs its whole length at every append, so n appends send n²/2 items (977 spaces made on /publish: 82.7 MB, the
last frame 168 KB). Here what a page appends after its load lives in a few buckets, one var each, as a binary
counter: bucket i holds none or 2**i appends, older ones in higher buckets. An append carries the new items and the
full buckets below the first empty one into it, and empties those: most appends send only the new items, and an
item is sent again at most once per bucket. A page shows the list as its base (what it loaded) followed by the
buckets from the highest to bucket 0, which is the order the items came in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

LEVELS = 9  # buckets of a list of single items: 511 appends; past that, all fold into the base (one whole send)


def carried(buckets: Sequence[Sequence[T]], new: Sequence[T]) -> dict[int, list[T]] | None:
    """The buckets an append of `new` changes, by level (set only these: each one set is a var sent), or None when
    every bucket is full and the caller folds them into its base (see in_order)."""
    for level, bucket in enumerate(buckets):
        if not bucket:
            items = [item for lower in reversed(buckets[:level]) for item in lower]  # the oldest first
            return {**{lower: [] for lower in range(level)}, level: [*items, *new]}
    return None


def in_order(base: Sequence[T], buckets: Sequence[Sequence[T]]) -> list[T]:
    """The whole list as the page shows it: the base, then the buckets from the oldest (highest) to the newest."""
    return [*base, *(item for bucket in reversed(buckets) for item in bucket)]
