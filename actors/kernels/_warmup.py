"""Compile every kernel, or load it from numba's on-disk cache, before the daemon is ready.

Kernels compile lazily on their first call, which takes seconds; the daemon must not
pay that on the first price update of the day. :func:`warm_up` calls each kernel once
with tiny inputs of exactly the types production uses (C-contiguous float64/int64
arrays, Python ints and floats), so later calls find the machine code ready. It runs
in a worker thread when called from the event loop (compilation holds the GIL only
in parts, and never the loop).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from actors.kernels._exits import evaluate_exits, new_book
from actors.kernels._indicators import (
    ADX_FIELDS,
    ATR_FIELDS,
    EMA_FIELDS,
    adx_update,
    atr_update,
    ema_update,
    new_state,
)
from actors.kernels._jit import COMPILED
from actors.kernels._perf import performance_stats, simple_returns
from actors.kernels._risk import historical_var, max_abs_correlation, rolling_correlation
from actors.kernels._stream import mark_and_check


@dataclass(frozen=True, slots=True)
class KernelWarmUp:
    """One kernel's warm-up: how long it took and where the code came from."""

    name: str
    seconds: float
    source: str
    """``"cache"`` (loaded from disk), ``"compiled"`` or ``"memory"`` (already loaded)."""


@dataclass(frozen=True, slots=True)
class WarmUpReport:
    """What :func:`warm_up` did, for the start-up log and the documentation."""

    kernels: tuple[KernelWarmUp, ...]
    seconds: float
    cache_dir: str

    @property
    def cold(self) -> bool:
        """True when at least one kernel had to be compiled (no usable cache)."""
        return any(k.source == "compiled" for k in self.kernels)

    def as_log(self) -> dict[str, Any]:
        """Flat fields for a structured log line."""
        return {
            "warm_up_s": round(self.seconds, 4),
            "cold": self.cold,
            "cache_dir": self.cache_dir,
            "kernels": {k.name: f"{k.source} {k.seconds * 1e3:.1f}ms" for k in self.kernels},
        }


def _calls() -> dict[str, Callable[[], object]]:
    f1 = np.ones(4, dtype=np.float64)
    f2 = np.ones((4, 2), dtype=np.float64)
    i1 = np.zeros(4, dtype=np.int64)
    fb, ib = new_book(2)
    reason = np.zeros(2, dtype=np.int64)
    trigger = np.zeros(2, dtype=np.float64)
    return {
        "evaluate_exits": lambda: evaluate_exits(fb, ib, 0, 0, reason, trigger),
        "ema_update": lambda: ema_update(new_state(EMA_FIELDS, 1), i1, f1, 0, 3),
        "atr_update": lambda: atr_update(new_state(ATR_FIELDS, 1), i1, f1, f1, f1, 0, 3),
        "adx_update": lambda: adx_update(new_state(ADX_FIELDS, 1), i1, f1, f1, f1, 0, 3),
        "historical_var": lambda: historical_var(f2, np.ones(2), 0.95),
        "rolling_correlation": lambda: rolling_correlation(f1, f1, 2, np.empty(4)),
        "max_abs_correlation": lambda: max_abs_correlation(f1, f2, 2),
        "simple_returns": lambda: simple_returns(f1, np.empty(3)),
        "performance_stats": lambda: performance_stats(f1, f1, 252.0, 0.0),
        # Last: it calls evaluate_exits, which must be warmed (and reported) first.
        "mark_and_check": lambda: mark_and_check(
            fb,
            ib,
            0,
            i1,
            i1,
            np.zeros(4, dtype=np.bool_),
            i1,
            f1,
            f1,
            f1,
            i1,
            i1,
            0,
            0,
            new_state(EMA_FIELDS, 1),
            new_state(ATR_FIELDS, 1),
            3,
            3,
            i1,
            reason,
            trigger,
        ),
    }


def _source(dispatcher: Any, had: int) -> str:
    if had:
        return "memory"
    stats = dispatcher.stats
    return "cache" if sum(stats.cache_hits.values()) else "compiled"


def warm_up() -> WarmUpReport:
    """Compile or load every kernel; returns per-kernel timings and their source."""
    calls = _calls()
    missing = set(COMPILED) - set(calls)
    if missing:  # a new kernel without a warm-up call would compile on the hot path
        raise RuntimeError(f"kernels without a warm-up call: {', '.join(sorted(missing))}")
    results: list[KernelWarmUp] = []
    start = time.perf_counter()
    cache_dir = ""
    for name, call in calls.items():
        dispatcher = COMPILED[name]
        had = len(dispatcher.signatures)
        t0 = time.perf_counter()
        call()
        results.append(KernelWarmUp(name, time.perf_counter() - t0, _source(dispatcher, had)))
        cache_dir = cache_dir or str(dispatcher.stats.cache_path)
    return WarmUpReport(tuple(results), time.perf_counter() - start, cache_dir)
