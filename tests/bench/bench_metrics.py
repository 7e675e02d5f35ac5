"""BENCH=metrics: what the metrics actor costs the trading pipeline.

The pipeline measurement of BENCH=pipeline (real signal guard, orchestrator, risk gate
and paper broker on a live clock and uvloop; one signal in flight for latency, chunks
for throughput), on two identical pipelines in one process: one without the metrics
actor, one with it subscribed to ``events`` (default ``[metrics]`` settings) and its
full exposition rendered once a second while it runs — every collector, as a scrape
would (Prometheus usually scrapes every 15 s).

The machine is shared and its load moves by more than the effect measured, so the two
pipelines are measured in alternating blocks of ``BLOCK`` signals (the order swapped
every other pair), and each mode's percentiles come from all of its blocks pooled:
a busy second on the machine lands on both modes alike. Between blocks the idle
pipeline's metrics actor is given time to finish what it holds, so its work never lands
on the other pipeline's samples.

Each figure's ``baseline`` is the same figure with metrics off: ``ratio`` is on/off for
latencies (the issue's bound: p99 within 10%, ratio <= 1.10) and off/on for throughput.
"""

from __future__ import annotations

import contextlib
import gc
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio import WouldBlock
from anyio.abc import TaskGroup

from actors import broker, orchestrator, risk_gate, signal_guard
from actors import metrics as metrics_actor
from actors.metrics import EventRecorder, MetricsActor
from daemon import names
from daemon.bus import Bus, Channel, Subscription
from daemon.clock import LiveClock
from daemon.messages import OrderStatus, OrderUpdate, SignalVerdict, Tick
from daemon.safety import SafetyGate
from tests.bench._common import Result, latency_result, percentile, throughput_result
from tests.bench.bench_pipeline import CHUNK, LAT_WARMUP, _Feed, _settings
from tests.pipeline_support import MemorySafety, have_data, start_actors, with_settings

BENCH = "metrics"
BLOCK = 250
BLOCKS = 48
"""Latency blocks in all (half per mode): 6,000 samples per mode (each signal waits for
its 1 ms fill before the next goes in, as in BENCH=pipeline)."""
TPUT_ROUNDS = 4
TPUT_N = 10_000
SCRAPE_EVERY_S = 1.0
RECORD_REPEAT = 20
SETTLE_S = 0.06
"""Pause between blocks: longer than ``metrics.flush_interval_s`` (0.05 s)."""


@dataclass
class _Pipeline:
    """One running pipeline and what was measured on it."""

    feed: _Feed
    inbox: Channel[Any]
    accepted: Subscription[Any]
    metrics: MetricsActor | None
    bus: Bus
    lat: list[float] = field(default_factory=list)
    tput: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    """Process CPU seconds per signal of each throughput round (immune to other load)."""
    scrapes: list[float] = field(default_factory=list)
    scrape_cpu: list[float] = field(default_factory=list)
    record_cpu: float = 0.0
    """CPU seconds the recorder spends on one signal's events."""
    events_per_signal: float = 0.0

    counts: dict[OrderStatus, int] = field(
        default_factory=lambda: {OrderStatus.ACCEPTED: 0, OrderStatus.FILLED: 0}
    )

    async def wait_for(self, status: OrderStatus, total: int) -> None:
        """Wait until ``total`` orders have reached ``status`` since the start."""
        counts = self.counts
        while counts[status] < total:
            for u in await self.accepted.receive_batch():
                if isinstance(u, SignalVerdict):
                    if not u.accepted:
                        raise RuntimeError(f"signal turned down: {u.reason} {u.detail}")
                elif u.status in counts:
                    counts[u.status] += 1

    async def latency(self, n: int, keep: bool = True) -> None:
        """As BENCH=pipeline: one signal in flight; the next once the order has filled."""
        for _ in range(n):
            sig = self.feed.make()
            k = self.counts[OrderStatus.ACCEPTED]
            t0 = time.perf_counter_ns()
            self.inbox.send_nowait(sig)
            await self.wait_for(OrderStatus.ACCEPTED, k + 1)
            if keep:
                self.lat.append((time.perf_counter_ns() - t0) / 1000.0)
            await self.wait_for(OrderStatus.FILLED, k + 1)

    async def throughput(self, n: int) -> None:
        sigs = [self.feed.make() for _ in range(n)]
        done = anyio.Event()

        base = self.counts[OrderStatus.ACCEPTED]

        async def consume() -> None:
            await self.wait_for(OrderStatus.ACCEPTED, base + n)
            done.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            c0 = time.process_time()
            t0 = time.perf_counter()
            for i in range(0, n, CHUNK):
                for sig in sigs[i : i + CHUNK]:
                    try:
                        self.inbox.send_nowait(sig)
                    except WouldBlock:
                        await self.inbox.send(sig)
                await anyio.lowlevel.checkpoint()
            await done.wait()
            self.tput.append(n / (time.perf_counter() - t0))
            self.cpu.append((time.process_time() - c0) / n)


