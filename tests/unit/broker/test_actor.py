"""The broker actor end to end on the bus, on the simulated clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from anyio import wait_all_tasks_blocked

from actors.broker import (
    DEFINITION,
    BrokerActor,
    BrokerClient,
    BrokerError,
    BrokerUnavailable,
    PaperBroker,
)
from config.settings import Settings
from daemon import names
from daemon.actor import ActorContext, Health
from daemon.bus import Bus, Channel, Subscription
from daemon.clock import SimClock
from daemon.logs import actor_logger
from daemon.messages import (
    BrokerStatus,
    CancelOrder,
    Fill,
    MarketBatch,
    OrderStatus,
    OrderType,
    OrderUpdate,
    SubmitOrder,
)
from tests.unit.broker._helpers import MS, T0, D, intent, settings, tick

S = OrderStatus
FAIL_AFTER_S = 10  # a guard against hangs, never part of an assertion


class Harness:
    """A bus, a clock and a running broker actor, seen from the orchestrator's side."""

    def __init__(self, bus: Bus, clock: SimClock, ctx: ActorContext) -> None:
        self.bus = bus
        self.clock = clock
        self.ctx = ctx
        self.commands: Channel[Any] = bus.channel(names.BROKER_COMMANDS)
        self.inbox: Channel[Any] = bus.channel(names.ORCHESTRATOR_BROKER)
        self.status: Subscription[Any] = bus.topic(names.EVENTS).subscribe(
            "test", types=(BrokerStatus,)
        )
        self.order_events: Subscription[Any] = bus.topic(names.EVENTS).subscribe(
            "test-orders", types=(OrderUpdate, Fill)
        )
        self.client = BrokerClient(bus)

    @property
    def paper(self) -> PaperBroker:
        return self.ctx.resource(PaperBroker)

    async def submit(self, coid: str, **kw: Any) -> None:
        await self.commands.send(SubmitOrder(intent=intent(coid, **kw)))

    async def market(self, *items: Any) -> None:
        await self.bus.topic(names.MARKET).publish(MarketBatch(items=items, ts=self.clock.now_ns()))

    async def expect(self, n: int) -> list[Any]:
        """The next ``n`` events the orchestrator receives."""
        got: list[Any] = []
        with anyio.fail_after(FAIL_AFTER_S):
            while len(got) < n:
                got.append(await self.inbox.receive())
        return got


def make_ctx(bus: Bus, clock: SimClock, **paper: Any) -> ActorContext:
    cfg = Settings(broker=settings(**paper))
    return ActorContext(
        name="broker",
        settings=cfg,
        clock=clock,
        bus=bus,
        log=actor_logger("broker"),
        health=Health(clock),
    )


@asynccontextmanager
async def harness(**paper: Any) -> AsyncIterator[Harness]:
    clock = SimClock(start_ns=T0)
    bus = Bus(default_capacity=1024)
    ctx = make_ctx(bus, clock, **paper)
    h = Harness(bus, clock, ctx)
    async with anyio.create_task_group() as tg:
        await tg.start(clock.autojump)
        await tg.start(DEFINITION.factory(ctx).run)
        try:
            yield h
        finally:
            tg.cancel_scope.cancel()


async def test_definition() -> None:
    assert DEFINITION.name == "broker"
    assert DEFINITION.core
    assert DEFINITION.requires == ()


async def test_order_flow_end_to_end() -> None:
    async with harness(ack_latency_ms=5.0, fill_latency_ms=20.0) as h:
        with anyio.fail_after(FAIL_AFTER_S):
            connected = await h.status.receive()
        assert connected.connected
        await h.market(tick(100.0, ts=T0))
        await h.submit("o1", qty="10")
        accepted, fill, filled = await h.expect(3)
        order = await h.client.get_order("o1")
        positions = await h.client.positions()
        account = await h.client.account()
        assert await h.client.get_order("nope") is None
        assert await h.client.open_orders() == ()
    assert (accepted.status, accepted.ts) == (S.ACCEPTED, T0 + 5 * MS)
    assert isinstance(fill, Fill)
    assert (fill.qty, fill.price, fill.ts) == (D(10), D(100), T0 + 25 * MS)
    assert filled.status is S.FILLED
    assert order is not None
    assert order.status is S.FILLED
    assert [(p.symbol, p.qty) for p in positions] == [("AAPL", D(10))]
    assert account.cash == D(100_000) - D(1000)
    # Order events go to the orchestrator only, never straight onto `events`.
    assert h.order_events.channel.depth() == 0


async def test_limit_order_and_cancel() -> None:
    async with harness(ack_latency_ms=1.0) as h:
        await h.market(tick(100.0, ts=T0))
        await h.submit("lim", order_type=OrderType.LIMIT, limit="90")
        (accepted,) = await h.expect(1)
        assert [o.client_order_id for o in await h.client.open_orders()] == ["lim"]
        await h.commands.send(CancelOrder(client_order_id="lim", ts=h.clock.now_ns()))
        (cancelled,) = await h.expect(1)
    assert accepted.status is S.ACCEPTED
    assert cancelled.status is S.CANCELLED


