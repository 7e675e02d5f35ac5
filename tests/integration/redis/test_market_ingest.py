"""Market data from the real Redis: pub/sub and stream, batching, dead letters, staleness."""

from __future__ import annotations

import anyio
import pytest
from redis.asyncio import Redis

from actors.redis_market import RedisMarketIngest
from daemon import names
from daemon.bus import Bus
from daemon.clock import NS_PER_S, SimClock
from daemon.messages import Bar, MarketBatch, ServiceStatus, Tick
from daemon.messages.codec import encode_json
from daemon.redislink import RedisKeys
from tests.integration.redis._support import make_settings, read_stream, start

pytestmark = pytest.mark.redis


def tick(clock: SimClock, price: float, symbol: str = "AAPL") -> bytes:
    return encode_json(Tick(symbol=symbol, price=price, ts=clock.now_ns()))


async def test_pubsub_ticks_and_bars_reach_the_market_topic_batched_when_many_arrive(
    redis_url: str, prefix: str, redis_client: Redis
) -> None:
    clock = SimClock()
    bus = Bus(default_capacity=1024)
    settings = make_settings(redis_url, prefix, redis={"market": {"stale_after_s": 0}})
    keys = RedisKeys.from_settings(settings)
    # A subscriber that holds one message: while it is full the actor waits (lossless),
    # so everything published meanwhile piles up and is delivered in batches.
    market = bus.topic(names.MARKET).subscribe("test", capacity=1)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            ingest, _ = await start(tg, RedisMarketIngest, "redis_market", settings, clock, bus)
            await redis_client.publish(f"{keys.base}:market:AAPL", tick(clock, 100.0))
            first = await market.receive()
            assert first == Tick(symbol="AAPL", price=100.0, ts=clock.now_ns())

            bar = Bar(symbol="MSFT", open=1, high=2, low=0.5, close=1.5, ts=clock.now_ns())
            await redis_client.publish(f"{keys.base}:market", encode_json(bar))
            await ingest.progress.wait_for(lambda: ingest.stats.messages == 2)
            pipe = redis_client.pipeline(transaction=False)
            for i in range(200):
                pipe.publish(f"{keys.base}:market:AAPL", tick(clock, 101.0 + i))
            await pipe.execute()

            received: list[Tick | Bar] = []
            while len(received) < 201:
                msg = await market.receive()
                received.extend(msg.items if isinstance(msg, MarketBatch) else [msg])
            assert received[0] == bar
            prices: list[float] = []
            for t in received[1:]:
                assert isinstance(t, Tick)
                prices.append(t.price)
            assert prices == [101.0 + i for i in range(200)]
            assert ingest.stats.updates == 202
            assert ingest.stats.batches < ingest.stats.updates  # some arrived together
            tg.cancel_scope.cancel()


async def test_stream_entries_arriving_together_become_one_batch(
    redis_url: str, prefix: str, redis_client: Redis
) -> None:
    clock = SimClock()
    bus = Bus(default_capacity=1024)
    stream = f"{prefix}:acct:prices"
    settings = make_settings(
        redis_url,
        prefix,
        redis={"market": {"pubsub_enabled": False, "stream": stream, "stale_after_s": 0}},
    )
    await redis_client.xadd(stream, {"data": tick(clock, 1.0)})  # before start: not replayed
    market = bus.topic(names.MARKET).subscribe("test")
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            ingest, _ = await start(tg, RedisMarketIngest, "redis_market", settings, clock, bus)
            pipe = redis_client.pipeline(transaction=True)  # all visible at once
            for i in range(50):
                pipe.xadd(stream, {"data": tick(clock, 10.0 + i, symbol=f"S{i}")})
            await pipe.execute()
            batch = await market.receive()
            assert isinstance(batch, MarketBatch)
            assert [t.symbol for t in batch.items] == [f"S{i}" for i in range(50)]
            assert ingest.stats.batches == 1
            tg.cancel_scope.cancel()


async def test_malformed_market_data_is_dead_lettered_and_the_rest_goes_through(
    redis_url: str, prefix: str, redis_client: Redis
) -> None:
    clock = SimClock()
    bus = Bus(default_capacity=1024)
    settings = make_settings(redis_url, prefix, redis={"market": {"stale_after_s": 0}})
    keys = RedisKeys.from_settings(settings)
    market = bus.topic(names.MARKET).subscribe("test")
    untagged = b'{"symbol": "AAPL", "price": 1.0, "ts": 1}'
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            ingest, _ = await start(tg, RedisMarketIngest, "redis_market", settings, clock, bus)
            await redis_client.publish(f"{keys.base}:market", untagged)
            await redis_client.publish(f"{keys.base}:market", tick(clock, 5.0))
            assert (await market.receive()).price == 5.0
            assert ingest.stats.dead_lettered == 1
            tg.cancel_scope.cancel()
    [(_, letter)] = await read_stream(redis_client, keys.dead_letter)
    assert letter[b"raw"] == untagged
    assert letter[b"origin"] == f"pubsub {keys.base}:market".encode()
    assert letter[b"error"] == b"Object missing required field `type`"


async def test_feed_is_reported_stale_when_prices_stop_and_healthy_when_they_resume(
    redis_url: str, prefix: str, redis_client: Redis
) -> None:
    clock = SimClock()
    bus = Bus(default_capacity=1024)
    settings = make_settings(redis_url, prefix, redis={"market": {"stale_after_s": 30}})
    keys = RedisKeys.from_settings(settings)
    statuses = bus.topic(names.EVENTS).subscribe("test", types=(ServiceStatus,))
    market = bus.topic(names.MARKET).subscribe("test")
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            ingest, _ = await start(tg, RedisMarketIngest, "redis_market", settings, clock, bus)
            assert (await statuses.receive()).healthy  # Redis connected
            await redis_client.publish(f"{keys.base}:market", tick(clock, 1.0))
            await market.receive()
            start_ns = clock.now_ns()

            await clock.run_until(start_ns + 29 * NS_PER_S)
            assert not ingest.stale
            await clock.run_until(start_ns + 31 * NS_PER_S)
            stale = await statuses.receive()
            assert (stale.service, stale.healthy) == ("market_data", False)
            assert stale.detail == "no market data for 30s"

            await redis_client.publish(f"{keys.base}:market", tick(clock, 2.0))
            fresh = await statuses.receive()
            assert (fresh.service, fresh.healthy) == ("market_data", True)
            assert ingest.stats.stale_reports == 1
            tg.cancel_scope.cancel()
