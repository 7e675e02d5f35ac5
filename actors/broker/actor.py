"""The broker actor: the daemon's only door to the venue.

* consumes ``SubmitOrder``/``CancelOrder`` from ``names.BROKER_COMMANDS`` and drives the
  :class:`~actors.broker.protocol.Broker`;
* forwards every ``OrderUpdate`` and ``Fill`` the venue reports to
  ``names.ORCHESTRATOR_BROKER`` (the orchestrator owns the books and publishes the
  records; this actor does not put order events on ``events``, so nothing is doubled);
* serves the broker queries on ``names.BROKER_QUERY`` (see :mod:`actors.broker.queries`);
* feeds market data from ``names.MARKET`` to a market-fed venue (the paper broker);
* publishes ``BrokerStatus`` on ``events`` when the connection comes or goes, and
  reconnects with backoff.

The broker object outlives restarts of this actor: it is kept in the runtime's shared
resources (``ctx.resources[PaperBroker]``), as a real venue outlives our connection to
it; so is the market subscription (its buffered updates are not lost).
"""

from __future__ import annotations

from collections import deque
from typing import Any, final

import anyio
from anyio.abc import TaskStatus

from actors.broker.paper import PaperBroker
from actors.broker.protocol import Broker, BrokerError, BrokerUnavailable, MarketFedBroker
from actors.broker.queries import GetAccount, GetOrder, GetPositions, ListOpenOrders
from daemon import names
from daemon.actor import Actor, ActorContext
from daemon.bus import Channel, Subscription, Topic
from daemon.messages import (
    Bar,
    BrokerStatus,
    CancelOrder,
    MarketBatch,
    OrderIntent,
    OrderStatus,
    OrderUpdate,
    SubmitOrder,
    Tick,
)

MARKET_SUBSCRIBER = "broker"
"""Name of the broker's subscription on the ``market`` topic."""

_RECONNECT_INITIAL_S = 0.5
_RECONNECT_MAX_S = 30.0


def broker_for(ctx: ActorContext) -> Broker:
    """The venue this daemon trades with: the one in the shared resources, else a new
    one built from ``[broker]`` and kept there (so a restarted actor finds it again)."""
    existing = ctx.maybe_resource(PaperBroker)
    if existing is not None:
        return existing
    settings = ctx.settings.broker
    if settings.kind == "paper":
        broker = PaperBroker(settings, ctx.clock)
        ctx.resources[PaperBroker] = broker
        return broker
    raise BrokerError(f"unknown broker kind {settings.kind!r}")  # pragma: no cover


@final
class Carry:
    """Work taken off a channel but not yet finished, kept across restarts of the actor
    (in the runtime's shared resources): commands not yet handled, events not yet
    forwarded. A restart cut short in the middle of a batch loses nothing."""

    __slots__ = ("commands", "events")

    def __init__(self) -> None:
        self.commands: deque[Any] = deque()
        self.events: deque[Any] = deque()


def carry_for(ctx: ActorContext) -> Carry:
    """The actor's :class:`Carry`, created on first use and kept in the resources."""
    carry = ctx.maybe_resource(Carry)
    if carry is None:
        carry = ctx.resources[Carry] = Carry()
    return carry


def market_subscription(topic: Topic[Any]) -> Subscription[Any]:
    """The broker's lossless subscription to market data (reused across restarts)."""
    wanted = f"{topic.name}->{MARKET_SUBSCRIBER}"
    for sub in topic.subscriptions:
        if sub.channel.name == wanted:
            return sub
    return topic.subscribe(MARKET_SUBSCRIBER, types=(Tick, Bar, MarketBatch), lossless=True)


