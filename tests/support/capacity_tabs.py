"""The capacity client: members' `/exports` tabs held open over raw socket.io, many per process (asyncio).

Each tab does what the page does (tests/support/socketio_client.py): the upgrade with the member's session cookie, the
app's own Origin and a fresh UUID client token, and the CONNECT carrying `hydrate_and_load`, which queues the
page's on_load on the server (Reflex 0.10's page sends no on_load of its own when it connects: it sends one on a
client-side navigation). A tab is ready when its member's list has arrived. From then on it notes, with the time its
frame arrived, every change of an export's status (percent, phase, state) in the live state's deltas, and
anything it was sent that is not its member's (an upload id, a username).

Tabs run in child processes (`Fleet`), so the benchmark's own work (the MediaConvert test server, the
database watcher) never delays a receipt; `procs` splits the tabs over several processes if one is too busy.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from tests.support.socketio_client import AsyncEventSocket, open_socket_async, page_event

PAGE = "/exports"


@dataclass(frozen=True)
class TabPlan:
    """One tab to open: whose it is and what it may see."""

    tab: int
    member_id: int
    username: str
    cookie: str
    upload_ids: frozenset[int]


@dataclass(frozen=True)
class Protocol:
    """What the parent learns from the app's classes (children import no app code)."""

    hydrate_event: str
    live_state: str  # ExportsLive's full name: its key in a delta
    auth_state: str  # AuthState's full name
    rows_key: str  # the delta keys of ExportsLive.rows, .statuses and AuthState.username
    statuses_key: str
    username_key: str


@dataclass
class TabResult:
    """What one tab saw."""

    plan: TabPlan
    opened_at: float = 0.0
    ready_at: float | None = None
    error: str = ""
    closed_early: bool = False
    frames_at_ready: int = 0  # frames this tab got before its list had arrived
    frames_connected: int = 0  # ... by the time every tab of its process was ready (others' links re-send)
    bytes_connected: int = 0
    frames: int = 0  # ... by the end
    bytes: int = 0
    receipts: list[tuple[int, int, str, str, float]] = field(default_factory=list)  # upload, percent, phase, state, at
    foreign: list[str] = field(default_factory=list)
    loop_lag_max_ms: float = 0.0  # set on the first tab of each process: its loop's worst lateness under load


class SocketTab:
    """A member's `/exports` tab as a raw socket: its socket and the bookkeeping of what it received (a Fleet's
    tabs, and the socket tabs that tests/e2e/test_load.py opens beside its browser tabs)."""

    def __init__(self, plan: TabPlan, protocol: Protocol) -> None:
        self.plan = plan
        self.protocol = protocol
        self.result = TabResult(plan)
        self.token = str(uuid.uuid4())
        self.sock: AsyncEventSocket | None = None
        self.ready = asyncio.Event()
        self._last: dict[int, tuple[int, str, str]] = {}

    def on_event(self, data: Any, at: float) -> None:
        delta = data.get("delta") if isinstance(data, dict) else None
        if not isinstance(delta, dict):
            return
        p = self.protocol
        username = (delta.get(p.auth_state) or {}).get(p.username_key)
        if username not in (None, "", self.plan.username):
            self.result.foreign.append(f"username {username!r}")
        live = delta.get(p.live_state)
        if not isinstance(live, dict):
            return
        for row in live.get(p.rows_key) or []:
            if row.get("id") not in self.plan.upload_ids:
                self.result.foreign.append(f"row {row.get('id')}")
        statuses = live.get(p.statuses_key)
        if not isinstance(statuses, dict):
            return
        for key, view in statuses.items():
            upload_id = int(key)
            if upload_id not in self.plan.upload_ids:
                self.result.foreign.append(f"status {upload_id}")
                continue
            seen = (int(view.get("percent", 0)), str(view.get("phase", "")), str(view.get("state", "")))
            if self._last.get(upload_id) != seen:
                self._last[upload_id] = seen
                if self.ready.is_set():
                    self.result.receipts.append((upload_id, *seen, at))
        if not self.ready.is_set() and self.plan.upload_ids <= self._last.keys():
            self.result.ready_at = at
            self.ready.set()

    def status(self, upload_id: int) -> tuple[int, str, str] | None:
        """The status (percent, phase, state) of an export as this tab holds it now, or None before its list."""
        return self._last.get(upload_id)

    async def open(self, app_url: str, timeout: float) -> None:
        self.result.opened_at = time.time()
        try:
            self.sock = await open_socket_async(
                app_url, self.token, cookie=self.plan.cookie, on_event=self.on_event, timeout=timeout
            )
            if not self.sock.upgraded:
                self.result.error = f"upgrade answered {self.sock.status} {self.sock.reason}".strip()
                return
            if not await self.sock.join(page_event(self.protocol.hydrate_event, PAGE), timeout):
                self.result.error = f"namespace connect refused: {self.sock.connect_error}"
                return
            await asyncio.wait_for(self.ready.wait(), timeout)
            self.result.frames_at_ready = self.sock.frames_in
        except TimeoutError:
            self.result.error = "list not received in time"
        except OSError as exc:
            self.result.error = f"{type(exc).__name__}: {exc}"

    def finish(self) -> TabResult:
        if self.sock is not None:
            self.result.frames, self.result.bytes = self.sock.frames_in, self.sock.bytes_in
            self.result.closed_early = self.sock.closed
        return self.result


