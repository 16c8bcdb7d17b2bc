"""The app worker's garbage collector, set for a server that keeps many tabs' states in memory.

A worker holds every open tab's state tree (a few hundred objects a tab) besides the app itself (about 150,000
objects once loaded). CPython's default collector starts a young collection every 700 new objects and, every
hundred of those, a full one over the whole heap: with 1,000 tabs connecting at once that came to 5 full passes of
about 0.2 s each, a sixth of the worker's CPU in the rush (measured with gc.callbacks in bench_capacity).

Two standard settings, applied once in each worker when it starts serving (a Reflex lifespan task):
- the loaded app is frozen (`gc.freeze`): it lives as long as the process, and a full pass skips it from then on;
- a young collection waits for 10,000 new objects instead of 700 (the older generations keep CPython's spacing, so a
  full pass comes about every million). Only garbage in reference cycles waits longer for the pass that finds it;
  everything else is freed at once, as before, by reference counting. The passes are counted, not timed, so a client
  making garbage faster only brings them sooner.

Past 10,000 the rush gained a tenth of a second more while cycles waited longer still (docs/benchmarks.md, round
seven).
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000


def settle_heap() -> None:
    """Freeze what the worker has loaded and space out the collector's passes (once, as the worker starts)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
