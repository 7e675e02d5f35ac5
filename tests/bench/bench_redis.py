"""BENCH=redis: end-to-end latency through the real Redis, against a PING in the same run.

The real actors run on a live clock and uvloop, as in the daemon: Redis signal ingest
(stream + consumer group), signal guard, orchestrator, risk gate (history preloaded from
the real daily bars in /work/shared/data), broker actor with the paper broker (zero
venue latency, so the figures are our own cost plus Redis), and the Redis event
publisher publishing *every* event, as configured by default.

* ``e2e_p50`` / ``e2e_p99``: one signal in flight at a time; from the producer's XADD of
  the signal on the stream to the moment a separate Redis subscriber holds the ``Fill``
  event for it on ``<prefix>:<account>:events:fill``. That path is four trips through
  Redis (XADD, the blocked XREADGROUP waking, PUBLISH, the subscriber's read) plus the
  whole pipeline: guard, nine stages, risk checks, order accepted and filled by the paper
  broker, books.

Baseline, measured in the same run on the same server: the Redis PING round trip with
the same client library (redis-py asyncio), p50 for p50 and p99 for p99. The target is
an e2e p99 within 4x the PING p99.

Also measured in the same run and reported in ``extra``: ``in_process_p50_us`` /
``_p99_us``, the same signal-to-fill path with no Redis at all (the signal put on the
guard's channel, the Fill taken off the events topic), so that e2e minus in-process is
what Redis and the two Redis actors add.
"""

from __future__ import annotations

import gc
import os
import time
from typing import Any

import anyio
from redis.asyncio import Redis

from actors import broker, orchestrator, redis_publisher, redis_signals, risk_gate, signal_guard
from config import Settings
from daemon import names
from daemon.bus import Bus
from daemon.clock import LiveClock
from daemon.gctune import tune_after_startup
from daemon.messages import Fill, Side, Signal, Tick, TradeType
from daemon.messages.codec import encode_json
from daemon.redislink import RedisKeys, Subscriber, decode_envelope
from daemon.safety import SafetyGate
from tests.bench._common import Result, latency_result, percentile
from tests.pipeline_support import (
    MemorySafety,
    data_path,
    have_data,
    read_bars,
    start_actors,
    with_settings,
)

BENCH = "redis"
N = 3_000
WARMUP = 300
PINGS = 5_000
LOCAL_N = 2_000
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
SYMBOLS = ("AAPL", "GOOG", "SPY")
"""Symbols whose real histories overlap, so the correlation and VaR checks can pass."""


def _settings(prefix: str) -> Settings:
    syms = list(SYMBOLS)
    return with_settings(
        Settings(),
        daemon={"account": "bench", "channel_capacity": 65_536},
        redis={
            "url": REDIS_URL,
            "prefix": prefix,
            "signals": {"consumer": "bench", "pubsub_enabled": False},
        },
        guard={"sources": ["bench"], "cooldown_s": 0.0, "dedup_capacity": 200_000},
        sizing={"method": "fixed_shares", "fixed_shares": 1.0},
        risk={
            "history_files": {s: str(data_path(s)) for s in syms},
            "max_orders_per_window": 10_000_000,
            "max_open_positions": 50,
        },
        orchestrator={"initial_regime": "bull", "fills": {"max_finished_orders": 10_000}},
        broker={
            "initial_cash": 1_000_000.0,
            "paper": {"ack_latency_ms": 0.0, "fill_latency_ms": 0.0},
        },
    )


