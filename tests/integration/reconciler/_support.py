"""The reconciler with the real actors it talks to, on a real bus and a simulated clock.

Risk gate, orchestrator, paper broker, lifecycle monitor, safety actor (over a real
state file), reconciler and signal guard are started in the daemon's order. The paper
broker is created here and put in the resources, so tests hold its ``backdoor``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import msgspec

from actors import broker, lifecycle, orchestrator, reconciler, risk_gate, safety, signal_guard
from actors.broker import PaperBroker
from actors.lifecycle import LifecycleMonitor
from actors.orchestrator import Orchestrator
from actors.reconciler import Reconciler, ReconcilerClient
from config import Settings
from daemon import names
from daemon.actor import Actor
from daemon.bus import Bus
from daemon.clock import SimClock
from daemon.messages import PositionUpdate, ReconciliationReport, Signal, Tick
from daemon.safety import SafetyGate, SafetyStore
from tests.pipeline_support import EventLog, data_path, read_bars, start_actors, with_settings

SYMBOLS = ("AAPL", "GOOG", "SPY")
QTY = Decimal(40)


def last_close(symbol: str) -> float:
    """The last close of the real daily file (the price the tests trade at)."""
    return read_bars(symbol, 1)[0][4]


def recon_settings(state_dir: Path, **sections: dict[str, Any]) -> Settings:
    """Known sources, real history, 40-share entries; no periodic runs, no confirmation
    delay unless a test asks (runs are triggered by the tests)."""
    base = with_settings(
        Settings(),
        daemon={"state_dir": str(state_dir)},
        safety={"create_state_dir": True},
        guard={"sources": ["alpha"], "cooldown_s": 0.0},
        sizing={"method": "fixed_shares", "fixed_shares": 40.0},
        risk={"history_files": {s: str(data_path(s)) for s in SYMBOLS}},
        orchestrator={"initial_regime": "bull"},
        reconciler={"interval_s": 0.0, "confirm_delay_s": 0.0},
        lifecycle={"adopt_on_start": False},
    )
    return with_settings(base, **sections) if sections else base


@dataclass
class System:
    """Handles on the running actors."""

    clock: SimClock
    bus: Bus
    events: EventLog
    paper: PaperBroker
    store: SafetyStore
    actors: dict[str, Actor]

    @property
    def orchestrator(self) -> Orchestrator:
        """The orchestrator actor."""
        actor = self.actors["orchestrator"]
        assert isinstance(actor, Orchestrator)
        return actor

    @property
    def reconciler(self) -> Reconciler:
        """The reconciler actor."""
        actor = self.actors["reconciler"]
        assert isinstance(actor, Reconciler)
        return actor

    @property
    def lifecycle(self) -> LifecycleMonitor:
        """The lifecycle monitor actor."""
        actor = self.actors["lifecycle"]
        assert isinstance(actor, LifecycleMonitor)
        return actor

    def held(self, symbol: str) -> Decimal:
        """Our books' quantity in ``symbol``."""
        return self.orchestrator.execution.books.qty(symbol)

    async def tick(self, symbol: str, price: float) -> None:
        """Publish a trade print at the current simulated time."""
        await self.bus.topic(names.MARKET).publish(
            Tick(symbol=symbol, price=price, size=1_000_000.0, ts=self.clock.now_ns())
        )

    async def open_long(self, symbol: str, sid: str, **kw: Any) -> None:
        """Buy 40 ``symbol`` through the pipeline and wait for the position."""
        px = last_close(symbol)
        await self.tick(symbol, px)
        await self.signal(symbol, sid, px, **kw)
        await self.events.wait_kind(
            PositionUpdate, where=lambda u: u.position.symbol == symbol and u.position.qty == QTY
        )

    async def signal(self, symbol: str, sid: str, px: float, **kw: Any) -> None:
        """Send a buy signal for ``symbol`` at ``px`` (5% stop, 10% target)."""
        base: dict[str, Any] = {
            "signal_id": sid,
            "source": "alpha",
            "symbol": symbol,
            "side": "buy",
            "trade_type": "swing",
            "conviction": 70,
            "entry_price": px,
            "stop_price": round(px * 0.95, 2),
            "target_price": round(px * 1.10, 2),
            "created_ns": self.clock.now_ns(),
        }
        base.update(kw)
        await self.bus.channel(names.SIGNALS_IN).send(msgspec.convert(base, Signal))

    async def reconcile(self) -> ReconciliationReport:
        """Run a reconciliation now through the reconciler service."""
        return await ReconcilerClient(self.bus).run("test")


@asynccontextmanager
async def running(
    settings: Settings, extra: dict[type[Any], Any] | None = None
) -> AsyncIterator[System]:
    """Start the actors in the daemon's order under autojump; cancel them on exit."""
    clock = SimClock()
    bus = Bus()
    log = EventLog(bus.topic(names.EVENTS).subscribe("test"))
    store = await SafetyStore.open(settings, clock=clock, bus=bus)
    venue = PaperBroker(settings.broker, clock)
    resources: dict[type[Any], Any] = {SafetyStore: store, SafetyGate: store, PaperBroker: venue}
    resources.update(extra or {})
    defs = [
        risk_gate.DEFINITION,
        orchestrator.DEFINITION,
        broker.DEFINITION,
        lifecycle.DEFINITION,
        safety.DEFINITION,
        reconciler.DEFINITION,
        signal_guard.DEFINITION,
    ]
    try:
        async with anyio.create_task_group() as tg:
            await tg.start(clock.autojump)
            await tg.start(log.run)
            actors = await start_actors(tg, defs, settings, clock, bus, resources)
            try:
                yield System(clock, bus, log, venue, store, actors)
            finally:
                tg.cancel_scope.cancel()
    finally:
        store.close()
