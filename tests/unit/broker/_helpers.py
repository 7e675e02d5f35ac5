"""Helpers for the broker tests: settings, intents, market data, event draining."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import anyio

from actors.broker import PaperBroker
from actors.broker.protocol import OrderEvent
from config.sections.broker import (
    BrokerSettings,
    PaperBrokerSettings,
    PaperFaultSettings,
    PaperSessionSettings,
)
from daemon.clock import NS_PER_S, SimClock
from daemon.messages import (
    Bar,
    Fill,
    OrderIntent,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Side,
    Tick,
    TimeInForce,
)

D = Decimal
MS = NS_PER_S // 1000
# Tuesday 2023-11-14 15:00 UTC = 10:00 in New York: inside the regular session.
T0 = 1_699_974_000 * NS_PER_S

QUIET: dict[str, Any] = {
    "ack_latency_ms": 0.0,
    "fill_latency_ms": 0.0,
    "slippage_bps": 0.0,
    "slippage_noise_bps": 0.0,
    "commission_per_share": 0.0,
    "commission_min": 0.0,
    "max_participation_pct": 100.0,
}
"""A frictionless venue: tests switch on one effect at a time."""


def settings(
    *,
    cash: float = 100_000.0,
    seed: int = 7,
    faults: PaperFaultSettings | None = None,
    session: PaperSessionSettings | None = None,
    **paper: Any,
) -> BrokerSettings:
    """Broker settings: the frictionless venue with ``paper`` overrides."""
    cfg = {**QUIET, **paper}
    if faults is not None:
        cfg["faults"] = faults
    if session is not None:
        cfg["session"] = session
    return BrokerSettings(initial_cash=cash, seed=seed, paper=PaperBrokerSettings(**cfg))


def intent(
    coid: str,
    side: Side = Side.BUY,
    qty: str = "100",
    *,
    symbol: str = "AAPL",
    order_type: OrderType = OrderType.MARKET,
    limit: str | None = None,
    stop: str | None = None,
    tif: TimeInForce = TimeInForce.DAY,
    ts: int = T0,
) -> OrderIntent:
    return OrderIntent(
        client_order_id=coid,
        correlation_id=f"corr-{coid}",
        symbol=symbol,
        side=side,
        qty=D(qty),
        order_type=order_type,
        limit_price=None if limit is None else D(limit),
        stop_price=None if stop is None else D(stop),
        tif=tif,
        ts=ts,
    )


def tick(price: float, *, symbol: str = "AAPL", size: float = 0.0, ts: int = T0, **kw: Any) -> Tick:
    return Tick(symbol=symbol, price=price, size=size, ts=ts, **kw)


def bar(
    o: float, h: float, low: float, c: float, *, volume: float = 0.0, symbol: str = "AAPL"
) -> Bar:
    return Bar(symbol=symbol, open=o, high=h, low=low, close=c, volume=volume, interval_s=60, ts=T0)


def drain(broker: PaperBroker) -> list[OrderEvent]:
    """Every event delivered so far."""
    try:
        return broker.next_events_nowait()
    except anyio.WouldBlock:
        return []


def updates(events: list[OrderEvent]) -> list[OrderUpdate]:
    return [e for e in events if isinstance(e, OrderUpdate)]


def fills(events: list[OrderEvent]) -> list[Fill]:
    return [e for e in events if isinstance(e, Fill)]


def statuses(events: list[OrderEvent]) -> list[OrderStatus]:
    return [e.status for e in updates(events)]


@asynccontextmanager
async def running(broker: PaperBroker) -> AsyncIterator[PaperBroker]:
    """The broker with its timers running and its session open."""
    async with anyio.create_task_group() as tg:
        await tg.start(broker.run)
        await broker.connect()
        try:
            yield broker
        finally:
            tg.cancel_scope.cancel()


def paper(clock: SimClock, **kw: Any) -> PaperBroker:
    return PaperBroker(settings(**kw), clock)
