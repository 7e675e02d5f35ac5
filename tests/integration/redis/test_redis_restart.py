"""Redis restarts mid-run: actors reconnect, nothing is lost from the stream, publishing resumes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest
from redis.asyncio import Redis

from actors.orchestrator import Orchestrator
from actors.redis_publisher import RedisPublisher
from actors.redis_signals import RedisSignalIngest
from actors.signal_guard import SignalGuard
from daemon import names
from daemon.bus import Bus, Subscription
from daemon.clock import NS_PER_S, SimClock
from daemon.messages import ServiceStatus, Signal, SignalVerdict
from daemon.messages.codec import encode_json
from daemon.redislink import RedisKeys, Subscriber, decode_envelope, decode_event
from tests.integration.redis._support import ThrowawayRedis, make_settings, read_stream, start

pytestmark = pytest.mark.redis


def signal(clock: SimClock, n: int) -> bytes:
    fields: dict[str, Any] = {
        "signal_id": f"sig-{n}",
        "source": "test",
        "symbol": f"S{n}",
        "side": "buy",
        "created_ns": clock.now_ns(),
    }
    return encode_json(msgspec.convert(fields, Signal))


async def guard_verdict(verdicts: Subscription[SignalVerdict]) -> SignalVerdict:
    """The next verdict of the guard (skipping the orchestrator's)."""
    while True:
        v = await verdicts.receive()
        if v.stage == "guard":
            return v


async def test_reconnects_after_a_restart_without_losing_signals_and_publishing_resumes(
    tmp_path: Path, prefix: str
) -> None:
    clock = SimClock()
    bus = Bus(default_capacity=1024)
    verdicts = bus.topic(names.EVENTS).subscribe("test-verdicts", types=(SignalVerdict,))
    statuses = bus.topic(names.EVENTS).subscribe("test-status", types=(ServiceStatus,))
    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            server = ThrowawayRedis(tmp_path, tg)
            await server.start()
            settings = make_settings(
                server.url,
                prefix,
                redis={
                    "reconnect_initial_s": 1.0,
                    "reconnect_max_s": 1.0,
                    "signals": {"consumer": "c1", "pubsub_enabled": False},
                    "events": {"stream_maxlen": 10_000},
                },
            )
            keys = RedisKeys.from_settings(settings)
            client = Redis.from_url(server.url)

            # An orchestrator with no safety gate turns every entry down (no_safety_gate):
            # that recorded outcome is what an accepted stream entry waits for.
            await start(tg, Orchestrator, "orchestrator", settings, clock, bus)
            _, guard = await start(tg, SignalGuard, "signal_guard", settings, clock, bus)
            ingest, _ = await start(tg, RedisSignalIngest, "redis_signals", settings, clock, bus)
            pub, _ = await start(tg, RedisPublisher, "redis_publisher", settings, clock, bus)

            for n in range(3):
                await client.xadd(keys.signal_stream, {"data": signal(clock, n)})
            await ingest.progress.wait_for(lambda: ingest.stats.acked == 3)

            # Two more signals are read and handed over, but with the guard down they are
            # not decided when Redis goes away: they must stay pending across the restart.
            await guard.kill()
            for n in range(3, 5):
                await client.xadd(keys.signal_stream, {"data": signal(clock, n)})
            await ingest.progress.wait_for(lambda: ingest.stats.forwarded == 5)
            await client.aclose()
            await server.stop()

            down: set[str] = set()
            while down != {"redis_signals.stream", "redis_publisher"}:
                status = await statuses.receive()
                if not status.healthy:
                    down.add(status.reporter)

            # Trading goes on meanwhile: the guard decides the two signals it holds.
            await start(tg, SignalGuard, "signal_guard", settings, clock, bus)
            decided = [await guard_verdict(verdicts) for _ in range(5)]
            assert [v.signal.signal_id for v in decided[3:]] == ["sig-3", "sig-4"]

            await server.start()
            client = Redis.from_url(server.url)
            watcher = Subscriber(client.pubsub(), idle_s=5.0)
            await watcher.subscribe([keys.event_channel("signal_verdict")])

            # The actors retry after their (1 s, simulated) backoff.
            await clock.run_until(clock.now_ns() + 2 * NS_PER_S)
            await ingest.stream_link.progress.wait_for(lambda: ingest.stream_link.healthy is True)
            await ingest.progress.wait_for(lambda: ingest.stats.acked == 5)
            assert ingest.stats.forwarded == 5  # decided entries are not sent again
            assert (await client.xpending(keys.signal_stream, keys.group))["pending"] == 0

            for n in range(5, 7):
                await client.xadd(keys.signal_stream, {"data": signal(clock, n)})
            await ingest.progress.wait_for(lambda: ingest.stats.acked == 7)
            after = [await guard_verdict(verdicts) for _ in range(2)]
            assert all(v.accepted for v in [*decided, *after])

            # Publishing resumed: the new verdicts reach a subscriber live...
            seen: list[str] = []
            while len(seen) < 2:
                _, data = await watcher.receive()
                event = decode_event(decode_envelope(data))
                assert isinstance(event, SignalVerdict)
                if event.stage == "guard" and event.signal.signal_id in ("sig-5", "sig-6"):
                    seen.append(event.signal.signal_id)
            # ...and what was decided during the outage was published after it.
            history = await read_stream(client, keys.events_stream)
            out = [decode_event(decode_envelope(f[b"data"])) for _, f in history]
            verdicts_out = [e for e in out if isinstance(e, SignalVerdict)]
            published = [e.signal.signal_id for e in verdicts_out if e.stage == "guard"]
            assert published == [f"sig-{n}" for n in range(7)]
            refused = [e.signal.signal_id for e in verdicts_out if e.stage != "guard"]
            assert refused == published
            assert {e.reason for e in verdicts_out if e.stage != "guard"} == {"no_safety_gate"}
            assert server.starts == 2
            assert pub.shed == 0
            await watcher.aclose()
            await client.aclose()
            await server.stop()
            tg.cancel_scope.cancel()