async def _start(tg: TaskGroup, with_metrics: bool, fill_latency_ms: float) -> _Pipeline:
    settings = with_settings(_settings(fill_latency_ms), metrics={"enabled": True, "listen": ""})
    clock = LiveClock()
    bus = Bus(default_capacity=settings.daemon.channel_capacity)
    resources: dict[type[Any], Any] = {SafetyGate: MemorySafety()}
    accepted = bus.topic(names.EVENTS).subscribe("bench", types=(OrderUpdate, SignalVerdict))
    defs = [risk_gate.DEFINITION, orchestrator.DEFINITION, broker.DEFINITION]
    defs += [signal_guard.DEFINITION]
    if with_metrics:
        defs.append(metrics_actor.DEFINITION)
    actors = await start_actors(tg, defs, settings, clock, bus, resources)
    feed = _Feed(clock)
    market = bus.topic(names.MARKET)
    for s in feed.syms:
        await market.publish(Tick(symbol=s, price=feed.px[s], size=1e12, ts=clock.now_ns()))
    m = actors.get("metrics")
    assert m is None or isinstance(m, MetricsActor)
    return _Pipeline(feed, bus.channel(names.SIGNALS_IN), accepted, m, bus)


async def _measure() -> tuple[_Pipeline, _Pipeline, _Pipeline, _Pipeline]:
    """Latency pair (1 ms fills, as BENCH=pipeline) and throughput pair (zero latency)."""
    async with anyio.create_task_group() as tg:
        lat_off = await _start(tg, False, 1.0)
        lat_on = await _start(tg, True, 1.0)
        tput_off = await _start(tg, False, 0.0)
        tput_on = await _start(tg, True, 0.0)
        scraping: _Pipeline | None = None

        async def scraper() -> None:
            while True:
                await anyio.sleep(SCRAPE_EVERY_S)
                p = scraping
                if p is not None and p.metrics is not None:
                    c0 = time.process_time()
                    t0 = time.perf_counter()
                    await p.metrics.render()
                    p.scrapes.append(time.perf_counter() - t0)
                    p.scrape_cpu.append(time.process_time() - c0)

        tg.start_soon(scraper)
        for p in (lat_off, lat_on, tput_off, tput_on):
            await p.latency(LAT_WARMUP // 4, keep=False)
        for k in range(BLOCKS // 2):
            for p in (lat_off, lat_on) if k % 2 == 0 else (lat_on, lat_off):
                gc.collect()
                await anyio.sleep(SETTLE_S)
                scraping = p
                await p.latency(BLOCK)
                scraping = None
        for k in range(TPUT_ROUNDS):
            for p in (tput_off, tput_on) if k % 2 == 0 else (tput_on, tput_off):
                gc.collect()
                await anyio.sleep(SETTLE_S)
                scraping = p
                await p.throughput(TPUT_N)
                scraping = None
        await _record_cost(lat_on)
        tg.cancel_scope.cancel()
    return lat_off, lat_on, tput_off, tput_on


async def _record_cost(p: _Pipeline) -> None:
    """The recorder's own cost, free of the machine's load: the events of one block,
    captured, then recorded again by a fresh recorder."""
    actor = p.metrics
    assert actor is not None
    capture = p.bus.topic(names.EVENTS).subscribe(
        "capture", types=actor.recorder.types, capacity=1 << 20
    )
    await anyio.sleep(SETTLE_S)
    await p.latency(BLOCK, keep=False)
    events: list[Any] = []
    with contextlib.suppress(WouldBlock):
        while True:
            events.append(capture.channel.receive_nowait())
    fresh = EventRecorder(actor.cfg, actor.recorder.known_sources)
    c0 = time.process_time()
    for _ in range(RECORD_REPEAT):
        fresh.record_all(events)
    p.record_cpu = (time.process_time() - c0) / (RECORD_REPEAT * BLOCK)
    p.events_per_signal = len(events) / BLOCK


async def _main() -> list[Result]:
    lat_off, lat_on, off, on = await _measure()
    assert lat_on.metrics is not None
    assert on.metrics is not None
    scrapes = lat_on.scrapes + on.scrapes
    scrape_cpu = lat_on.scrape_cpu + on.scrape_cpu
    base_what = "the same pipeline measurement without the metrics actor (interleaved blocks)"
    out = [
        latency_result(
            BENCH,
            f"signal_to_order_{name}_metrics_on",
            round(percentile(lat_on.lat, q), 2),
            "us",
            base_what,
            round(percentile(lat_off.lat, q), 2),
            samples_per_mode=len(lat_on.lat),
            block=BLOCK,
        )
        for name, q in (("p50", 0.5), ("p99", 0.99), ("p999", 0.999))
    ]
    rec = on.metrics.recorder
    sub = on.metrics.sub
    out.append(
        throughput_result(
            BENCH,
            "throughput_metrics_on",
            round(statistics.median(on.tput), 1),
            "signals/s",
            base_what,
            round(statistics.median(off.tput), 1),
            rounds=TPUT_ROUNDS,
            signals=TPUT_N,
            events_recorded=sum(rec.events.values()),
            events_shed=sub.shed if sub is not None else 0,
        )
    )
    out.append(
        latency_result(
            BENCH,
            "cpu_per_signal_metrics_on",
            round(statistics.median(on.cpu) * 1e6, 2),
            "us",
            "process CPU per signal without the metrics actor (throughput rounds)",
            round(statistics.median(off.cpu) * 1e6, 2),
            rounds=TPUT_ROUNDS,
            scrapes=len(scrapes),
            scrape_ms_median=_ms(statistics.median(scrapes)) if scrapes else 0.0,
            scrape_cpu_ms_median=_ms(statistics.median(scrape_cpu)) if scrapes else 0.0,
            scrape_ms_max=_ms(max(scrapes, default=0.0)),
        )
    )
    out.append(
        latency_result(
            BENCH,
            "record_cpu_per_signal",
            round(lat_on.record_cpu * 1e6, 3),
            "us",
            "process CPU per signal of the pipeline without metrics (throughput rounds)",
            round(statistics.median(off.cpu) * 1e6, 2),
            events_per_signal=round(lat_on.events_per_signal, 2),
            ns_per_event=round(lat_on.record_cpu / max(lat_on.events_per_signal, 1e-9) * 1e9, 1),
        )
    )
    return out


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def run() -> list[Result]:
    """Run the metrics-overhead benchmark (needs the shared market data, like BENCH=pipeline)."""
    if not have_data():
        raise SystemExit("bench metrics: /work/shared/data is absent; cannot preload history")
    return anyio.run(_main, backend="asyncio", backend_options={"use_uvloop": True})
