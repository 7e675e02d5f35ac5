"""The alert bridge end to end: each handler fires on its event; alerts are stored,
throttled and routed by severity to the log and to Redis pub/sub."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anyio
import pytest
from redis.asyncio import Redis

from actors.alert_bridge import AlertBridge, RedisSink
from daemon import names
from daemon.bus import Bus
from daemon.clock import SimClock
from daemon.messages import (
    ActorState,
    ActorStatus,
    Alert,
    Discrepancy,
    Fill,
    KillSwitchEvent,
    OrderStatus,
    OrderUpdate,
    ReconciliationReport,
    ServiceStatus,
    Severity,
    Side,
    TradeClosed,
)
from daemon.redislink import RedisKeys, Subscriber, decode_envelope, decode_event
from tests.integration.redis._support import make_settings, start

pytestmark = pytest.mark.redis
D = Decimal

ONE_OF_EACH: list[tuple[Any, str, Severity]] = [
    (
        Fill(
            fill_id="f1",
            client_order_id="o1",
            symbol="AAPL",
            side=Side.BUY,
            qty=D(10),
            price=D("187.25"),
            ts=1,
        ),
        "trade_executed",
        Severity.INFO,
    ),
    (
        TradeClosed(
            trade_id="t1",
            correlation_id="c1",
            symbol="AAPL",
            side=Side.BUY,
            qty=D(10),
            entry_price=D(100),
            exit_price=D(110),
            entry_ns=1,
            exit_ns=2,
            pnl=D(100),
            ts=2,
        ),
        "position_closed",
        Severity.INFO,
    ),
    (
        OrderUpdate(
            client_order_id="o2",
            symbol="MSFT",
            side=Side.SELL,
            status=OrderStatus.REJECTED,
            qty=D(1),
            ts=3,
        ),
        "order_rejected",
        Severity.WARNING,
    ),
    (
        KillSwitchEvent(engaged=True, reason="manual", trigger="operator", ts=4),
        "kill_switch_engaged",
        Severity.CRITICAL,
    ),
    (
        KillSwitchEvent(engaged=True, reason="-3%", trigger="daily_loss", ts=5),
        "daily_loss_limit",
        Severity.CRITICAL,
    ),
    (
        ReconciliationReport(
            run_id="r1",
            trigger="periodic",
            discrepancies=(Discrepancy(kind="missing_order", client_order_id="o3"),),
            started_ns=1,
            ts=6,
        ),
        "reconciliation_mismatch",
        Severity.WARNING,
    ),
    (
        ActorStatus(actor="regime", state=ActorState.CRASHED, core=False, error="boom", ts=7),
        "actor_crashed",
        Severity.WARNING,
    ),
    (
        ServiceStatus(service="storage", healthy=False, detail="db down", reporter="sw", ts=8),
        "storage_down",
        Severity.ERROR,
    ),
]


async def test_each_handler_fires_and_its_alert_is_stored_and_published(
    redis_url: str, prefix: str, redis_client: Redis
) -> None:
    clock = SimClock()
    bus = Bus(default_capacity=1024)
    settings = make_settings(redis_url, prefix, alerts={"redis_min_severity": "warning"})
    keys = RedisKeys.from_settings(settings)
    events = bus.topic(names.EVENTS)
    stored = events.subscribe("storage", types=(Alert,))
    watcher = Subscriber(redis_client.pubsub(), idle_s=5.0)
    await watcher.subscribe([keys.alert_channel("*")])
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            bridge, _ = await start(tg, AlertBridge, "alert_bridge", settings, clock, bus)
            sink = bridge.sink("redis")
            assert isinstance(sink, RedisSink)
            await sink.link.progress.wait_for(lambda: sink.link.healthy is True)
            for event, _, _ in ONE_OF_EACH:
                await events.publish(event)
            alerts: list[Alert] = []
            while len(alerts) < len(ONE_OF_EACH):
                alert = await stored.receive()
                if alert.code != "redis_down":  # the sink's own link is not under test
                    alerts.append(alert)
            assert [(a.code, a.severity) for a in alerts] == [(c, s) for _, c, s in ONE_OF_EACH]

            # Quiet routing: Redis subscribers get warnings and worse, not trade notices.
            loud = [a for a in alerts if a.severity is not Severity.INFO]
            for expected in loud:
                channel, data = await watcher.receive()
                assert channel == keys.alert_channel(expected.severity).encode()
                assert decode_event(decode_envelope(data)) == expected
            log = bridge.sink("log")
            await log.progress.wait_for(lambda: log.stats.delivered == len(ONE_OF_EACH))
            assert bridge.stats.raised == len(ONE_OF_EACH)
            tg.cancel_scope.cancel()
    await watcher.aclose()


async def test_alerts_from_other_actors_are_routed_but_not_stored_twice(
    redis_url: str, prefix: str, redis_client: Redis
) -> None:
    clock = SimClock()
    bus = Bus(default_capacity=1024)
    settings = make_settings(redis_url, prefix)
    keys = RedisKeys.from_settings(settings)
    events = bus.topic(names.EVENTS)
    stored = events.subscribe("storage", types=(Alert,))
    watcher = Subscriber(redis_client.pubsub(), idle_s=5.0)
    await watcher.subscribe([keys.alert_channel("warning")])
    theirs = Alert(
        alert_id="circuit_breaker_tripped:1",
        severity=Severity.WARNING,
        code="circuit_breaker_tripped",
        text="circuit breaker tripped after 3 consecutive losses",
        ts=1,
    )
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            bridge, _ = await start(tg, AlertBridge, "alert_bridge", settings, clock, bus)
            await events.publish(theirs)
            _, data = await watcher.receive()
            assert decode_event(decode_envelope(data)) == theirs
            await bridge.progress.wait_for(lambda: bridge.stats.forwarded == 1)
            assert bridge.stats.raised == 0
            tg.cancel_scope.cancel()
    assert stored.channel.depth() == 1  # only the original: the bridge did not re-publish it
    await watcher.aclose()


async def test_a_crash_loop_is_one_alert_per_window_with_the_repeats_counted() -> None:
    clock = SimClock()
    bus = Bus(default_capacity=1024)
    settings = make_settings("", "unused", alerts={"dedup_window_s": 300.0})
    events = bus.topic(names.EVENTS)
    stored = events.subscribe("storage", types=(Alert,))
    crash = ActorStatus(actor="regime", state=ActorState.CRASHED, core=False, error="x", ts=1)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            bridge, _ = await start(tg, AlertBridge, "alert_bridge", settings, clock, bus)
            for _ in range(5):
                await events.publish(crash)
            await bridge.progress.wait_for(lambda: bridge.stats.events >= 5)
            first = await stored.receive()
            assert first.code == "actor_crashed"
            assert bridge.stats.suppressed == 4
            assert stored.channel.depth() == 0

            clock.advance(300)
            await events.publish(crash)
            again = await stored.receive()
            assert again.text.endswith("(4 similar suppressed)")
            assert again.payload["suppressed"] == 4
            tg.cancel_scope.cancel()


async def test_disabled_codes_are_never_raised() -> None:
    clock = SimClock()
    bus = Bus(default_capacity=1024)
    settings = make_settings("", "unused", alerts={"disabled_codes": ["trade_executed"]})
    events = bus.topic(names.EVENTS)
    stored = events.subscribe("storage", types=(Alert,))
    fill, _, _ = ONE_OF_EACH[0]
    closed, _, _ = ONE_OF_EACH[1]
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            bridge, _ = await start(tg, AlertBridge, "alert_bridge", settings, clock, bus)
            await events.publish(fill)
            await events.publish(closed)
            assert (await stored.receive()).code == "position_closed"
            assert bridge.stats.raised == 1
            tg.cancel_scope.cancel()