def _signal(i: int, px: dict[str, float], clock: LiveClock) -> Signal:
    syms = list(px)
    sym = syms[i % len(syms)]
    price = px[sym] * (1.0 + (i % 997) * 1e-6)  # distinct content per signal
    buy = (i // len(syms)) % 2 == 0  # alternate, so positions open and close
    sig = Signal(
        signal_id=f"b{i}",
        source="bench",
        symbol=sym,
        side=Side.BUY if buy else Side.SELL,
        trade_type=TradeType.SWING,
        conviction=60,
        entry_price=price,
        stop_price=price * (0.95 if buy else 1.05),
        target_price=price * (1.10 if buy else 0.90),
        created_ns=clock.now_ns(),
    )
    return sig


async def _ping(client: Redis) -> list[float]:
    samples: list[float] = []
    for _ in range(PINGS):
        t0 = time.perf_counter_ns()
        await client.ping()
        samples.append((time.perf_counter_ns() - t0) / 1000.0)
    return samples


async def _run() -> tuple[list[float], list[float], dict[str, Any]]:
    prefix = f"bench{os.getpid()}"
    settings = _settings(prefix)
    keys = RedisKeys.from_settings(settings)
    clock = LiveClock()
    bus = Bus(default_capacity=settings.daemon.channel_capacity)
    resources: dict[type[Any], Any] = {SafetyGate: MemorySafety()}
    px = {s: read_bars(s, 1)[0][4] for s in SYMBOLS}
    producer = Redis.from_url(REDIS_URL)
    watcher = Redis.from_url(REDIS_URL)
    sub = Subscriber(watcher.pubsub(), idle_s=30.0)
    try:
        await sub.subscribe([keys.event_channel("fill")])
        defs = [
            risk_gate.DEFINITION,
            orchestrator.DEFINITION,
            broker.DEFINITION,
            signal_guard.DEFINITION,
            redis_signals.DEFINITION,
            redis_publisher.DEFINITION,
        ]
        async with anyio.create_task_group() as tg:
            actors = await start_actors(tg, defs, settings, clock, bus, resources)
            market = bus.topic(names.MARKET)
            for s, p in px.items():
                await market.publish(Tick(symbol=s, price=p, size=1e12, ts=clock.now_ns()))
            # As the daemon does once it is ready (daemon/runtime.py): freeze the start-up
            # heap and raise the gen-0 collection threshold.
            tune_after_startup()
            ping = await _ping(producer)
            ingest = actors["redis_signals"]
            pub = actors["redis_publisher"]
            assert isinstance(ingest, redis_signals.RedisSignalIngest)
            assert isinstance(pub, redis_publisher.RedisPublisher)

            e2e: list[float] = []
            for i in range(WARMUP + N):
                payload = encode_json(_signal(i, px, clock))
                t0 = time.perf_counter_ns()
                await producer.xadd(keys.signal_stream, {"data": payload})
                _, data = await sub.receive()
                elapsed = (time.perf_counter_ns() - t0) / 1000.0
                env = decode_envelope(data)
                assert env.kind == "fill", env
                if i >= WARMUP:
                    e2e.append(elapsed)

            # The same path without Redis, in the same run: the signal put straight on
            # the guard's channel, the Fill taken straight off the events topic.
            fills = bus.topic(names.EVENTS).subscribe("bench", types=(Fill,))
            inbox = bus.channel(names.SIGNALS_IN)
            local: list[float] = []
            for i in range(WARMUP + N, WARMUP + N + LOCAL_N):
                sig = _signal(i, px, clock)
                t0 = time.perf_counter_ns()
                inbox.send_nowait(sig)
                await fills.receive()
                if i >= WARMUP + N + LOCAL_N // 10:
                    local.append((time.perf_counter_ns() - t0) / 1000.0)
            extra = {
                "in_process_p50_us": round(percentile(local, 0.5), 1),
                "in_process_p99_us": round(percentile(local, 0.99), 1),
                "acked": ingest.stats.acked,
                "published_events": pub.stats.published,
                "events_shed": pub.shed,
                "redis_version": (await producer.info("server"))["redis_version"],
            }
            tg.cancel_scope.cancel()
    finally:
        await sub.aclose()
        keys_left = [k async for k in producer.scan_iter(match=f"{prefix}:*")]
        if keys_left:
            await producer.delete(*keys_left)
        await producer.aclose()
        await watcher.aclose()
    return e2e, ping, extra


async def _main() -> list[Result]:
    e2e, ping, extra = await _run()
    base = "Redis PING round trip, redis-py asyncio, same run and server"
    return [
        latency_result(
            BENCH,
            f"e2e_{name}",
            round(percentile(e2e, q), 1),
            "us",
            base,
            round(percentile(ping, q), 1),
            samples=len(e2e),
            ping_samples=len(ping),
            **extra,
        )
        for name, q in (("p50", 0.5), ("p99", 0.99))
    ]


def run() -> list[Result]:
    """Run the Redis end-to-end benchmark (needs REDIS_URL and the shared market data)."""
    if not have_data():
        raise SystemExit("bench redis: /work/shared/data is absent; cannot preload history")
    gc.collect()
    return anyio.run(_main, backend="asyncio", backend_options={"use_uvloop": True})
