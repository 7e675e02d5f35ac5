"""The optional actors feed the orchestrator: a live regime change adapts the entry bar and
sizes through the regime profile; published source statistics drive fusion weights and
Kelly sizing. Real actors (guard, orchestrator, risk gate, paper broker, regime,
feedback) on one bus, on the simulated clock, with real SPY and AAPL bars."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import anyio
import pytest

from actors import broker, feedback, orchestrator, regime, risk_gate, signal_guard
from actors.orchestrator import Orchestrator, correlation_id
from actors.regime import read_bars as read_history
from config import Settings
from daemon import names
from daemon.actor import Actor
from daemon.bus import Bus
from daemon.clock import SimClock
from daemon.messages import (
    Bar,
    FusionRecord,
    OrderIntent,
    Regime,
    RegimeUpdate,
    Signal,
    SignalVerdict,
    SourceWeights,
    Tick,
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
from tests.unit.feedback._trades import SETTINGS as FEEDBACK
from tests.unit.feedback._trades import trade

pytestmark = pytest.mark.skipif(not have_data(), reason="shared market data absent")

FAIL_AFTER_S = 30  # a guard against hangs, never part of an assertion
PX = read_bars("AAPL", 1)[0][4] if have_data() else 100.0


def settings(**sections: dict[str, Any]) -> Settings:
    base = with_settings(
        Settings(),
        actors={"enabled": ["regime", "feedback"]},
        guard={"sources": ["alpha", "A", "B", "C"], "cooldown_s": 0.0},
        sizing={"method": "fixed_shares", "fixed_shares": 40.0},
        risk={
            "history_files": {s: str(data_path(s)) for s in ("AAPL", "SPY")},
            "max_position_pct": 30.0,
            # This file tests the orchestrator's regime profile, not the gate's matrix.
            "regimes": {"crisis": {"allow_long": True}},
        },
        orchestrator={"initial_regime": "bull"},
        feedback={f: getattr(FEEDBACK, f) for f in FEEDBACK.__struct_fields__} | {"persist": False},
    )
    return with_settings(base, **sections) if sections else base


@dataclass
class Daemon:
    clock: SimClock
    bus: Bus
    events: EventLog
    actors: dict[str, Actor]

    @property
    def orchestrator(self) -> Orchestrator:
        actor = self.actors["orchestrator"]
        assert isinstance(actor, Orchestrator)
        return actor

    async def market(self, *items: Any) -> None:
        topic = self.bus.topic(names.MARKET)
        for item in items:
            await topic.publish(item)

    async def outcome(self, sig: Signal) -> SignalVerdict | OrderIntent:
        """Send ``sig``; its order intent, or the verdict that turned it down."""
        await self.bus.channel(names.SIGNALS_IN).send(sig)
        cid = correlation_id(sig.source, sig.signal_id)

        def end(x: object) -> bool:
            if isinstance(x, OrderIntent):
                return x.correlation_id == cid
            return (
                isinstance(x, SignalVerdict)
                and x.signal.signal_id == sig.signal_id
                and not x.accepted
            )

        await self.events.wait_for(lambda items: any(end(x) for x in items))
        found: SignalVerdict | OrderIntent = next(x for x in self.events.items if end(x))
        return found


@asynccontextmanager
async def running(cfg: Settings) -> AsyncIterator[Daemon]:
    clock = SimClock()
    bus = Bus()
    resources: dict[type[Any], Any] = {SafetyGate: MemorySafety()}
    log = EventLog(bus.topic(names.EVENTS).subscribe("test"))
    defs = [
        risk_gate.DEFINITION,
        orchestrator.DEFINITION,
        broker.DEFINITION,
        signal_guard.DEFINITION,
        regime.DEFINITION,
        feedback.DEFINITION,
    ]
    async with anyio.create_task_group() as tg:
        await tg.start(clock.autojump)
        await tg.start(log.run)
        actors = await start_actors(tg, defs, cfg, clock, bus, resources)
        d = Daemon(clock, bus, log, actors)
        # The paper broker and the orchestrator need a price for AAPL.
        await d.market(Tick(symbol="AAPL", price=PX, size=1e6, ts=clock.now_ns()))
        try:
            yield d
        finally:
            tg.cancel_scope.cancel()


def aapl(clock: SimClock, sid: str, **kw: Any) -> Signal:
    """A buy of AAPL at the last real close; the target differs by a few cents per id
    (the guard drops a repeat of the same content as a duplicate)."""
    base: dict[str, Any] = {
        "entry_price": PX,
        "stop_price": round(PX * 0.95, 2),
        "target_price": round(PX * 1.1 + 0.01 * (sum(map(ord, sid)) % 97), 2),
    }
    base.update(kw)
    return signal(clock, sid, **base)


def spy_bars_until(last_day_ts: int) -> list[Bar]:
    return [
        Bar(symbol="SPY", open=b.close, high=b.high, low=b.low, close=b.close, ts=b.ts)
        for b in read_history(data_path("SPY"))
        if b.ts <= last_day_ts
    ]


# 2008-10-31 ends at 2008-11-01T00:00Z (history bars are stamped at the end of their day).
END_OCT_2008 = 1_225_497_600 * 10**9


async def _into_the_crisis(d: Daemon) -> RegimeUpdate:
    await d.market(*spy_bars_until(END_OCT_2008))
    (crisis,) = await d.events.wait_kind(RegimeUpdate, where=lambda u: u.regime is Regime.CRISIS)
    return crisis


async def test_the_orchestrator_uses_the_regime_profile() -> None:
    with anyio.fail_after(FAIL_AFTER_S):
        async with running(settings()) as d:
            # Before any update: the configured initial regime (bull), full size.
            before = await d.outcome(aapl(d.clock, "before", conviction=70))
            crisis = await _into_the_crisis(d)
            # CRISIS profile: min conviction 80, size multiplier 0.25.
            weak = await d.outcome(aapl(d.clock, "weak", conviction=70))
            strong = await d.outcome(aapl(d.clock, "strong", conviction=90))
    assert crisis.previous is not None
    assert crisis.inputs["realized_vol"] >= 40.0
    assert isinstance(before, OrderIntent)
    assert before.qty == Decimal(40)
    assert isinstance(weak, SignalVerdict)
    assert (weak.accepted, weak.stage, weak.reason) == (False, "regime", "regime_conviction")
    assert "in crisis" in weak.detail
    assert isinstance(strong, OrderIntent)
    assert strong.qty == Decimal(10)  # 40 · 0.25
    regimes = {f.correlation_id: f.regime for f in d.events.of(FusionRecord)}
    assert regimes == {before.correlation_id: Regime.BULL, strong.correlation_id: Regime.CRISIS}


async def test_realised_volatility_reaches_the_sizer() -> None:
    cfg = settings(sizing={"volatility_input": "realized_vol"})
    with anyio.fail_after(FAIL_AFTER_S):
        async with running(cfg) as d:
            crisis = await _into_the_crisis(d)
            intent = await d.outcome(aapl(d.clock, "s1", conviction=90))
    s = cfg.sizing
    vol_mult = min(
        s.volatility_max_multiplier,
        max(s.volatility_min_multiplier, s.volatility_reference / crisis.inputs["realized_vol"]),
    )
    assert isinstance(intent, OrderIntent)
    assert intent.qty == Decimal(math.floor(40 * 0.25 * vol_mult + 1e-9))
    assert intent.qty < Decimal(10)


async def test_source_statistics_drive_fusion_weights_and_kelly_sizing() -> None:
    cfg = settings(sizing={"method": "half_kelly", "kelly_cap": 0.25})
    with anyio.fail_after(FAIL_AFTER_S):
        async with running(cfg) as d:
            # Without statistics a Kelly method cannot size.
            c0 = await d.outcome(aapl(d.clock, "c0", source="C"))
            events = d.bus.topic(names.EVENTS)
            for i in range(1, 10):
                await events.publish(trade(i))
            (weights,) = await d.events.wait_kind(SourceWeights)
            b1 = await d.outcome(aapl(d.clock, "b1", source="B"))
            equity = d.orchestrator.execution.equity()
            c1 = await d.outcome(aapl(d.clock, "c1", source="C"))
            fusion = d.orchestrator.pipeline.fusion
            fused = {s: fusion.weight(s) for s in ("A", "B", "C", "alpha")}
    assert isinstance(c0, SignalVerdict)
    assert (c0.accepted, c0.reason) == (False, "size_kelly_no_stats")
    assert weights.weights == pytest.approx({"A": 2.0, "B": 0.2, "C": 0.6})
    assert fused == pytest.approx({"A": 2.0, "B": 0.2, "C": 0.6, "alpha": 1.0})
    # B: W = 1/3, R = 0.8 → f = 1/3 − (2/3)/0.8 < 0: no edge, no order.
    assert isinstance(b1, SignalVerdict)
    assert (b1.accepted, b1.reason) == (False, "size_kelly_no_edge")
    # C: W = 2/3, R = 2 → f = 2/3 − (1/3)/2 = 0.5; half Kelly 0.25 (= the cap).
    assert isinstance(c1, OrderIntent)
    assert c1.qty == Decimal(math.floor(equity * 0.25 / PX + 1e-9))
