"""The shared result format and small statistics helpers for benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import anyio
import msgspec
from anyio import WouldBlock


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


# -- the raw channel hop: the baseline of the bus and pipeline benchmarks ---------------------


async def raw_hop_latency(n: int) -> list[float]:
    """µs per hop of a bare anyio memory stream, one message in flight (``send_nowait``
    in one task, ``receive`` in another), ``n`` samples."""
    send, recv = anyio.create_memory_object_stream[int](1)
    samples: list[float] = []
    async with send, recv, anyio.create_task_group() as tg:
        got = anyio.Event()

        async def consume() -> None:
            nonlocal got
            async for t in recv:
                samples.append((time.perf_counter_ns() - t) / 1000.0)
                got.set()

        tg.start_soon(consume)
        for _ in range(n):
            got = anyio.Event()
            send.send_nowait(time.perf_counter_ns())
            await got.wait()
        tg.cancel_scope.cancel()
    return samples


async def raw_hop_throughput(n: int, capacity: int) -> float:
    """Messages/s through a bare anyio memory stream of ``capacity``: ``send_nowait`` in
    one task, a receiver draining with ``receive_nowait`` after each ``receive``."""
    send, recv = anyio.create_memory_object_stream[int](capacity)
    async with send, recv, anyio.create_task_group() as tg:

        async def consume() -> None:
            got = 0
            while got < n:
                await recv.receive()
                got += 1
                try:
                    while True:
                        recv.receive_nowait()
                        got += 1
                except WouldBlock:
                    pass

        tg.start_soon(consume)
        t0 = time.perf_counter()
        for i in range(n):
            try:
                send.send_nowait(i)
            except WouldBlock:
                await send.send(i)
    return n / (time.perf_counter() - t0)
