"""Refresh tick cost with 1, 100 and 1,000 pending MediaConvert jobs: SQL statements and API calls (counted), wall
time, and the CPU of the thread that runs the tick (the least of 7 ticks)."""

from __future__ import annotations

import math
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import sqlalchemy as sa
from moto.server import ThreadedMotoServer

from bench.common import report
from bench.setup_db import fresh_data_dir
from exports_app.config import MediaConvertSettings
from exports_app.db import get_engine, session_scope
from exports_app.domain import utcnow
from exports_app.jobs.refresh import tick
from exports_app.models import MediaJob, Production, Upload, User
from exports_app.transcode.mediaconvert import MediaConvertTranscoder
from tests.support.aws_fixtures import ROLE
from tests.support.mediaconvert_server import MediaConvertServer
from tests.support.ports import free_port

SIZES = (1, 100, 1000)


@contextmanager
def counting_statements() -> Iterator[list[str]]:
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    sa.event.listen(get_engine(), "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        sa.event.remove(get_engine(), "before_cursor_execute", listener)


def add_pending(n: int, mc_client: Any, user_id: int) -> None:
    """n exports, each with a production and a submitted MediaConvert job."""
    settings = {
        "inputs": [{"fileInput": "s3://in/x.mp4"}],
        "outputGroups": [
            {
                "outputGroupSettings": {
                    "type": "HLS_GROUP_SETTINGS",
                    "hlsGroupSettings": {"destination": "s3://out/hls/x/master"},
                },
                "outputs": [
                    {
                        "nameModifier": "_360p",
                        "containerSettings": {"container": "M3U8"},
                        "videoDescription": {
                            "codecSettings": {
                                "codec": "H_264",
                                "h264Settings": {"rateControlMode": "QVBR", "maxBitrate": 800_000},
                            }
                        },
                    }
                ],
            }
        ],
    }
    with session_scope() as s:
        for i in range(n):
            upload = Upload(
                user_id=user_id,
                video_role="export",
                title=f"e{i}",
                filename="e.mp4",
                storage_key="uploads/e.mp4",
                size_bytes=1,
                duration_seconds=1.0,
                height=360,
            )
            s.add(upload)
            s.flush()
            assert upload.id is not None
            production = Production(user_id=user_id, upload_id=upload.id)
            s.add(production)
            s.flush()
            assert production.id is not None
            upload.create_video_production_id = production.id
            job_id = mc_client.create_job(Role=ROLE, Settings=_wire_to_boto(settings))["Job"]["Id"]
            s.add(
                MediaJob(
                    production_id=production.id,
                    provider="mediaconvert",
                    provider_job_id=job_id,
                    status="submitted",
                    idempotency_token=f"t-{upload.id}",
                    submitted_at=utcnow(),
                )
            )


def tick_cpu(transcoder: MediaConvertTranscoder, ticks: int = 7) -> float:
    """The CPU seconds of one tick in the thread that runs it, the least of `ticks`: what the web worker spends on it.

    Wall time here includes the test server and moto answering in this same process; in the app they are AWS. The
    least, because other work on a shared machine only ever adds to a tick's time (cache misses, the same lock).
    """
    spent = []
    for _ in range(ticks):
        start = time.thread_time()
        tick(transcoder, 3600)
        spent.append(time.thread_time() - start)
    return min(spent)


def _wire_to_boto(value: object) -> object:
    """camelCase wire names → boto3's PascalCase parameter names."""
    if isinstance(value, dict):
        return {k[0].upper() + k[1:]: _wire_to_boto(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire_to_boto(v) for v in value]
    return value


def main() -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ[name] = "testing"
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port())
    moto.start()
    results: dict[int, tuple[int, int, float]] = {}
    cpu: dict[int, float] = {}
    try:
        with MediaConvertServer() as server:
            mc_client = boto3.client("mediaconvert", region_name="us-east-1", endpoint_url=server.url)
            for n in SIZES:
                data_dir = fresh_data_dir("bench-tick-")
                with session_scope() as s:
                    user = User(username="bench", password_hash="x")
                    s.add(user)
                    s.flush()
                    user_id = user.id
                assert user_id is not None
                server.jobs.clear()
                add_pending(n, mc_client, user_id)
                settings = MediaConvertSettings(region="us-east-1", endpoint_url=server.url, role_arn=ROLE)
                transcoder = MediaConvertTranscoder(settings)
                tick(transcoder, 3600)  # warm the clients and connection pool
                server.calls.clear()
                with counting_statements() as statements:
                    start = time.perf_counter()
                    result = tick(transcoder, 3600)
                    wall = time.perf_counter() - start
                assert result.pending == n
                results[n] = (len(statements), sum(server.calls.values()), wall)
                cpu[n] = tick_cpu(transcoder)
                shutil.rmtree(data_dir, ignore_errors=True)
    finally:
        moto.stop()
    figures: dict[str, object] = {}
    for n, (sql, calls, wall) in results.items():
        figures[f"pending_{n}"] = (
            f"{sql} SQL statements, {calls} MediaConvert calls (limit {math.ceil(n / 20) + 1}), {wall * 1000:.1f} ms"
        )
    figures["tick_cpu_ms_1_100_1000"] = " / ".join(f"{cpu[n] * 1000:.1f}" for n in SIZES)
    figures["sql_statements_constant"] = len({sql for sql, _, _ in results.values()}) == 1
    figures["wall_ratio_1000_vs_1"] = results[1000][2] / results[1][2]
    report("Refresh tick cost (steady state: nothing changed since the last tick)", **figures)


if __name__ == "__main__":
    main()
