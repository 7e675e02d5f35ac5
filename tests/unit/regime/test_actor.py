"""The regime actor on the bus: real SPY bars in on ``market``, RegimeUpdate out on ``events``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from actors.regime import DEFINITION, HistoryBar, RegimeActor, RegimeDetector, read_bars
from config.settings import Settings
from daemon import names
from daemon.bus import Bus
from daemon.clock import SimClock
from daemon.messages import Bar, MarketBatch, Regime, RegimeUpdate, Tick
from daemon.registry import select
from tests.pipeline_support import EventLog, context, data_path, with_settings

SPY = data_path("SPY")
pytestmark = pytest.mark.skipif(not SPY.is_file(), reason=f"real data missing: {SPY}")
FAIL_AFTER_S = 30  # a guard against hangs, never part of an assertion


def bar(b: HistoryBar, symbol: str = "SPY", **kw: Any) -> Bar:
    fields: dict[str, Any] = {
        "symbol": symbol,
        "open": b.close,
        "high": b.high,
        "low": b.low,
        "close": b.close,
        "ts": b.ts,
    }
    fields.update(kw)
    return Bar(**fields)


class Harness:
    def __init__(self, bus: Bus, clock: SimClock, log: EventLog, actor: RegimeActor) -> None:
        self.bus = bus
        self.clock = clock
        self.log = log
        self.actor = actor
        self.sent = 0

    async def feed(self, *items: Any, batch: bool = False) -> None:
        """Publish market data (the clock following the bars' times) and let the actor
        take all of it."""
        market = self.bus.topic(names.MARKET)
        if batch:
            self.clock.advance_to(max(self.clock.now_ns(), items[-1].ts))
            await market.publish(MarketBatch(items=items, ts=self.clock.now_ns()))
            self.sent += 1
        else:
            for item in items:
                self.clock.advance_to(max(self.clock.now_ns(), item.ts))
                await market.publish(item)
                self.sent += 1
                await self.settle()
        await self.settle()

    async def settle(self) -> None:
        """Return once the actor has taken every published item and waits again."""
        health = self.actor.health
        with anyio.fail_after(FAIL_AFTER_S):
            while health.processed < self.sent or health.busy_since_ns is not None:
                await anyio.lowlevel.checkpoint()

    def updates(self) -> list[RegimeUpdate]:
        return self.log.of(RegimeUpdate)


@asynccontextmanager
async def harness(**regime: Any) -> AsyncIterator[Harness]:
    settings = with_settings(Settings(), regime=regime, actors={"enabled": ["regime"]})
    clock = SimClock(start_ns=0)
    bus = Bus(default_capacity=4096)
    log = EventLog(bus.topic(names.EVENTS).subscribe("test", types=(RegimeUpdate,)))
    actor = RegimeActor(context("regime", settings, clock, bus))
    async with anyio.create_task_group() as tg:
        await tg.start(log.run)
        with anyio.fail_after(FAIL_AFTER_S):
            await tg.start(actor.run)
        try:
            yield Harness(bus, clock, log, actor)
        finally:
            tg.cancel_scope.cancel()


def offline(bars: list[HistoryBar], settings: Settings | None = None) -> list[Any]:
    det = RegimeDetector((settings or Settings()).regime)
    return [c for b in bars if (c := det.on_bar(b.ts, b.high, b.low, b.close)) is not None]


async def test_optional_and_off_by_default() -> None:
    assert not DEFINITION.core
    assert DEFINITION not in select([DEFINITION], Settings())
    on = with_settings(Settings(), actors={"enabled": ["regime"]})
    assert select([DEFINITION], on) == [DEFINITION]


async def test_live_bars_publish_every_change_with_its_inputs() -> None:
    bars = read_bars(SPY)[:520]  # 2008 and 2009
    expected = offline(bars)
    assert len(expected) >= 5
    async with harness() as h:
        await h.feed(*(bar(b) for b in bars[:300]))
        await h.feed(*(bar(b) for b in bars[300:]), batch=True)
        with anyio.fail_after(FAIL_AFTER_S):
            got = await h.log.wait_kind(RegimeUpdate, len(expected))
    assert [(u.regime, u.previous, u.inputs, u.reason) for u in got] == [
        (c.regime, c.previous, c.inputs, c.reason) for c in expected
    ]
    assert got[0].previous is None
    crisis = next(u for u in got if u.regime is Regime.CRISIS)
    assert crisis.inputs["realized_vol"] >= 40.0
    assert set(crisis.inputs) >= {"ema_slope_pct", "adx", "realized_vol", "drawdown_pct"}
    # Events are stamped by the clock, which followed the bars one by one, then jumped
    # to the end of the batch.
    batch_start = bars[300].ts
    for u, c in zip(got, expected, strict=True):
        assert u.ts == (c.bar_ts if c.bar_ts < batch_start else bars[-1].ts)


async def test_preload_warms_up_and_announces_the_regime_in_force() -> None:
    bars = read_bars(SPY)
    async with harness(history_files={"SPY": str(SPY)}) as h:
        with anyio.fail_after(FAIL_AFTER_S):
            (first,) = await h.log.wait_kind(RegimeUpdate)
        assert first.regime is Regime.BULL  # December 2017
        assert first.previous is None
        assert first.reason.startswith("preloaded history: ")
        assert first.inputs["close"] == bars[-1].close
        assert h.actor.detector.bars == len(bars)
        # A live bar of the last preloaded session is not applied a second time.
        await h.feed(bar(bars[-1], ts=bars[-1].ts - 3 * 3600 * 10**9))
        assert h.actor.detector.bars == len(bars)


async def test_volatility_index_ticks_drive_a_crisis() -> None:
    bars = [b for b in read_bars(SPY) if 1356998400 * 10**9 < b.ts < 1388534400 * 10**9]  # 2013
    async with harness(volatility_symbol="VIX") as h:
        await h.feed(*(bar(b) for b in bars[:150]))
        before = h.updates()
        assert before
        assert before[-1].regime is Regime.BULL
        await h.feed(Tick(symbol="VIX", price=41.5, ts=bars[150].ts - 1))
        await h.feed(bar(bars[150]), bar(bars[151]))
        with anyio.fail_after(FAIL_AFTER_S):
            updates = await h.log.wait_kind(RegimeUpdate, len(before) + 1)
        crisis = updates[-1]
        assert crisis.regime is Regime.CRISIS
        assert crisis.previous is Regime.BULL
        assert crisis.inputs["vix"] == 41.5
        assert crisis.reason == "vix 41.5 >= 35.0"


async def test_bad_market_data_is_recorded_not_fatal() -> None:
    bars = read_bars(SPY)[:120]
    async with harness(volatility_symbol="VIX") as h:
        await h.feed(*(bar(b) for b in bars[:100]))
        good = h.actor.bars_applied
        await h.feed(
            bar(bars[100], close=bars[100].high * 2),  # close above the high
            bar(bars[100], high=float("nan")),
            Tick(symbol="VIX", price=-3.0, ts=bars[100].ts),
            bar(bars[100], interval_s=60),  # another interval: not ours, not an error
            bar(bars[100], symbol="QQQ"),  # another symbol: ignored
        )
        assert h.actor.bad_data == 3
        assert h.actor.bars_applied == good
        await h.feed(*(bar(b) for b in bars[100:]))
        assert h.actor.bars_applied == good + 20
    assert [u.regime for u in h.updates()] == [c.regime for c in offline(bars)]


async def test_a_restarted_actor_takes_over_the_subscription() -> None:
    settings = with_settings(Settings(), actors={"enabled": ["regime"]})
    bus = Bus(default_capacity=64)
    clock = SimClock(start_ns=0)
    first = RegimeActor(context("regime", settings, clock, bus))
    second = RegimeActor(context("regime", settings, clock, bus))
    assert first.market is second.market
    assert len(bus.topic(names.MARKET).subscriptions) == 1


async def test_reload_keeps_indicators_unless_their_settings_change() -> None:
    bars = read_bars(SPY)[:120]
    async with harness() as h:
        await h.feed(*(bar(b) for b in bars))
        det = h.actor.detector
        await h.actor.on_reload(with_settings(Settings(), regime={"crisis_vol": 90.0}))
        assert h.actor.detector is det
        assert det.bars == 120
        assert h.actor.cfg.crisis_vol == 90.0
        await h.actor.on_reload(with_settings(Settings(), regime={"ema_period": 30}))
        assert h.actor.detector is not det
        assert h.actor.detector.bars == 0  # no history files: warms up again on live bars
