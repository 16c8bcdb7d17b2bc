"""Status API throughput: GET hls-status under 32 concurrent clients, ours vs a bare Starlette route,
on a small database and on one with 100,000 uploads and 20,000 productions; and on the small one, the
route served by the whole app as `make run` starts it (guard, Reflex's mount) vs the FastAPI app alone."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa

from bench.common import ROOT, report
from bench.setup_db import fresh_data_dir
from exports_app.db import get_engine, session_scope
from exports_app.services import auth
from tests.support.figures import percentile
from tests.support.ports import free_port

CLIENTS = 32
SECONDS = float(os.environ.get("BENCH_SECONDS", "8"))


def populate(uploads: int, productions: int) -> tuple[list[int], str]:
    """Bulk rows for member 1 (+ filler members); returns member 1's export ids and a session cookie."""
    with session_scope() as s:
        member = auth.create_user(session=s, username="bench", password="bench password")
        token = auth.start_session(session=s, member=member, days=1).token
    engine = get_engine()
    now = "2026-01-01 00:00:00"
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO users (username, password_hash, created_at) VALUES "
                + ",".join(f"('filler{i}', 'x', '{now}')" for i in range(2, 101))
            )
        )
        rows = [{"user_id": 1 if i % 50 == 0 else 2 + i % 99, "created_at": now} for i in range(uploads)]
        conn.execute(
            sa.text(
                "INSERT INTO uploads (user_id, video_role, title, filename, storage_key, size_bytes, created_at,"
                " updated_at) VALUES (:user_id, 'export', 't', 'f.mp4', 'k', 1, :created_at, :created_at)"
            ),
            rows,
        )
        ids = [r[0] for r in conn.execute(sa.text("SELECT id, user_id FROM uploads ORDER BY id"))]
        step = max(1, uploads // productions)
        prod_rows = [{"upload_id": uid, "user_id": 1, "now": now} for uid in ids[::step][:productions]]
        conn.execute(
            sa.text(
                "INSERT INTO productions (user_id, upload_id, hls_master_uri, created_at, updated_at)"
                " VALUES (:user_id, :upload_id, 'hls/x/master.m3u8', :now, :now)"
            ),
            prod_rows,
        )
        conn.execute(
            sa.text(
                "UPDATE uploads SET create_video_production_id = (SELECT max(p.id) FROM productions p"
                " WHERE p.upload_id = uploads.id)"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO media_jobs (production_id, provider, status, percent, attempt, idempotency_token,"
                " created_at, updated_at) SELECT id, 'local', 'succeeded', 100, 1, 'tok' || id, created_at, created_at"
                " FROM productions"
            )
        )
        mine = [r[0] for r in conn.execute(sa.text("SELECT id FROM uploads WHERE user_id = 1"))]
    return mine, token


def serve(target: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Serve an ASGI app factory as `make run` serves the app: gunicorn, one uvicorn worker."""
    # The server `make run` uses (scripts/serve.sh): gunicorn with one uvicorn worker.
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--worker-class",
            "uvicorn.workers.UvicornH11Worker",
            "--workers",
            "1",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            f"{target}()",
        ],
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


def measure(ids: list[int], token: str) -> dict[str, Load]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    results = {}
    for name in ("bare", "ours"):  # the same server, worker count and database for both
        port = free_port()
        proc = serve(f"bench.status_apps:{name}", port, env)
        try:
            asyncio.run(load(f"http://127.0.0.1:{port}", ids[:200], token))  # warm up briefly
            results[name] = asyncio.run(load(f"http://127.0.0.1:{port}", ids, token))
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
    return results


def main() -> None:
    figures: dict[str, object] = {}
    per_size = {}
    for label, uploads, productions in (("small", 200, 40), ("large", 100_000, 20_000)):
        data_dir = fresh_data_dir("bench-status-")
        ids, token = populate(uploads, productions)
        results = measure(ids, token)
        if label == "small":
            results["whole_app"] = measure_whole_app(data_dir, ids, token)
            figures["small_ratio_whole_app_vs_fastapi_rps"] = results["whole_app"].rps / results["ours"].rps
        per_size[label] = results
        for name, result in results.items():
            figures[f"{label}_{name}"] = f"{result.rps:.0f} req/s, p99 {result.p99_ms:.1f} ms, {result.errors} errors"
        figures[f"{label}_ratio_ours_vs_bare_rps"] = results["ours"].rps / results["bare"].rps
        shutil.rmtree(data_dir, ignore_errors=True)
    figures["large_vs_small_p99_ours"] = per_size["large"]["ours"].p99_ms / per_size["small"]["ours"].p99_ms
    figures["large_vs_small_time_per_request_ours"] = per_size["small"]["ours"].rps / per_size["large"]["ours"].rps
    report(f"Status API, {CLIENTS} concurrent clients, {SECONDS:.0f} s each", **figures)


if __name__ == "__main__":
    main()
