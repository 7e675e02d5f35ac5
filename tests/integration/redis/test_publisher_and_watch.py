"""Every event out on its Redis channel as a versioned envelope; `tradingctl watch` prints them."""

from __future__ import annotations

import io
from decimal import Decimal

import anyio
import pytest
from redis.asyncio import Redis

from actors.redis_publisher import RedisPublisher
from daemon import names
from daemon.bus import Bus
from daemon.clock import SimClock
from daemon.messages import SCHEMA_VERSION, Fill, Heartbeat, KillSwitchEvent, Side
from daemon.progress import Progress
from daemon.redislink import RedisKeys, Subscriber, decode_envelope, decode_event
from daemon.watch import watch
from tests.integration.redis._support import make_settings, read_stream, start

pytestmark = pytest.mark.redis


class Lines(io.StringIO):
    """A text sink a test can wait on."""

    def __init__(self) -> None:
        super().__init__()
        self.progress = Progress()

    def write(self, s: str) -> int:
        n = super().write(s)
        self.progress.notify()
        return n

    def lines(self) -> list[str]:
        return self.getvalue().splitlines()


def fill(clock: SimClock, n: int) -> Fill:
    return Fill(
        fill_id=f"f-{n}",
        client_order_id=f"o-{n}",
        symbol="AAPL",
        side=Side.BUY,
        qty=Decimal("10"),
        price=Decimal("187.25"),
        ts=clock.now_ns(),
    )


async def test_events_are_published_as_envelopes_on_their_kind_channel(
    redis_url: str, prefix: str, redis_client: Redis
) -> None:
    clock = SimClock()
    bus = Bus(default_capacity=1024)
    settings = make_settings(
        redis_url,
        prefix,
        redis={"events": {"exclude": ["heartbeat", "service_status"], "stream_maxlen": 100}},
    )
    keys = RedisKeys.from_settings(settings)
    events = bus.topic(names.EVENTS)
    sub = Subscriber(redis_client.pubsub(), idle_s=5.0)
    await sub.subscribe([keys.events_pattern()])
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            pub, _ = await start(tg, RedisPublisher, "redis_publisher", settings, clock, bus)
            kill = KillSwitchEvent(engaged=True, reason="test", trigger="operator", ts=1)
            await events.publish(Heartbeat(uptime_s=1.0, mode="running", killed=False, ts=1))
            await events.publish(fill(clock, 1))
            await events.publish(kill)

            channel, data = await sub.receive()
            assert channel == keys.event_channel("fill").encode()
            env = decode_envelope(data)
            assert (env.v, env.kind, env.account, env.seq) == (SCHEMA_VERSION, "fill", "acct", 1)
            assert decode_event(env) == fill(clock, 1)
            assert b'"price":"187.25"' in bytes(env.event)  # decimals travel as strings

            channel, data = await sub.receive()
            assert channel == f"{keys.base}:events:kill_switch_event".encode()
            assert decode_event(decode_envelope(data)) == kill
            await pub.progress.wait_for(lambda: pub.stats.published == 2)
            assert pub.stats.excluded == 2  # the heartbeat and its own "redis up" status
            tg.cancel_scope.cancel()
    await sub.aclose()
    history = await read_stream(redis_client, keys.events_stream)
    assert [decode_envelope(f[b"data"]).kind for _, f in history] == ["fill", "kill_switch_event"]


async def test_watch_prints_matching_events_live(
    redis_url: str, prefix: str, redis_client: Redis
) -> None:
    clock = SimClock()
    bus = Bus(default_capacity=1024)
    settings = make_settings(redis_url, prefix)
    events = bus.topic(names.EVENTS)
    out, err = Lines(), Lines()
    watching = anyio.Event()
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await start(tg, RedisPublisher, "redis_publisher", settings, clock, bus)
            tg.start_soon(
                lambda: watch(
                    redis_url, prefix, "acct", "fi*", out, err=err, limit=2, on_ready=watching.set
                )
            )
            await watching.wait()
            await events.publish(fill(clock, 1))
            await events.publish(KillSwitchEvent(engaged=False, reason="", trigger="x", ts=1))
            await events.publish(fill(clock, 2))
            await out.progress.wait_for(lambda: len(out.lines()) == 2)
            tg.cancel_scope.cancel()
    first, second = out.lines()
    assert first.startswith("2023-11-14T22:13:20.000000Z fill {")
    assert '"fill_id":"f-1"' in first
    assert '"fill_id":"f-2"' in second
    assert err.getvalue() == ""


async def test_a_burst_published_over_a_few_loop_turns_goes_out_in_one_write(
    redis_url: str, prefix: str, redis_client: Redis
) -> None:
    clock = SimClock()
    bus = Bus(default_capacity=1024)
    settings = make_settings(
        redis_url, prefix, redis={"events": {"exclude": ["heartbeat", "service_status"]}}
    )
    keys = RedisKeys.from_settings(settings)
    events = bus.topic(names.EVENTS)
    sub = Subscriber(redis_client.pubsub(), idle_s=5.0)
    await sub.subscribe([keys.event_channel("fill")])
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            pub, _ = await start(tg, RedisPublisher, "redis_publisher", settings, clock, bus)
            await anyio.wait_all_tasks_blocked()
            before = pub.stats.batches
            # As a traded signal's events come: one actor step per loop turn.
            for n in range(4):
                await events.publish(fill(clock, n))
                await anyio.lowlevel.checkpoint()
            for n in range(4):
                _, data = await sub.receive()
                assert decode_event(decode_envelope(data)) == fill(clock, n)  # in order
            await pub.progress.wait_for(lambda: pub.stats.published == 4)
            assert pub.stats.batches - before == 1
            tg.cancel_scope.cancel()
    await sub.aclose()
