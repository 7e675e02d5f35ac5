"""Signal ingest from the real Redis: stream + consumer group, pub/sub, dead letters."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anyio
import msgspec
import pytest
from redis.asyncio import Redis

from actors.redis_signals import RedisSignalIngest
from actors.signal_guard import SignalGuard
from daemon import names
from daemon.bus import Bus
from daemon.clock import SimClock
from daemon.messages import Signal, SignalVerdict
from daemon.messages.codec import encode_json
from daemon.redislink import RedisKeys
from tests.integration.redis._support import make_settings, start

pytestmark = pytest.mark.redis


def signal(clock: SimClock, n: int, **kw: Any) -> Signal:
    fields: dict[str, Any] = {
        "signal_id": f"sig-{n}",
        "source": "test",
        "symbol": f"SYM{n}",
        "side": "buy",
        "created_ns": clock.now_ns(),
        **kw,
    }
    return msgspec.convert(fields, Signal)


async def pending(client: Redis, keys: RedisKeys) -> int:
    info = await client.xpending(keys.signal_stream, keys.group)
    return int(info["pending"])


async def test_a_guard_rejection_is_acked_and_an_acceptance_waits_for_the_orchestrator(
    redis_url: str, prefix: str, redis_client: Redis
) -> None:
    clock = SimClock()
    bus = Bus(default_capacity=1024)
    settings = make_settings(redis_url, prefix, redis={"signals": {"consumer": "c1"}})
    keys = RedisKeys.from_settings(settings)
    verdicts = bus.topic(names.EVENTS).subscribe("test", types=(SignalVerdict,))
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            ingest, _ = await start(tg, RedisSignalIngest, "redis_signals", settings, clock, bus)
            good = await redis_client.xadd(
                keys.signal_stream, {"data": encode_json(signal(clock, 1))}
            )
            await redis_client.xadd(
                keys.signal_stream, {"data": encode_json(signal(clock, 2, source="unknown"))}
            )
            await ingest.progress.wait_for(lambda: ingest.stats.forwarded == 2)

            # Forwarded to the guard's channel, but no verdict yet: still pending in Redis.
            assert bus.channel(names.SIGNALS_IN).depth() == 2
            assert await pending(redis_client, keys) == 2
            assert ingest.stats.acked == 0

            await start(tg, SignalGuard, "signal_guard", settings, clock, bus)
            first, second = await verdicts.receive(), await verdicts.receive()
            assert first.accepted, first
            assert first.signal.signal_id == "sig-1"
            assert first.signal.received_ns == clock.now_ns()
            assert (second.accepted, second.reason) == (False, "unknown_source")
            # The rejection is the recorded outcome: acked. The acceptance is not: with no
            # orchestrator to decide it, its entry stays pending (acks go out in order, so
            # had it been acked on the guard's verdict it would be gone by now).
            await ingest.progress.wait_for(lambda: ingest.stats.acked >= 1)
            assert ingest.stats.acked == 1
            assert ingest.stats.accepted == 1
            info = await redis_client.xpending_range(
                keys.signal_stream, keys.group, min="-", max="+", count=10
            )
            assert [e["message_id"] for e in info] == [good]
            assert bus.channel(names.ORCHESTRATOR_IN).depth() == 1
            tg.cancel_scope.cancel()


async def test_crash_before_ack_redelivers_and_the_guard_keeps_it_from_trading_twice(
    redis_url: str, prefix: str, redis_client: Redis
) -> None:
    clock = SimClock()
    bus = Bus(default_capacity=1024)
    settings = make_settings(redis_url, prefix, redis={"signals": {"consumer": "c1"}})
    keys = RedisKeys.from_settings(settings)
    verdicts = bus.topic(names.EVENTS).subscribe("test", types=(SignalVerdict,))
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            first, host = await start(tg, RedisSignalIngest, "redis_signals", settings, clock, bus)
            await redis_client.xadd(keys.signal_stream, {"data": encode_json(signal(clock, 7))})
            await first.progress.wait_for(lambda: first.stats.forwarded == 1)
            await host.kill()  # crashes with the signal handed over but not acknowledged
            assert await pending(redis_client, keys) == 1

            await start(tg, SignalGuard, "signal_guard", settings, clock, bus)
            assert (await verdicts.receive()).accepted

            second, _ = await start(tg, RedisSignalIngest, "redis_signals", settings, clock, bus)
            await second.progress.wait_for(lambda: second.stats.acked == 1)
            again = await verdicts.receive()
            assert second.stats.reclaimed == 1
            assert not again.accepted
            assert again.reason == "duplicate_id"
            assert again.signal.signal_id == "sig-7"
            assert await pending(redis_client, keys) == 0
            # Traded once: exactly one accepted signal went on to the orchestrator.
            assert bus.channel(names.ORCHESTRATOR_IN).depth() == 1
            tg.cancel_scope.cancel()


async def test_entries_left_pending_by_a_dead_consumer_are_claimed(
    redis_url: str, prefix: str, redis_client: Redis
) -> None:
    clock = SimClock()
    bus = Bus(default_capacity=1024)
    settings = make_settings(redis_url, prefix, redis={"signals": {"consumer": "alive"}})
    keys = RedisKeys.from_settings(settings)
    await redis_client.xgroup_create(keys.signal_stream, keys.group, id="$", mkstream=True)
    # A signal the guard turns down, so its verdict alone settles it (no orchestrator here).
    payload = encode_json(signal(clock, 3, source="retired"))
    eid = await redis_client.xadd(keys.signal_stream, {"data": payload})
    await redis_client.xreadgroup(keys.group, "dead", {keys.signal_stream: ">"}, count=10)
    # Age the dead consumer's entry past claim_idle_s (60 s) instead of waiting for it.
    await redis_client.xclaim(
        keys.signal_stream, keys.group, "dead", 0, [eid], idle=120_000, justid=True
    )
    verdicts = bus.topic(names.EVENTS).subscribe("test", types=(SignalVerdict,))
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await start(tg, SignalGuard, "signal_guard", settings, clock, bus)
            ingest, _ = await start(tg, RedisSignalIngest, "redis_signals", settings, clock, bus)
            await ingest.progress.wait_for(lambda: ingest.stats.acked == 1)
            assert ingest.stats.reclaimed == 1
            verdict = await verdicts.receive()
            assert (verdict.signal.signal_id, verdict.reason) == ("sig-3", "unknown_source")
            assert await pending(redis_client, keys) == 0
            tg.cancel_scope.cancel()


async def test_pubsub_signals_are_forwarded(
    redis_url: str, prefix: str, redis_client: Redis
) -> None:
    clock = SimClock()
    bus = Bus(default_capacity=1024)
    settings = make_settings(redis_url, prefix, redis={"signals": {"stream_enabled": False}})
    keys = RedisKeys.from_settings(settings)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            ingest, _ = await start(tg, RedisSignalIngest, "redis_signals", settings, clock, bus)
            # The subscription is live once the actor is ready: PUBLISH reaches it.
            receivers = await redis_client.publish(
                keys.signal_channel, encode_json(signal(clock, 5))
            )
            assert receivers == 1
            got = await bus.channel(names.SIGNALS_IN).receive()
            assert isinstance(got, Signal)
            assert got.signal_id == "sig-5"
            assert ingest.stats.pubsub_received == 1
            tg.cancel_scope.cancel()


async def test_a_signal_on_the_stream_trades_and_is_acked(
    redis_url: str, prefix: str, redis_client: Redis
) -> None:
    from actors import broker, orchestrator, redis_signals, risk_gate, signal_guard
    from daemon.messages import Fill, OrderStatus, OrderUpdate, Tick
    from daemon.safety import SafetyGate
    from tests.pipeline_support import (
        MemorySafety,
        data_path,
        have_data,
        read_bars,
        start_actors,
        with_settings,
    )

    if not have_data():
        pytest.skip("the real market data in /work/shared/data is absent")
    clock = SimClock()  # never advanced: zero venue latency, nothing waits on a timer
    bus = Bus(default_capacity=1024)
    base = make_settings(redis_url, prefix, redis={"signals": {"consumer": "c1"}})
    settings = with_settings(
        base,
        sizing={"method": "fixed_shares", "fixed_shares": 10.0},
        risk={"history_files": {"AAPL": str(data_path("AAPL"))}},
        orchestrator={"initial_regime": "bull"},
        broker={"paper": {"ack_latency_ms": 0.0, "fill_latency_ms": 0.0}},
    )
    keys = RedisKeys.from_settings(settings)
    events = bus.topic(names.EVENTS).subscribe("test", types=(OrderUpdate, Fill))
    price = read_bars("AAPL", 1)[0][4]
    defs = [
        risk_gate.DEFINITION,
        orchestrator.DEFINITION,
        broker.DEFINITION,
        signal_guard.DEFINITION,
        redis_signals.DEFINITION,
    ]
    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            actors = await start_actors(
                tg, defs, settings, clock, bus, {SafetyGate: MemorySafety()}
            )
            ingest = actors["redis_signals"]
            assert isinstance(ingest, RedisSignalIngest)
            await bus.topic(names.MARKET).publish(
                Tick(symbol="AAPL", price=price, size=1e9, ts=clock.now_ns())
            )
            sig = signal(
                clock,
                1,
                symbol="AAPL",
                entry_price=price,
                stop_price=price * 0.95,
                target_price=price * 1.1,
                conviction=70,
            )
            await redis_client.xadd(keys.signal_stream, {"data": encode_json(sig)})
            seen: list[Any] = []
            while not any(isinstance(e, Fill) for e in seen):
                seen.append(await events.receive())
            accepted = [e for e in seen if isinstance(e, OrderUpdate)]
            assert accepted[0].status is OrderStatus.ACCEPTED
            fill = next(e for e in seen if isinstance(e, Fill))
            assert (fill.symbol, fill.qty) == ("AAPL", Decimal(10))
            await ingest.progress.wait_for(lambda: ingest.stats.acked == 1)
            assert await pending(redis_client, keys) == 0
            tg.cancel_scope.cancel()
