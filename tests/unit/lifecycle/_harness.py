"""A lifecycle monitor on a real bus and a simulated clock, driven like the daemon drives it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anyio
from anyio import wait_all_tasks_blocked

from actors.lifecycle import LifecycleMonitor
from config.settings import Settings
from daemon import names
from daemon.bus import Bus
from daemon.clock import NS_PER_S, SimClock
from daemon.messages import (
    Alert,
    Bar,
    ExitIntent,
    PositionSnapshot,
    PositionUpdate,
    Side,
    Signal,
    SignalVerdict,
    Tick,
    TradeType,
)
from tests.pipeline_support import context, with_settings

QUIET: dict[str, Any] = {
    # Each test turns on the rule it is about; everything else stays out of the way.
    "adopt_on_start": False,
    "intraday": {"stop_loss_pct": 0.0, "profit_target_pct": 0.0, "volatility_stop_atr": 0.0},
    "swing": {"stop_loss_pct": 0.0, "profit_target_pct": 0.0},
}


def lifecycle_settings(**lifecycle: Any) -> Settings:
    """Default settings with ``QUIET`` exit rules overridden by ``lifecycle``."""
    merged: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in QUIET.items()}
    for k, v in lifecycle.items():
        if isinstance(v, dict) and isinstance(merged.get(k), dict):
            merged[k].update(v)
        else:
            merged[k] = v
    return with_settings(Settings(), lifecycle=merged)


class Harness:
    """Publishes positions, signals and prices; collects exits and alerts."""

    def __init__(self, settings: Settings, clock: SimClock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SimClock()
        self.bus = Bus(default_capacity=4096)
        self.events = self.bus.topic(names.EVENTS)
        self.market = self.bus.topic(names.MARKET)
        self.exits_channel = self.bus.channel(names.ORCHESTRATOR_EXITS)
        self.alert_sub = self.events.subscribe("test-alerts", types=(Alert,))
        self.actor = LifecycleMonitor(context("lifecycle", settings, self.clock, self.bus))
        self.received: list[ExitIntent] = []
        self.alerts: list[Alert] = []
        self.published = {"market": 0, "events": 0, "control": 0}

    async def start(self, tg: anyio.abc.TaskGroup) -> None:
        await tg.start(self.actor.run)

    async def settle(self) -> None:
        """Wait until the actor has handled everything published to it.

        Synchronises on the actor's own counters (checkpoint by checkpoint, no timing);
        the real-time guard only turns a hang into a failure.
        """
        with anyio.fail_after(30):
            while any(self.actor.handled[k] < n for k, n in self.published.items()):
                await anyio.lowlevel.checkpoint()

    async def run_until(self, t_ns: int) -> None:
        """Move the clock to ``t_ns`` timer by timer and let the actor act on each."""
        await self.clock.run_until(t_ns)
        await wait_all_tasks_blocked()

    async def control(self, msg: Any) -> None:
        await self.bus.channel(names.LIFECYCLE_CONTROL).send(msg)
        self.published["control"] += 1
        await self.settle()

    def exits(self) -> list[ExitIntent]:
        """Exit intents sent since the last call (drains the channel)."""
        out: list[ExitIntent] = []
        while self.exits_channel.depth():
            out.append(self.exits_channel.receive_nowait())
        self.received.extend(out)
        while self.alert_sub.channel.depth():
            self.alerts.append(self.alert_sub.channel.receive_nowait())
        return out

    async def position(
        self,
        symbol: str,
        qty: str | int,
        avg: float,
        *,
        stop: float | None = None,
        target: float | None = None,
        trade_type: TradeType = TradeType.SWING,
        source: str = "alpha",
        opened_ns: int | None = None,
        correlation_id: str = "",
        wait: bool = True,
    ) -> None:
        q = Decimal(qty)
        snap = PositionSnapshot(
            symbol=symbol,
            qty=q,
            avg_price=Decimal(repr(avg)),
            opened_ns=self.clock.now_ns() if opened_ns is None else opened_ns,
            correlation_id=correlation_id or f"c-{symbol}",
            source=source,
            trade_type=trade_type,
            stop_price=stop,
            target_price=target,
        )
        await self.events.publish(PositionUpdate(position=snap, ts=self.clock.now_ns()))
        self.published["events"] += 1
        if wait:
            await self.settle()

    async def close(self, symbol: str) -> None:
        snap = PositionSnapshot(symbol=symbol, qty=Decimal(0), avg_price=Decimal(0))
        await self.events.publish(PositionUpdate(position=snap, ts=self.clock.now_ns()))
        self.published["events"] += 1
        await self.settle()

    async def tick(self, symbol: str, *prices: float) -> None:
        for p in prices:
            await self.publish_market(Tick(symbol=symbol, price=p, ts=self.clock.now_ns()))

    async def bar(
        self,
        symbol: str,
        close: float,
        *,
        high: float | None = None,
        low: float | None = None,
        interval_s: int = 60,
        advance: bool = True,
    ) -> None:
        """A bar ending now (after moving the clock on by its interval when ``advance``)."""
        if advance:
            await self.run_until(self.clock.now_ns() + interval_s * NS_PER_S)
        h = close if high is None else high
        lo = close if low is None else low
        await self.publish_market(
            Bar(
                symbol=symbol,
                open=close,
                high=h,
                low=lo,
                close=close,
                interval_s=interval_s,
                ts=self.clock.now_ns(),
            )
        )

    async def publish_market(self, msg: Any) -> None:
        await self.market.publish(msg)
        self.published["market"] += 1
        await self.settle()

    async def signal(
        self, symbol: str, side: Side, *, source: str = "alpha", is_exit: bool = False
    ) -> None:
        sig = Signal(
            signal_id=f"sig-{len(self.received)}-{self.clock.now_ns()}",
            source=source,
            symbol=symbol,
            side=side,
            created_ns=self.clock.now_ns(),
            is_exit=is_exit,
        )
        await self.events.publish(SignalVerdict(signal=sig, accepted=True, ts=self.clock.now_ns()))
        self.published["events"] += 1
        await self.settle()
