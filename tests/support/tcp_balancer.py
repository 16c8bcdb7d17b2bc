"""A round-robin TCP load balancer for the scale-out tests: one public port in front of several app hosts.

Each client connection (a page load's keep-alive connection, a websocket) goes to the next host; a host that
refuses the connection is skipped, as a load balancer's health check would take it out of the pool.
"""

from __future__ import annotations

import asyncio
import itertools
import threading

from tests.support.ports import free_port


class TcpBalancer:
    """`with TcpBalancer([port_a, port_b]) as lb:` then lb.port; runs its own event loop in a thread."""

    def __init__(self, backend_ports: list[int]) -> None:
        self.port = free_port()
        self.backends = list(backend_ports)
        self._next = itertools.cycle(range(len(self.backends)))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.base_events.Server | None = None

    def __enter__(self) -> TcpBalancer:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", self.port), self._loop
        ).result(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        for _ in self.backends:
            port = self.backends[next(self._next)]
            try:
                return await asyncio.open_connection("127.0.0.1", port)
            except OSError:  # that host is down: try the next one
                continue
        raise ConnectionRefusedError("no backend host answers")

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            host_r, host_w = await self._connect()
        except OSError:
            client_w.close()
            return
        await asyncio.gather(_pipe(client_r, host_w), _pipe(host_r, client_w), return_exceptions=True)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()
