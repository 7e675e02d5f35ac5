"""The shared result format and small statistics helpers for benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import msgspec


class Baseline(msgspec.Struct, frozen=True):
    """The raw limit measured in the same run (a bare channel hop, a PING, an fsync...)."""

    what: str
    value: float


class Result(msgspec.Struct, frozen=True):
    """One benchmark figure; ``ratio`` is our cost per event over the baseline's (1.0 = limit).

    For throughput metrics the cost per event is ``1/value``, so
    ``ratio = baseline.value / value``; for latency metrics ``ratio = value / baseline.value``.
    """

    bench: str
    metric: str
    value: float
    unit: str
    baseline: Baseline
    ratio: float
    extra: dict[str, Any] = {}


def latency_result(
    bench: str, metric: str, value: float, unit: str, base_what: str, base: float, **extra: Any
) -> Result:
    """A latency-like figure (lower is better): ratio = ours / baseline."""
    return Result(bench, metric, value, unit, Baseline(base_what, base), _ratio(value, base), extra)


def throughput_result(
    bench: str, metric: str, value: float, unit: str, base_what: str, base: float, **extra: Any
) -> Result:
    """A throughput figure (higher is better): ratio = baseline / ours (cost per event)."""
    return Result(bench, metric, value, unit, Baseline(base_what, base), _ratio(base, value), extra)


def _ratio(num: float, den: float) -> float:
    return round(num / den, 4) if den else float("inf")


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank on a sorted copy."""
    if not samples:
        return float("nan")
    s = sorted(samples)
    idx = min(len(s) - 1, max(0, round(q * (len(s) - 1))))
    return s[idx]


def best_of(repeats: int, fn: Callable[[], float]) -> float:
    """Run ``fn`` (returning a duration) ``repeats`` times and keep the fastest."""
    return min(fn() for _ in range(repeats))


def now() -> float:
    """Monotonic high-resolution seconds (benchmarks measure real time)."""
    return time.perf_counter()
