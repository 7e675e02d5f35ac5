"""End to end on the simulated clock: a position opened by a signal is closed by the
lifecycle monitor — exit intent → orchestrator (no entry checks) → paper broker → fills →
books — with the realized P&L the fills imply, through the real actors on a real bus."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import anyio
import pytest

from actors import broker, lifecycle, orchestrator, risk_gate, signal_guard
from actors.lifecycle import LifecycleMonitor
from config import Settings
from daemon import names
from daemon.actor import Actor
from daemon.bus import Bus
from daemon.clock import SimClock
from daemon.messages import (
    ExitIntent,
    ExitReason,
    Fill,
    FlattenAll,
    OrderPurpose,
    PositionUpdate,
    RiskRequest,
    Side,
    Tick,
    TradeClosed,
)
from daemon.safety import SafetyGate
from tests.pipeline_support import (
    EventLog,
    MemorySafety,
    data_path,
    have_data,
    read_bars,
    signal,
    start_actors,
    with_settings,
)

pytestmark = pytest.mark.skipif(not have_data(), reason="shared market data absent")

SYMBOLS = ("AAPL", "GOOG", "SPY")
PX = read_bars("AAPL", 1)[0][4] if have_data() else 100.0
QTY = Decimal(40)


def settings() -> Settings:
    """Known sources, real history for the risk gate, 40-share entries, quiet defaults."""
    return with_settings(
        Settings(),
        guard={"sources": ["alpha"], "cooldown_s": 0.0},
        sizing={"method": "fixed_shares", "fixed_shares": 40.0},
        risk={"history_files": {s: str(data_path(s)) for s in SYMBOLS}},
        orchestrator={"initial_regime": "bull"},
    )


@asynccontextmanager
async def pipeline() -> AsyncIterator[tuple[SimClock, Bus, EventLog, dict[str, Actor]]]:
    clock = SimClock()
    bus = Bus()
    log = EventLog(bus.topic(names.EVENTS).subscribe("test"))
    defs = [
        risk_gate.DEFINITION,
        orchestrator.DEFINITION,
        broker.DEFINITION,
        signal_guard.DEFINITION,
        lifecycle.DEFINITION,
    ]
    resources: dict[type[Any], Any] = {SafetyGate: MemorySafety()}
    async with anyio.create_task_group() as tg:
        await tg.start(clock.autojump)
        await tg.start(log.run)
        actors = await start_actors(tg, defs, settings(), clock, bus, resources)
        try:
            yield clock, bus, log, actors
        finally:
            tg.cancel_scope.cancel()


async def tick(bus: Bus, clock: SimClock, price: float) -> None:
    await bus.topic(names.MARKET).publish(
        Tick(symbol="AAPL", price=price, size=1_000_000.0, ts=clock.now_ns())
    )


def vwap(fills: list[Fill]) -> tuple[Decimal, Decimal]:
    qty = sum((f.qty for f in fills), Decimal(0))
    return qty, sum((f.qty * f.price for f in fills), Decimal(0))


async def open_long(clock: SimClock, bus: Bus, log: EventLog) -> None:
    await tick(bus, clock, PX)
    sig = signal(
        clock,
        "e2e-1",
        entry_price=PX,
        stop_price=round(PX * 0.95, 2),
        target_price=round(PX * 1.10, 2),
    )
    await bus.channel(names.SIGNALS_IN).send(sig)
    await log.wait_kind(PositionUpdate, where=lambda u: u.position.qty == QTY)


async def test_stop_loss_exit_closes_the_position_with_the_right_pnl() -> None:
    with anyio.fail_after(30):
        async with pipeline() as (clock, bus, log, actors):
            await open_long(clock, bus, log)
            monitor = actors["lifecycle"]
            assert isinstance(monitor, LifecycleMonitor)
            risk_calls = len(log.of(RiskRequest))
            await tick(bus, clock, round(PX * 0.94, 2))  # through the 5% stop
            (closed,) = await log.wait_kind(TradeClosed)
            await log.wait_kind(PositionUpdate, where=lambda u: u.position.qty == 0)
            with anyio.fail_after(5):
                while monitor.book.row("AAPL") is not None:
                    await anyio.lowlevel.checkpoint()
    (x,) = log.of(ExitIntent)
    assert (x.reason, x.side, x.qty) == (ExitReason.STOP_LOSS, Side.SELL, None)
    assert x.trigger_price == round(PX * 0.94, 2)
    # The exit went out without entry risk checks.
    assert len(log.of(RiskRequest)) == risk_calls
    entries = [f for f in log.of(Fill) if f.purpose is OrderPurpose.ENTRY]
    exits = [f for f in log.of(Fill) if f.purpose is OrderPurpose.EXIT]
    q_in, cost = vwap(entries)
    q_out, proceeds = vwap(exits)
    assert q_in == q_out == QTY
    fees = sum((f.commission for f in entries + exits), Decimal(0))
    assert closed.exit_reason == "stop_loss"
    assert closed.qty == QTY
    assert closed.fees == fees
    assert closed.pnl == proceeds - cost - fees
    assert closed.pnl < 0  # stopped out below the entry


async def test_emergency_flatten_goes_through_the_same_path() -> None:
    with anyio.fail_after(30):
        async with pipeline() as (clock, bus, log, _actors):
            await open_long(clock, bus, log)
            await tick(bus, clock, PX * 1.01)
            await bus.channel(names.LIFECYCLE_CONTROL).send(
                FlattenAll(reason="kill switch: test", ts=clock.now_ns())
            )
            (closed,) = await log.wait_kind(TradeClosed)
    (x,) = log.of(ExitIntent)
    assert x.reason is ExitReason.EMERGENCY
    flat = [f for f in log.of(Fill) if f.purpose is OrderPurpose.FLATTEN]
    assert sum((f.qty for f in flat), Decimal(0)) == QTY
    assert closed.exit_reason == "emergency"
