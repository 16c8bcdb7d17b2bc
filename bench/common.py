"""Shared bits of the benchmarks: timing, medians and one printed line per figure (percentiles are the testkit's:
tests/support/figures.py)."""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_of(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    return statistics.median(timed(fn) for _ in range(repeats))


def report(title: str, **figures: object) -> None:
    print(f"\n== {title}")
    for name, value in figures.items():
        text = f"{value:.3f}" if isinstance(value, float) else str(value)
        print(f"  {name}: {text}")


def gunicorn_command(target: str, port: int) -> list[str]:
    """The server `make run` serves with (scripts/serve.sh), for an ASGI app `target`: gunicorn, one uvicorn worker."""
    return [
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
        target,
    ]
