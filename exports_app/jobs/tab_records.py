"""Tabs' records in Redis written back after Redis lost them: each worker, for the tabs whose websockets it holds.

Redis run without persistence restarts empty. The tabs' websockets stay open on their workers, but the records a
push needs are gone: Reflex's socket record (which worker holds a tab, for relaying to it), and state/live_tabs'
owner of each tab and list of each member's tabs. Nothing would write them again until each tab reloads, so every
open tab silently lost its pushes. Each worker notices the loss by its own mark (state/live_tabs.lost) and writes
back what it knows of its own tabs, then sends those tabs their member's list as the database has it now (a
push made in between reached none of them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from exports_app import reflex_bridge as bridge
from exports_app.jobs import push
from exports_app.reflex_bridge import LiveApp
from exports_app.state import live_tabs

log = logging.getLogger(__name__)
CHECK_SECONDS = 2.0  # how soon after Redis is back the open tabs get their pushes again


async def restore_if_lost(live: LiveApp) -> dict[str, tuple[str, str]] | None:
    """Write this worker's tab records back if Redis lost them: the owners of the tabs it wrote back, None if it had
    nothing to do."""
    if not await live_tabs.lost():
        return None
    try:
        owners = await live_tabs.restore(await bridge.restore_own_sockets(live))
    except BaseException:
        # lost() has set the mark already: without it taken back, the next check would find nothing lost.
        with contextlib.suppress(Exception):
            await live_tabs.forget_mark()
        raise
    # A push made while the records were gone reached none of these tabs: they get their list again.
    await push.resend(live, owners)
    return owners


async def _keep(live: LiveApp) -> None:
    owed: dict[str, tuple[str, str]] | None = None
    while True:
        await asyncio.sleep(CHECK_SECONDS)
        try:
            if owed:
                # Once more, a check after the write-back: a push relayed from another worker before this worker's
                # relay listened again (it starts just after the write-back, below) reached none of these tabs.
                await push.resend(live, owed)
                owed = None
            owed = await restore_if_lost(live)
            if owed is not None:
                log.info("tab records written back to Redis")
            # Redis answered: Reflex's relay to this worker's tabs listens again if an outage stopped it.
            bridge.keep_relaying(live)
        except Exception as exc:  # Redis away: Reflex says so already; try again at the next check
            log.debug("tab records not checked: %s", exc)


@contextlib.asynccontextmanager
async def tab_records_lifespan(live: LiveApp) -> AsyncIterator[None]:
    """Run the check in every worker while it serves (a no-op without Redis: one worker keeps all in memory)."""
    if bridge.redis_client() is None:
        yield
        return
    task = asyncio.create_task(_keep(live))
    try:
        yield
    finally:
        task.cancel()
