"""When a stream entry is acknowledged: only once its signal's final outcome is recorded.

The whole pipeline runs for real — Redis ingest, signal guard, orchestrator, risk gate and
paper broker. The orchestrator is held between the guard's acceptance and its own
decision by starting the risk gate late: until it answers, the orchestrator waits on its
risk request with the signal in hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import anyio
import msgspec
import pytest
from anyio.abc import TaskGroup
from redis.asyncio import Redis

from actors import broker, orchestrator, redis_signals, risk_gate, signal_guard
from actors.orchestrator import correlation_id, entry_order_id
from actors.redis_signals import RedisSignalIngest
from config import Settings
from daemon import names
from daemon.actor import Actor, ActorDefinition
from daemon.bus import Bus
from daemon.clock import SimClock
from daemon.messages import (
    Fill,
    FusionRecord,
    OrderIntent,
    OrderPurpose,
    Signal,
    SignalVerdict,
    Tick,
)
from daemon.messages.codec import encode_json
from daemon.redislink import RedisKeys
from daemon.safety import SafetyGate
from tests.integration.redis._support import as_bytes, make_settings
from tests.pipeline_support import (
    EventLog,
    MemorySafety,
    data_path,
    have_data,
    read_bars,
    start_actors,
    with_settings,
)

pytestmark = pytest.mark.redis

_PIPELINE = [orchestrator.DEFINITION, broker.DEFINITION, signal_guard.DEFINITION]


def _settings(redis_url: str, prefix: str) -> Settings:
    base = make_settings(redis_url, prefix, redis={"signals": {"consumer": "c1"}})
    return with_settings(
        base,
        sizing={"method": "fixed_shares", "fixed_shares": 10.0},
        risk={"history_files": {"AAPL": str(data_path("AAPL"))}},
        orchestrator={"initial_regime": "bull"},
        broker={"paper": {"ack_latency_ms": 0.0, "fill_latency_ms": 0.0}},
    )


def _signal(clock: SimClock, sid: str, price: float | None, **kw: Any) -> bytes:
    fields: dict[str, Any] = {
        "signal_id": sid,
        "source": "test",
        "symbol": "AAPL",
        "side": "buy",
        "conviction": 70,
        "created_ns": clock.now_ns(),
        **kw,
    }
    if price is not None:
        fields |= {"entry_price": price, "stop_price": price * 0.95, "target_price": price * 1.1}
    return encode_json(msgspec.convert(fields, Signal))


async def _pending_ids(client: Redis, keys: RedisKeys) -> list[bytes]:
    rows = await client.xpending_range(keys.signal_stream, keys.group, min="-", max="+", count=100)
    return [as_bytes(r["message_id"]) for r in rows]


async def _start(
    tg: TaskGroup, defs: Sequence[ActorDefinition], settings: Settings, clock: SimClock, bus: Bus
) -> dict[str, Actor]:
    return await start_actors(tg, defs, settings, clock, bus, {SafetyGate: MemorySafety()})


async def _event_log(tg: TaskGroup, bus: Bus) -> EventLog:
    log = EventLog(bus.topic(names.EVENTS).subscribe("test-events"))
    await tg.start(log.run)
    return log


async def _ingest(
    tg: TaskGroup, settings: Settings, clock: SimClock, bus: Bus
) -> RedisSignalIngest:
    actors = await _start(tg, [redis_signals.DEFINITION], settings, clock, bus)
    ingest = actors["redis_signals"]
    assert isinstance(ingest, RedisSignalIngest)
    return ingest


async def test_an_accepted_signal_is_acked_only_once_the_orchestrator_has_decided(
    redis_url: str, prefix: str, redis_client: Redis
) -> None:
    if not have_data():
        pytest.skip("the real market data in /work/shared/data is absent")
    clock = SimClock()  # never advanced: zero venue latency, nothing waits on a timer
    bus = Bus(default_capacity=1024)
    settings = _settings(redis_url, prefix)
    keys = RedisKeys.from_settings(settings)
    price = read_bars("AAPL", 1)[0][4]
    traded_cid = correlation_id("test", "trade")
    refused_cid = correlation_id("test", "refuse")
    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            log = await _event_log(tg, bus)
            await _start(tg, _PIPELINE, settings, clock, bus)  # no risk gate yet
            ingest = await _ingest(tg, settings, clock, bus)
            await bus.topic(names.MARKET).publish(
                Tick(symbol="AAPL", price=price, size=1e9, ts=clock.now_ns())
            )
            # One the orchestrator turns down before asking the risk gate (no price to size
            # it on), one that needs the risk gate's answer to trade.
            refused = await redis_client.xadd(
                keys.signal_stream, {"data": _signal(clock, "refuse", None, symbol="MSFT")}
            )
            traded = await redis_client.xadd(
                keys.signal_stream, {"data": _signal(clock, "trade", price)}
            )
            await ingest.progress.wait_for(lambda: ingest.stats.accepted == 2)
            [no] = await log.wait_kind(SignalVerdict, where=lambda v: v.stage != "guard")
            assert (no.correlation_id, no.stage, no.reason) == (refused_cid, "sizing", "no_price")
            await log.wait_kind(FusionRecord, where=lambda r: r.correlation_id == traded_cid)

            # A signal the guard rejects, read after both: acks go out in the order their
            # outcomes are seen, so once it is acked, an ack on the guard's acceptance of
            # `trade` would have gone out too.
            await redis_client.xadd(
                keys.signal_stream, {"data": _signal(clock, "stranger", price, source="x")}
            )
            await ingest.progress.wait_for(lambda: ingest.stats.acked >= 2)
            assert ingest.stats.acked == 2
            assert await _pending_ids(redis_client, keys) == [traded]
            assert refused not in await _pending_ids(redis_client, keys)
            assert log.of(OrderIntent) == []

            # The risk gate answers: the order's write-ahead intent is the outcome.
            await _start(tg, [risk_gate.DEFINITION], settings, clock, bus)
            await ingest.progress.wait_for(lambda: ingest.stats.acked == 3)
            assert await _pending_ids(redis_client, keys) == []
            await log.wait_kind(Fill)
            [intent] = log.of(OrderIntent)
            assert intent.correlation_id == traded_cid
            tg.cancel_scope.cancel()


async def test_exit_signals_are_acked_on_their_order_intent_or_rejection(
    redis_url: str, prefix: str, redis_client: Redis
) -> None:
    if not have_data():
        pytest.skip("the real market data in /work/shared/data is absent")
    clock = SimClock()
    bus = Bus(default_capacity=1024)
    settings = _settings(redis_url, prefix)
    keys = RedisKeys.from_settings(settings)
    price = read_bars("AAPL", 1)[0][4]
    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            log = await _event_log(tg, bus)
            await _start(tg, [risk_gate.DEFINITION, *_PIPELINE], settings, clock, bus)
            ingest = await _ingest(tg, settings, clock, bus)
            await bus.topic(names.MARKET).publish(
                Tick(symbol="AAPL", price=price, size=1e9, ts=clock.now_ns())
            )
            # An exit with nothing to close is turned down by the orchestrator.
            await redis_client.xadd(
                keys.signal_stream,
                {"data": _signal(clock, "early-exit", None, side="sell", is_exit=True)},
            )
            await ingest.progress.wait_for(lambda: ingest.stats.acked == 1)
            [no] = await log.wait_kind(SignalVerdict, where=lambda v: v.stage != "guard")
            assert (no.stage, no.reason) == ("submit", "exit_no_position")
            assert await _pending_ids(redis_client, keys) == []

            await redis_client.xadd(keys.signal_stream, {"data": _signal(clock, "open", price)})
            await log.wait_kind(Fill)
            await ingest.progress.wait_for(lambda: ingest.stats.acked == 2)

            # An exit of the open position trades: acked on its exit order's intent.
            exit_cid = correlation_id("test", "close")
            close = _signal(clock, "close", None, side="sell", is_exit=True, entry_price=price)
            await redis_client.xadd(keys.signal_stream, {"data": close})
            await ingest.progress.wait_for(lambda: ingest.stats.acked == 3)
            _, out = await log.wait_kind(OrderIntent, 2)
            assert (out.correlation_id, out.purpose) == (exit_cid, OrderPurpose.EXIT)
            assert await _pending_ids(redis_client, keys) == []
            tg.cancel_scope.cancel()


async def test_a_crash_between_acceptance_and_decision_redelivers_and_trades_once(
    redis_url: str, prefix: str, redis_client: Redis
) -> None:
    if not have_data():
        pytest.skip("the real market data in /work/shared/data is absent")
    clock = SimClock()
    settings = _settings(redis_url, prefix)
    keys = RedisKeys.from_settings(settings)
    price = read_bars("AAPL", 1)[0][4]
    cid = correlation_id("test", "once")
    coid = entry_order_id(settings.daemon.account, "test", "once")

    # First run: the guard accepts, the orchestrator waits for a risk gate that never
    # comes, and the whole daemon dies (every actor cancelled, the bus lost with it).
    bus = Bus(default_capacity=1024)
    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            log = await _event_log(tg, bus)
            await _start(tg, _PIPELINE, settings, clock, bus)
            ingest = await _ingest(tg, settings, clock, bus)
            eid = await redis_client.xadd(
                keys.signal_stream, {"data": _signal(clock, "once", price)}
            )
            await ingest.progress.wait_for(lambda: ingest.stats.accepted == 1)
            await log.wait_kind(FusionRecord, where=lambda r: r.correlation_id == cid)
            tg.cancel_scope.cancel()
    assert log.of(OrderIntent) == []
    assert ingest.stats.acked == 0
    assert await _pending_ids(redis_client, keys) == [eid]

    # Second run, a fresh daemon: the entry is taken back from the pending list, the new
    # guard accepts it, and it trades — once.
    bus = Bus(default_capacity=1024)
    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            log = await _event_log(tg, bus)
            await _start(tg, [risk_gate.DEFINITION, *_PIPELINE], settings, clock, bus)
            await bus.topic(names.MARKET).publish(
                Tick(symbol="AAPL", price=price, size=1e9, ts=clock.now_ns())
            )
            ingest = await _ingest(tg, settings, clock, bus)
            await ingest.progress.wait_for(lambda: ingest.stats.acked == 1)
            assert ingest.stats.reclaimed == 1
            [fill] = await log.wait_kind(Fill)
            assert (fill.client_order_id, fill.qty) == (coid, Decimal(10))
            tg.cancel_scope.cancel()
    assert [i.client_order_id for i in log.of(OrderIntent)] == [coid]
    assert await _pending_ids(redis_client, keys) == []
