"""Memory per open websocket in the server alone: gunicorn + uvicorn (what `make run` serves with) vs Granian.

The capacity benchmark found most of a live tab's memory was the server's websocket, not the app. This isolates
it: a minimal ASGI app that accepts websockets and holds them, served by each server with one worker, N raw
websocket handshakes held open, RSS of the server's processes after minus before. Baseline: Granian (Reflex's
default server), in the same run. Knob: BENCH_WS_SOCKETS (1,000).
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import gunicorn_command, report
from tests.support.app_process import group_pids
from tests.support.capacity import rss_kb
from tests.support.ports import free_port

SOCKETS = int(os.environ.get("BENCH_WS_SOCKETS", "1000"))
APP = """
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    elif scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        while (await receive())["type"] != "websocket.disconnect":
            pass
"""


async def _open(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    await writer.drain()
    status = await reader.readline()
    if b" 101 " not in status:
        raise RuntimeError(f"no websocket: {status!r}")
    while (await reader.readline()) not in (b"\r\n", b""):
        pass
    return reader, writer


async def _probe(port: int) -> None:
    _, writer = await _open(port)
    writer.close()


async def _hold(port: int, group: int) -> float:
    """KB of server RSS per websocket, N held open."""
    before = rss_kb(group_pids(group))
    held: list[Any] = []
    for start in range(0, SOCKETS, 50):
        held += await asyncio.gather(*(_open(port) for _ in range(min(50, SOCKETS - start))))
    await asyncio.sleep(2)
    after = rss_kb(group_pids(group))
    for _, writer in held:
        writer.close()
    return (after - before) / SOCKETS


def measure(command: list[str], port: int, work: Path) -> float:
    server = subprocess.Popen(
        command, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                asyncio.run(_probe(port))
                break
            except (OSError, RuntimeError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        time.sleep(1)
        return asyncio.run(_hold(port, server.pid))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-ws-"))
    (work / "wsapp.py").write_text(APP)
    port = free_port()
    ours = measure(
        gunicorn_command("wsapp:app", port),
        port,
        work,
    )
    port = free_port()
    granian = measure(
        [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "asgi",
            "--workers",
            "1",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "wsapp:app",
        ],
        port,
        work,
    )
    report(
        f"Server memory per open websocket, {SOCKETS} held (KB)",
        gunicorn_uvicorn_kb=ours,
        granian_kb=granian,
        ratio_ours_vs_granian=ours / granian,
    )


if __name__ == "__main__":
    main()
