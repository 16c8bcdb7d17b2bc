"""The token buckets of the app's in-process budgets (exports_app/token_buckets.py): a burst per key, a refused
action costs no bucket anything, and a crowd of keys is pruned without a pass on every take.

Refills are an hour long here, so nothing refills while a test runs."""

from __future__ import annotations

from exports_app.token_buckets import PRUNE_FROM, TokenBuckets, take_each

HOUR = 3600.0


def test_a_key_gets_its_burst_and_no_more() -> None:
    buckets = TokenBuckets.of_rate(burst=3, per_second=3 / HOUR)
    assert [buckets.take("tab") for _ in range(4)] == [True, True, True, False]
    assert buckets.take("another tab"), "each key has a bucket of its own"


def test_an_action_refused_by_one_bucket_costs_the_others_nothing() -> None:
    per_tab, per_member = TokenBuckets(2, HOUR), TokenBuckets(1, HOUR)
    assert take_each([(per_tab, "tab"), (per_member, "member")])
    assert not take_each([(per_tab, "tab"), (per_member, "member")]), "the member's bucket is empty"
    assert per_tab.take("tab"), "the refused action took nothing from the tab's bucket"
    assert not per_tab.take("tab")


def test_buckets_that_refilled_are_forgotten_once_many_keys_are_held() -> None:
    buckets = TokenBuckets(1, 1e-9)  # refilled at once: every key's bucket is full again by the next take
    for key in range(PRUNE_FROM + 1):
        assert buckets.take(key)
    assert len(buckets._levels) <= 1, "full buckets carry nothing worth keeping"
    busy = TokenBuckets(2, HOUR)
    for key in range(PRUNE_FROM + 10):
        busy.take(key)
    assert len(busy._levels) == PRUNE_FROM + 10, "a bucket in use is kept"
    assert busy._prune_at >= 2 * PRUNE_FROM, "and the next pass waits until as many keys again are held"
