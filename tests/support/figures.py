"""Figures over what a run measured: the percentile that the capacity harness and the benchmarks report."""

from __future__ import annotations


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]
