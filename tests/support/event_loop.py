"""An async test body run on an event loop of its own, for tests whose thread's loop belongs to someone else."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def run_in_own_loop(coroutine: Coroutine[object, object, T]) -> T:
    """Run an async test body in a thread with its own loop: in the e2e session Playwright's loop owns this one.

    The body sees this thread's context variables (e.g. Reflex's registration of the app's states)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(contextvars.copy_context().run, asyncio.run, coroutine).result()