@final
class BrokerActor(Actor):
    """Drives the broker from orchestrator commands; see the module docstring."""

    def __init__(self, ctx: ActorContext) -> None:
        super().__init__(ctx)
        self.broker = broker_for(ctx)
        self.carry = carry_for(ctx)
        bus = ctx.bus
        self.commands: Channel[Any] = bus.channel(names.BROKER_COMMANDS)
        self.out: Channel[Any] = bus.channel(names.ORCHESTRATOR_BROKER)
        self.events: Topic[Any] = bus.topic(names.EVENTS)
        self.queries = bus.service(names.BROKER_QUERY)
        self.market: Subscription[Any] | None = (
            market_subscription(bus.topic(names.MARKET))
            if isinstance(self.broker, MarketFedBroker)
            else None
        )
        self._busy = 0
        self._reconnect = anyio.Event()
        self._announced: bool | None = None

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Connect, serve commands, events, queries and market data until cancelled."""
        async with anyio.create_task_group() as tg:
            await tg.start(self.broker.run)
            await self._connect_once()
            tg.start_soon(self._connection)
            tg.start_soon(self._forward_events)
            tg.start_soon(self._serve_queries)
            if self.market is not None:
                tg.start_soon(self._feed_market, self.market)
            tg.start_soon(self._serve_commands)
            task_status.started()

    # -- loops ---------------------------------------------------------------------------

    async def _serve_commands(self) -> None:
        carry = self.carry.commands
        while True:
            if not carry:
                carry.extend(await self.commands.receive_batch())
            self._start(len(carry))
            try:
                while carry:
                    # Dropped from the carry only once handled: a restart cut short
                    # re-handles it, which is safe because submits are idempotent.
                    await self._command(carry[0])
                    carry.popleft()
            finally:
                self._done()

    async def _forward_events(self) -> None:
        carry = self.carry.events
        out = self.out
        while True:
            if not carry:
                carry.extend(await self.broker.next_events())
            self._start(len(carry))
            try:
                while carry:
                    await out.send(carry[0])
                    carry.popleft()
            finally:
                self._done()

    async def _serve_queries(self) -> None:
        while True:
            calls = await self.queries.next_calls()
            self._start()
            answered = 0
            try:
                for call in calls:
                    try:
                        call.reply(await self._answer(call.request))
                    except BrokerError as exc:
                        call.fail(exc)
                        if isinstance(exc, BrokerUnavailable):
                            await self._lost(str(exc))
                    except Exception as exc:
                        # A bug answering one query must not hang its caller or kill
                        # the broker: the caller gets the error, the log the trace.
                        self.log.error(
                            "broker query failed",
                            exc_info=exc,
                            extra={"event": "broker_query_failed", "query": repr(call.request)},
                        )
                        call.fail(BrokerError(f"broker query failed: {exc!r}"))
                    answered += 1
            finally:
                # Cancelled mid-batch (stop, restart): nobody may wait forever.
                for call in calls[answered:]:
                    call.fail(BrokerUnavailable("broker actor stopped before answering"))
                self._done()

    async def _feed_market(self, sub: Subscription[Any]) -> None:
        broker = self.broker
        assert isinstance(broker, MarketFedBroker)
        while True:
            batch = await self._next(sub)
            try:
                for item in batch:
                    await broker.on_market(item)
            finally:
                self._done()

    async def _connection(self) -> None:
        """Reconnect with exponential backoff whenever the session is lost."""
        delay = _RECONNECT_INITIAL_S
        while True:
            if self.broker.connected:
                await self._reconnect.wait()
                self._reconnect = anyio.Event()
                delay = _RECONNECT_INITIAL_S
                continue
            await self.clock.sleep(delay)
            if not await self._connect_once():
                delay = min(_RECONNECT_MAX_S, delay * 2)

    # -- work ----------------------------------------------------------------------------

    async def _command(self, cmd: object) -> None:
        match cmd:
            case SubmitOrder(intent=intent):
                await self._submit(intent)
            case CancelOrder(client_order_id=coid):
                try:
                    await self.broker.cancel(coid)
                except BrokerError as exc:
                    # The orchestrator retries cancels it still wants (kill switch, exits).
                    self._note_failure("cancel", coid, exc)
                    if isinstance(exc, BrokerUnavailable):
                        await self._lost(str(exc))
            case _:
                self.log.error(
                    "broker command of unknown type ignored",
                    extra={"event": "bad_command", "kind": type(cmd).__name__},
                )

    async def _submit(self, intent: OrderIntent) -> None:
        try:
            await self.broker.submit(intent)
        except BrokerUnavailable as exc:
            # Certainly not sent: the venue was not reachable. Say so as a rejection.
            self._note_failure("submit", intent.client_order_id, exc)
            await self._lost(str(exc))
            await self.out.send(
                _failed(intent, OrderStatus.REJECTED, f"broker_unavailable: {exc}", self._now())
            )
        except BrokerError as exc:
            # May or may not have arrived: unknown until the venue is asked.
            self._note_failure("submit", intent.client_order_id, exc)
            await self.out.send(
                _failed(intent, OrderStatus.UNKNOWN, f"broker_error: {exc}", self._now())
            )
        except Exception as exc:
            # A bug, not the venue: never let one order poison the command stream (it
            # would be re-handled after every restart). Unknown until the venue is asked.
            self.log.error(
                "broker submit raised",
                exc_info=exc,
                extra={"event": "broker_submit_crashed", "client_order_id": intent.client_order_id},
            )
            await self.out.send(
                _failed(intent, OrderStatus.UNKNOWN, f"broker_error: {exc!r}", self._now())
            )

    async def _answer(self, request: object) -> object:
        broker = self.broker
        match request:
            case GetOrder(client_order_id=coid):
                return await broker.get_order(coid)
            case ListOpenOrders():
                return await broker.open_orders()
            case GetPositions():
                return await broker.positions()
            case GetAccount():
                return await broker.account()
            case _:
                raise BrokerError(f"unknown broker query {type(request).__name__}")

    async def _connect_once(self) -> bool:
        try:
            await self.broker.connect()
        except BrokerError as exc:
            self.log.warning(
                "broker connect failed", extra={"event": "broker_connect_failed", "error": str(exc)}
            )
            await self._status(False, f"connect failed: {exc}")
            return False
        await self._status(True, "connected")
        return True

    def _note_failure(self, what: str, coid: str, exc: BrokerError) -> None:
        self.log.warning(
            f"broker {what} failed",
            extra={"event": f"broker_{what}_failed", "client_order_id": coid, "error": str(exc)},
        )

    async def _lost(self, detail: str) -> None:
        """The session is gone: say so once, and wake the reconnect loop."""
        if not self._reconnect.is_set():
            self._reconnect.set()
            await self._status(False, detail)

    def _now(self) -> int:
        return self.clock.now_ns()

    async def _status(self, connected: bool, detail: str) -> None:
        """Publish a BrokerStatus when the connection state changes (not on every retry)."""
        if self._announced is connected:
            return
        self._announced = connected
        await self.events.publish(
            BrokerStatus(
                broker=self.broker.name,
                connected=connected,
                detail=detail,
                ts=self.clock.now_ns(),
            )
        )

    # -- health: busy while any loop is working -----------------------------------------

    async def _next(self, source: Subscription[Any]) -> list[Any]:
        batch = await source.receive_batch()
        self._start(len(batch))
        return batch

    def _start(self, units: int = 1) -> None:
        if self._busy == 0:
            self.health.busy(units)
        else:
            self.health.processed += units
        self._busy += 1

    def _done(self) -> None:
        self._busy -= 1
        if self._busy == 0:
            self.health.idle()


def _failed(intent: OrderIntent, status: OrderStatus, reason: str, now: int) -> OrderUpdate:
    return OrderUpdate(
        client_order_id=intent.client_order_id,
        correlation_id=intent.correlation_id,
        symbol=intent.symbol,
        side=intent.side,
        status=status,
        qty=intent.qty,
        purpose=intent.purpose,
        reason=reason,
        ts=now,
    )
