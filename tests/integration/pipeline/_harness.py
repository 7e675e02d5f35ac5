"""The trading pipeline assembled from the real actors on a real bus and a simulated clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio

from actors import broker, orchestrator, risk_gate, signal_guard
from actors.broker import PaperBroker
from actors.orchestrator import Orchestrator
from actors.risk_gate import RiskGate
from config import Settings
from daemon import names
from daemon.actor import Actor
from daemon.bus import Bus
from daemon.clock import SimClock
from daemon.messages import Signal, Tick
from daemon.safety import SafetyGate
from tests.pipeline_support import (
    EventLog,
    MemorySafety,
    data_path,
    read_bars,
    start_actors,
    with_settings,
)

SYMBOLS = ("AAPL", "GOOG", "SPY")


def last_close(symbol: str) -> float:
    """The last close of the real daily file (the price the tests trade at)."""
    return read_bars(symbol, 1)[0][4]


def pipeline_settings(**sections: dict[str, Any]) -> Settings:
    """Settings for the pipeline tests: known sources, real history, 40-share entries."""
    base = with_settings(
        Settings(),
        guard={"sources": ["alpha", "beta"], "cooldown_s": 0.0},
        sizing={"method": "fixed_shares", "fixed_shares": 40.0},
        risk={"history_files": {s: str(data_path(s)) for s in SYMBOLS}},
        orchestrator={
            "initial_regime": "bull",  # size multiplier 1: entries are exactly 40 shares
            "fills": {"ack_timeout_s": 2.0, "query_retry_s": 1.0},
        },
    )
    return with_settings(base, **sections) if sections else base


@dataclass
class Pipeline:
    """Handles on a running pipeline."""

    clock: SimClock
    bus: Bus
    safety: MemorySafety
    events: EventLog
    actors: dict[str, Actor]

    @property
    def orchestrator(self) -> Orchestrator:
        """The orchestrator actor."""
        actor = self.actors["orchestrator"]
        assert isinstance(actor, Orchestrator)
        return actor

    @property
    def risk_gate(self) -> RiskGate:
        """The risk gate actor."""
        actor = self.actors["risk_gate"]
        assert isinstance(actor, RiskGate)
        return actor

    async def send(self, sig: Signal) -> None:
        """Put a raw signal on the guard's inbound channel."""
        await self.bus.channel(names.SIGNALS_IN).send(sig)

    async def market(self, *items: Any) -> None:
        """Publish market data (the broker, risk gate and orchestrator see it)."""
        topic = self.bus.topic(names.MARKET)
        for item in items:
            await topic.publish(item)

    async def tick(self, symbol: str, price: float, size: float = 1_000_000.0) -> None:
        """Publish a trade print at the current simulated time."""
        await self.market(Tick(symbol=symbol, price=price, size=size, ts=self.clock.now_ns()))


@asynccontextmanager
async def running_pipeline(
    settings: Settings | None = None, safety: MemorySafety | None = None
) -> AsyncIterator[Pipeline]:
    """Start risk gate, orchestrator, broker and guard (in that order) under autojump."""
    settings = settings or pipeline_settings()
    clock = SimClock()
    bus = Bus()
    gate = safety or MemorySafety()
    resources: dict[type[Any], Any] = {SafetyGate: gate}
    log = EventLog(bus.topic(names.EVENTS).subscribe("test"))
    defs = [
        risk_gate.DEFINITION,
        orchestrator.DEFINITION,
        broker.DEFINITION,
        signal_guard.DEFINITION,
    ]
    async with anyio.create_task_group() as tg:
        await tg.start(clock.autojump)
        await tg.start(log.run)
        actors = await start_actors(tg, defs, settings, clock, bus, resources)
        assert isinstance(resources.get(PaperBroker), PaperBroker)
        try:
            yield Pipeline(clock, bus, gate, log, actors)
        finally:
            tg.cancel_scope.cancel()
