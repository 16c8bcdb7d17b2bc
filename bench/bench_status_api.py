"""Status API throughput: GET hls-status under 32 concurrent clients, ours vs a bare Starlette route,
on a small database and on one with 100,000 uploads, 20,000 productions and 5,000 sessions; and on the small one, the
route served by the whole app as `make run` starts it (guard, Reflex's mount) vs the FastAPI app alone. Beside the
requests a second, the CPU each request costs: the server's under the load, and each app's called in this process
one request at a time (the figures a machine shared with other work keeps steady)."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
from starlette.types import ASGIApp, Message

from bench import status_apps
from bench.common import ROOT, gunicorn_command, report
from bench.setup_db import fresh_data_dir
from bench.status_data import populate
from tests.support.figures import percentile
from tests.support.ports import free_port

CLIENTS = 32
SECONDS = float(os.environ.get("BENCH_SECONDS", "8"))


def serve(target: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Serve an ASGI app factory as `make run` serves the app: gunicorn, one uvicorn worker."""
    # The server `make run` uses (scripts/serve.sh): gunicorn with one uvicorn worker.
    proc = subprocess.Popen(
        gunicorn_command(f"{target}()", port),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{target} did not start")


@dataclass(frozen=True)
class Load:
    """What a load round measured: requests a second, latency percentiles (ms), non-200 answers."""

    rps: float
    p95_ms: float
    p99_ms: float
    errors: int
    cpu_ms: float = 0.0  # the server's CPU time per request (user + system): what load on a shared machine hides


async def load(url: str, ids: list[int], token: str, *, clients: int = CLIENTS, seconds: float = SECONDS) -> Load:
    """`clients` concurrent GETs of random exports' hls-status for `seconds`."""
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, cookies={"exports_session": token}, limits=limits) as client:

        async def worker() -> None:
            nonlocal errors
            rng = random.Random()
            while time.perf_counter() < stop:
                start = time.perf_counter()
                response = await client.get(f"/api/exports/{rng.choice(ids)}/hls-status")
                latencies.append(time.perf_counter() - start)
                errors += response.status_code != 200

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - began
    return Load(len(latencies) / elapsed, percentile(latencies, 95) * 1000, percentile(latencies, 99) * 1000, errors)


def measure_whole_app(data_dir: Path, ids: list[int], token: str) -> Load:
    """The same load against scripts/serve.sh on the same data dir (no demo seed)."""
    from tests.support.app_process import start_app

    app = start_app(data_dir, {"EXPORTS_SKIP_SEED": "1"})
    try:
        asyncio.run(load(app.url, ids[:200], token))
        return asyncio.run(load(app.url, ids, token))
    finally:
        app.stop()


def cpu_seconds(group: int) -> float:
    """User + system CPU time of every process in a process group (the gunicorn arbiter and its worker)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # a process that ended meanwhile
            continue
        if int(fields[2]) == group:  # fields after the name: state, ppid, pgrp, ..., utime (12th), stime (13th)
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def measure(ids: list[int], token: str) -> dict[str, Load]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    results = {}
    for name in ("bare", "ours"):  # the same server, worker count and database for both
        port = free_port()
        proc = serve(f"bench.status_apps:{name}", port, env)
        try:
            asyncio.run(load(f"http://127.0.0.1:{port}", ids[:200], token))  # warm up briefly
            used = cpu_seconds(proc.pid)
            result = asyncio.run(load(f"http://127.0.0.1:{port}", ids, token))
            requests = result.rps * SECONDS
            results[name] = replace(result, cpu_ms=(cpu_seconds(proc.pid) - used) / requests * 1000)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
    return results


async def _get(app: ASGIApp, path: str, cookie: bytes) -> int:
    """One GET through an ASGI app in this process, as a server would call it; returns the status code."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench"), (b"cookie", cookie)],
        "client": ("127.0.0.1", 1),
        "server": ("bench", 80),
    }
    status = 0

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


def cpu_in_process(ids: list[int], token: str, *, rounds: int = 5, requests: int = 400) -> dict[str, float]:
    """CPU ms per request of each app called in this process, one request at a time: no sockets, no client and no
    other process in the figure, so a shared machine's load moves it little. Rounds alternate; medians."""
    apps: dict[str, ASGIApp] = {name: getattr(status_apps, name)() for name in ("bare", "ours")}
    cookie = f"exports_session={token}".encode()
    rng = random.Random(5)
    per_round: dict[str, list[float]] = {name: [] for name in apps}

    async def batch(app: ASGIApp) -> None:
        for _ in range(requests):
            assert await _get(app, f"/api/exports/{rng.choice(ids)}/hls-status", cookie) == 200

    for app in apps.values():  # compiled statements, pooled connections, the threadpool: not in the figure
        asyncio.run(batch(app))
    for _ in range(rounds):
        for name, app in apps.items():
            began = time.process_time()  # every thread's: sync routes run in the threadpool
            asyncio.run(batch(app))
            per_round[name].append((time.process_time() - began) / requests * 1000)
    return {name: statistics.median(values) for name, values in per_round.items()}


def main() -> None:
    figures: dict[str, object] = {}
    per_size = {}
    in_process: dict[str, dict[str, float]] = {}
    for label, uploads, productions, sessions in (("small", 200, 40, 10), ("large", 100_000, 20_000, 5_000)):
        data_dir = fresh_data_dir("bench-status-")
        ids, token = populate(uploads, productions, sessions)
        in_process[label] = cpu_in_process(ids, token)
        results = measure(ids, token)
        if label == "small":
            results["whole_app"] = measure_whole_app(data_dir, ids, token)
            figures["small_ratio_whole_app_vs_fastapi_rps"] = results["whole_app"].rps / results["ours"].rps
        per_size[label] = results
        for name, result in results.items():
            figures[f"{label}_{name}"] = (
                f"{result.rps:.0f} req/s, p99 {result.p99_ms:.1f} ms, {result.errors} errors"
                + (f", server CPU {result.cpu_ms:.2f} ms/request" if result.cpu_ms else "")
            )
        figures[f"{label}_ratio_ours_vs_bare_rps"] = results["ours"].rps / results["bare"].rps
        # Requests a second a core could serve: the same ratio, without the other work on a shared machine.
        figures[f"{label}_ratio_ours_vs_bare_cpu"] = results["bare"].cpu_ms / results["ours"].cpu_ms
        shutil.rmtree(data_dir, ignore_errors=True)
    figures["large_vs_small_p99_ours"] = per_size["large"]["ours"].p99_ms / per_size["small"]["ours"].p99_ms
    figures["large_vs_small_time_per_request_ours"] = per_size["small"]["ours"].rps / per_size["large"]["ours"].rps
    figures["large_vs_small_cpu_per_request_ours"] = per_size["large"]["ours"].cpu_ms / per_size["small"]["ours"].cpu_ms
    for label, cpu in in_process.items():
        figures[f"{label}_in_process_cpu_ms"] = f"ours {cpu['ours']:.3f}, bare {cpu['bare']:.3f}"
        figures[f"{label}_ratio_ours_vs_bare_in_process"] = cpu["bare"] / cpu["ours"]
    figures["large_vs_small_in_process_ours"] = in_process["large"]["ours"] / in_process["small"]["ours"]
    report(f"Status API, {CLIENTS} concurrent clients, {SECONDS:.0f} s each", **figures)


if __name__ == "__main__":
    main()