async def test_same_client_order_id_twice_is_one_order() -> None:
    async with harness() as h:
        await h.market(tick(100.0, ts=T0))
        await h.submit("dup")
        await h.submit("dup")
        events = await h.expect(4)
        positions = await h.client.positions()
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["OrderUpdate", "Fill", "OrderUpdate", "OrderUpdate"]
    assert events[-1].reason == "duplicate_client_order_id"
    assert events[-1].status is S.FILLED
    assert [p.qty for p in positions] == [D(100)]


async def test_rejection_reaches_the_orchestrator() -> None:
    async with harness() as h:
        await h.submit("unknown", symbol="ZZZZ")
        (rejected,) = await h.expect(1)
    assert rejected.status is S.REJECTED
    assert rejected.reason == "unknown_symbol"


async def test_outage_rejects_unsent_orders_and_reconnects() -> None:
    async with harness() as h:
        with anyio.fail_after(FAIL_AFTER_S):
            assert (await h.status.receive()).connected
        await h.market(tick(100.0, ts=T0))
        h.paper.go_offline()
        await h.submit("during")
        (rejected,) = await h.expect(1)
        with anyio.fail_after(FAIL_AFTER_S):
            down = await h.status.receive()
        with pytest.raises(BrokerUnavailable):
            await h.client.account()
        h.paper.go_online()
        with anyio.fail_after(FAIL_AFTER_S):
            up = await h.status.receive()
        await h.submit("after")
        after = await h.expect(3)
    assert rejected.status is S.REJECTED
    assert rejected.reason.startswith("broker_unavailable")
    assert not down.connected
    assert up.connected
    assert after[-1].status is S.FILLED


async def test_restart_keeps_the_venue_and_the_market_subscription() -> None:
    clock = SimClock(start_ns=T0)
    bus = Bus(default_capacity=1024)
    ctx = make_ctx(bus, clock)
    h = Harness(bus, clock, ctx)
    async with anyio.create_task_group() as tg:
        await tg.start(clock.autojump)
        first = BrokerActor(ctx)
        async with anyio.create_task_group() as incarnation:
            await incarnation.start(first.run)
            await h.market(tick(100.0, ts=T0))
            await h.submit("before")
            await h.expect(3)
            incarnation.cancel_scope.cancel()
        # The actor is gone; market data published meanwhile waits in its subscription.
        await h.market(tick(50.0, ts=T0))
        second = BrokerActor(ctx)
        assert second.broker is first.broker
        assert second.market is first.market
        await tg.start(second.run)
        await h.submit("after")
        events = await h.expect(3)
        assert len(bus.topic(names.MARKET).subscriptions) == 1
        tg.cancel_scope.cancel()
    fill = events[1]
    assert isinstance(fill, Fill)
    assert fill.price == D(50)
    assert h.paper.books.qty("AAPL") == D(200)


async def test_restart_mid_batch_loses_no_event() -> None:
    clock = SimClock(start_ns=T0)
    bus = Bus(default_capacity=1024)
    bus.channel(names.ORCHESTRATOR_BROKER, capacity=1)  # the orchestrator falls behind
    ctx = make_ctx(bus, clock)
    h = Harness(bus, clock, ctx)
    async with anyio.create_task_group() as tg:
        await tg.start(clock.autojump)
        async with anyio.create_task_group() as incarnation:
            await incarnation.start(BrokerActor(ctx).run)
            await h.market(tick(100.0, ts=T0))
            await h.submit("o")
            # Accepted, fill, filled: the first fits, the forwarder waits on the second.
            with anyio.fail_after(FAIL_AFTER_S):
                await wait_all_tasks_blocked()
            assert h.inbox.depth() == 1
            incarnation.cancel_scope.cancel()
        await tg.start(BrokerActor(ctx).run)
        events = await h.expect(3)
        tg.cancel_scope.cancel()
    assert [type(e).__name__ for e in events] == ["OrderUpdate", "Fill", "OrderUpdate"]
    assert [getattr(e, "status", None) for e in events] == [S.ACCEPTED, None, S.FILLED]


async def test_bad_queries_and_orders_get_clear_answers() -> None:
    async with harness() as h:
        with pytest.raises(BrokerError, match="unknown broker query"):
            await h.bus.service(names.BROKER_QUERY).call("what is the time?")
        await h.market(tick(100.0, ts=T0))
        await h.commands.send(SubmitOrder(intent=intent("nan", qty="NaN")))
        await h.commands.send("not a command")
        await h.submit("still-works")
        nan, *rest = await h.expect(4)
    assert nan.status is S.REJECTED
    assert nan.reason == "invalid_quantity"
    assert rest[-1].client_order_id == "still-works"
    assert rest[-1].status is S.FILLED
