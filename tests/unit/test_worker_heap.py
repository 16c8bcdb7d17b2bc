"""The worker's garbage collector settings (exports_app.worker_heap): applied as the app starts serving."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from exports_app.exports_app import app
from exports_app.worker_heap import YOUNG_THRESHOLD, settle_heap


@pytest.fixture
def own_collector() -> Iterator[tuple[int, int, int]]:
    """The test process's thresholds before; its collector is given back as it was (settle_heap changes the whole
    process)."""
    before = gc.get_threshold()
    try:
        yield before
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


def test_settle_heap_freezes_what_is_loaded_and_spaces_the_young_passes_but_still_collects_cycles(
    own_collector: tuple[int, int, int],
) -> None:
    loaded = _Node()
    settle_heap()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    assert gc.get_threshold()[1:] == own_collector[1:]  # the older generations keep their spacing
    assert gc.isenabled()
    # What was loaded before stays out of every pass; garbage made afterwards is still collected.
    later = _Node()
    gone = weakref.ref(later)
    del later
    gc.collect()
    assert gone() is None
    frozen = weakref.ref(loaded)
    del loaded
    gc.collect()
    assert frozen() is not None


def test_the_app_settles_the_heap_last_of_its_lifespan_tasks() -> None:
    assert app.get_lifespan_tasks()[-1] is settle_heap