async def _serve(
    conn: Connection, app_url: str, plans: list[TabPlan], protocol: Protocol, concurrency: int, timeout: float
) -> None:
    """Open every tab (at most `concurrency` opening at once), report, hold them until told to stop."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    # The pipe is read by a thread: the loop stays free for the sockets.
    threading.Thread(target=lambda: (conn.recv(), loop.call_soon_threadsafe(stop.set)), daemon=True).start()
    tabs = [SocketTab(plan, protocol) for plan in plans]
    gate = asyncio.Semaphore(concurrency)

    async def open_one(tab: SocketTab) -> None:
        async with gate:
            await tab.open(app_url, timeout)

    await asyncio.gather(*(open_one(tab) for tab in tabs))
    for tab in tabs:
        if tab.sock is not None:
            tab.result.frames_connected, tab.result.bytes_connected = tab.sock.frames_in, tab.sock.bytes_in
    # From here on a receipt's time must be the frame's, not this loop's: no collector pauses (what the tabs
    # allocate in a minute is small), and the loop's lateness is measured and reported.
    gc.collect()
    gc.disable()
    lag = asyncio.create_task(_loop_lag(stop))
    conn.send(("connected", [tab.result for tab in tabs]))
    await stop.wait()
    results = [tab.finish() for tab in tabs]  # before closing: a socket the server dropped shows as closed
    if results:
        results[0].loop_lag_max_ms = await lag
    await asyncio.gather(*(tab.sock.close() for tab in tabs if tab.sock is not None))
    conn.send(("result", results))


async def _loop_lag(stop: asyncio.Event, period: float = 0.01) -> float:
    """The longest this loop was late to wake (ms): how late a receipt could have been noted."""
    worst = 0.0
    while not stop.is_set():
        planned = time.monotonic() + period
        await asyncio.sleep(period)
        worst = max(worst, time.monotonic() - planned)
    return worst * 1000


def _child(
    conn: Connection, app_url: str, plans: list[TabPlan], protocol: Protocol, concurrency: int, timeout: float
) -> None:
    asyncio.run(_serve(conn, app_url, plans, protocol, concurrency, timeout))


class Fleet:
    """Tabs in `procs` child processes: open them all, hold them open, then collect what each one saw."""

    def __init__(
        self,
        app_url: str,
        plans: list[TabPlan],
        protocol: Protocol,
        *,
        procs: int = 1,
        concurrency: int = 50,
        timeout: float = 120.0,
        seed: int = 7,
    ) -> None:
        order = list(plans)
        random.Random(seed).shuffle(order)  # members open their tabs interleaved, as people do
        context = multiprocessing.get_context("spawn")  # the parent runs threads (servers): never fork it
        self._conns: list[Connection] = []
        self.processes: list[Any] = []
        for i in range(procs):
            ours, theirs = context.Pipe()
            process = context.Process(
                target=_child,
                args=(theirs, app_url, order[i::procs], protocol, max(1, concurrency // procs), timeout),
                daemon=True,
            )
            process.start()
            self._conns.append(ours)
            self.processes.append(process)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes if p.pid is not None]

    def _receive(self, kind: str, timeout: float) -> list[TabResult]:
        results: list[TabResult] = []
        for conn in self._conns:
            if not conn.poll(timeout):
                raise TimeoutError(f"tab process sent no {kind!r} within {timeout:.0f} s")
            got, data = conn.recv()
            assert got == kind, got
            results.extend(data)
        return results

    def connected(self, timeout: float = 900.0) -> list[TabResult]:
        """Wait until every tab is open and has its list (or failed); their results so far."""
        return self._receive("connected", timeout)

    def stop(self, timeout: float = 120.0) -> list[TabResult]:
        """Close every tab; what each one saw."""
        for conn in self._conns:
            conn.send("stop")
        try:
            return self._receive("result", timeout)
        finally:
            self.close()

    def close(self) -> None:
        for process in self.processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
                process.join(timeout=10)
