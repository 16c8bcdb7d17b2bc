"""The refresh scheduler: APScheduler in a Reflex lifespan task, one leader elected by a database lease."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from types import FrameType

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from exports_app import metrics
from exports_app.config import get_settings
from exports_app.db import session_scope
from exports_app.jobs import push, refresh
from exports_app.services import auth, exports, leases, media_jobs, throttle
from exports_app.transcode.base import Transcoder
from exports_app.transcode.factory import close_transcoder, get_transcoder

log = logging.getLogger(__name__)
JOB_ID = "refresh"
PURGE_ID = "housekeeping"


class RefreshRunner:
    """Runs ticks for the leader: on the interval, and at once when woken (from any thread)."""

    def __init__(self, scheduler: AsyncIOScheduler, loop: asyncio.AbstractEventLoop, live: push.LiveApp) -> None:
        self.scheduler = scheduler
        self.loop = loop
        self.live = live
        self.transcoder: Transcoder | None = None
        self._running = False
        self._again = False
        self._to_push: set[tuple[int, int]] = set()
        self._pusher: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Thread-safe: run a tick now, or right after the one under way."""
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._wake_in_loop)

    def _wake_in_loop(self) -> None:
        if self._running:
            self._again = True
            return
        job = self.scheduler.get_job(JOB_ID)
        if job is not None:
            job.modify(next_run_time=datetime.now(UTC))

    async def run(self) -> None:
        self._running = True
        try:
            while True:
                self._again = False
                await self._tick_once()
                if not self._again:
                    break
        finally:
            self._running = False

    async def _tick_once(self) -> None:
        settings = get_settings()
        if self.transcoder is None:
            self.transcoder = get_transcoder(wake=self.wake)
        try:
            result = await asyncio.to_thread(refresh.tick, self.transcoder, settings.job_timeout_seconds)
        except Exception:  # a locked or unreachable database: log it, the next tick tries again
            log.exception("refresh tick failed; retrying on the next tick")
            metrics.TICK_FAILURES.inc()
            return
        if result.changed or self._to_push:  # the latter: a push that failed is retried each tick
            self._push_soon(result.changed)

    def _push_soon(self, changed: set[tuple[int, int]]) -> None:
        """Hand changes to the one pusher task, so a slow push never holds back the next tick's polling.

        One task, in order, and coalesced: each push reads the statuses as they are now, so what piles up
        while a push is under way goes out in one later push.
        """
        self._to_push |= changed
        if self._pusher is None or self._pusher.done():
            self._pusher = asyncio.create_task(self._push_all())

    async def _push_all(self) -> None:
        while self._to_push:
            changed, self._to_push = self._to_push, set()
            try:
                with metrics.PUSH_SECONDS.time():
                    await push.notify(changed, self.live)
            except Exception:  # the database went away while reading statuses: keep them for the next tick
                log.exception("live push failed; retrying on the next tick")
                self._to_push |= changed
                return


def housekeeping_once() -> None:
    """Expired sign-ins, old sign-in failures, and the stored files of exports deleted long enough ago."""
    with session_scope() as session:
        auth.purge_expired_sessions(session=session)
        throttle.purge_old_failures(session=session)
    older_than = timedelta(days=get_settings().purge_days)
    while True:  # in batches, each committed, so a crash loses at most one batch's marks
        with session_scope() as session:
            if exports.purge_deleted_files(session=session, older_than=older_than) < exports.PURGE_BATCH:
                return


async def housekeeping() -> None:
    """The leader's periodic clean-up, so tables and the data dir do not grow forever."""
    try:
        await asyncio.to_thread(housekeeping_once)
    except Exception:  # housekeeping: try again at the next interval
        log.exception("housekeeping failed")


LEASE = "refresh-leader"
LEASE_SECONDS = 15.0  # a leader that stops renewing is replaced after this long
RENEW_SECONDS = 5.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def on_stop_signal(stop: Callable[[], None]) -> Callable[[], None]:
    """Call stop at SIGTERM or SIGINT, then the handler that was there; returns the undo.

    The server's own handler (uvicorn's) starts a graceful shutdown, which waits for the requests under way (an
    upload can take minutes) before the lifespan ends: the transcodes must not wait for that, nor be left to the
    SIGKILL that ends a shutdown taking too long. Only the main thread may set handlers; elsewhere (a test's own
    event loop) nothing is set.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    before = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}

    def handler(sig: int, frame: FrameType | None) -> None:
        stop()
        earlier = before[signal.Signals(sig)]
        if callable(earlier):
            earlier(sig, frame)
        elif earlier in (signal.SIG_DFL, None):  # what the process would have done without this handler: end
            signal.signal(sig, signal.SIG_DFL)
            signal.raise_signal(sig)

    for sig in STOP_SIGNALS:
        signal.signal(sig, handler)

    def undo() -> None:
        for sig, earlier in before.items():
            if signal.getsignal(sig) is handler and earlier is not None:
                signal.signal(sig, earlier)

    return undo


@contextlib.asynccontextmanager
async def refresh_lifespan(live: push.LiveApp) -> AsyncIterator[None]:
    """Start the scheduler inside the running loop; only the lease holder ticks, the others stand by.

    The lease lives in the database, so one leader runs across workers and hosts sharing it, and
    another takes over within LEASE_SECONDS when the leader dies. At SIGTERM or SIGINT the process stands down at
    once (its ffmpeg stopped), not when the server's graceful shutdown is through.
    """
    settings = get_settings()
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    loop = asyncio.get_running_loop()
    scheduler = AsyncIOScheduler(timezone=UTC)
    runner = RefreshRunner(scheduler, loop, live)
    unregister = media_jobs.register_wake(runner.wake)
    stopping: list[asyncio.Task[None]] = []

    async def stand_down() -> None:
        """No more ticks; every transcode stopped and waited for (its job stays pending, for whoever leads next to
        start over); then the lease given up, so the next leader never runs beside an ffmpeg of this one."""
        unregister()
        scheduler.shutdown(wait=False)
        await asyncio.to_thread(close_transcoder)
        try:
            with session_scope() as session:
                leases.release(session=session, name=LEASE, holder=holder)
        except Exception:  # the lease simply expires
            log.exception("releasing the refresh lease failed")

    def stand_down_soon() -> None:
        if not stopping:
            stopping.append(loop.create_task(stand_down()))

    def signalled() -> None:  # in a signal handler: the loop takes it from there
        loop.call_soon_threadsafe(stand_down_soon)

    def hold_lease() -> bool:
        with session_scope() as session:
            return leases.acquire(session=session, name=LEASE, holder=holder, ttl_seconds=LEASE_SECONDS)

    async def lead() -> None:
        try:
            leading = await asyncio.to_thread(hold_lease)
        except Exception:  # the database is unreachable: keep the current role until it answers
            log.exception("refresh lease check failed")
            return
        if leading and scheduler.get_job(JOB_ID) is None:
            log.info("refresh leader: %s", holder)
            now = datetime.now(UTC)
            scheduler.add_job(
                runner.run,
                "interval",
                seconds=settings.refresh_seconds,
                id=JOB_ID,
                coalesce=True,
                max_instances=1,
                next_run_time=now,
            )
            scheduler.add_job(
                housekeeping, "interval", hours=1, id=PURGE_ID, coalesce=True, max_instances=1, next_run_time=now
            )
        elif not leading and scheduler.get_job(JOB_ID) is not None:
            log.warning("refresh lease lost: %s stands by", holder)
            scheduler.remove_job(JOB_ID)
            scheduler.remove_job(PURGE_ID)

    scheduler.add_job(
        lead,
        "interval",
        seconds=RENEW_SECONDS,
        id="leader",
        coalesce=True,
        max_instances=1,
        next_run_time=datetime.now(UTC),
    )
    scheduler.start()
    undo = on_stop_signal(signalled)
    try:
        yield
    finally:
        undo()
        stand_down_soon()
        await stopping[0]
