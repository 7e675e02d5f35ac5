"""Each exit rule firing on its own, through the actor, on a crafted price path."""

from __future__ import annotations

from decimal import Decimal

import anyio
import pytest

from daemon.clock import NS_PER_S
from daemon.messages import ExitReason, Side, TradeType
from tests.unit.lifecycle._harness import Harness, lifecycle_settings


async def test_stop_loss() -> None:
    h = Harness(lifecycle_settings())
    async with anyio.create_task_group() as tg:
        await h.start(tg)
        await h.position("AAPL", 100, 100.0, stop=95.0, target=110.0)
        await h.tick("AAPL", 99.0, 97.0, 95.01)
        assert h.exits() == []
        await h.tick("AAPL", 94.9)
        (x,) = h.exits()
        assert x.reason is ExitReason.STOP_LOSS
        assert x.side is Side.SELL
        assert x.qty is None
        assert x.trigger_price == 94.9  # the tick gapped through the level
        assert x.correlation_id == "c-AAPL"
        tg.cancel_scope.cancel()


async def test_profit_target_short() -> None:
    h = Harness(lifecycle_settings())
    async with anyio.create_task_group() as tg:
        await h.start(tg)
        await h.position("AAPL", -50, 100.0, stop=105.0, target=90.0)
        await h.tick("AAPL", 95.0, 90.01)
        assert h.exits() == []
        await h.tick("AAPL", 90.0)
        (x,) = h.exits()
        assert (x.reason, x.side, x.trigger_price) == (ExitReason.PROFIT_TARGET, Side.BUY, 90.0)
        tg.cancel_scope.cancel()


async def test_default_stop_from_config_per_trade_type() -> None:
    h = Harness(lifecycle_settings(swing={"stop_loss_pct": 5.0}, intraday={"stop_loss_pct": 1.0}))
    async with anyio.create_task_group() as tg:
        await h.start(tg)
        await h.position("SWNG", 10, 100.0)
        await h.position("INTR", 10, 100.0, trade_type=TradeType.INTRADAY)
        await h.tick("SWNG", 98.0)
        await h.tick("INTR", 98.0)
        (x,) = h.exits()
        assert (x.symbol, x.reason) == ("INTR", ExitReason.STOP_LOSS)
        await h.tick("SWNG", 95.0)
        (y,) = h.exits()
        assert (y.symbol, y.reason) == ("SWNG", ExitReason.STOP_LOSS)
        tg.cancel_scope.cancel()


@pytest.mark.parametrize("side", [1, -1])
async def test_trailing_stop(side: int) -> None:
    h = Harness(lifecycle_settings(swing={"trailing_stop_pct": 5.0}))
    async with anyio.create_task_group() as tg:
        await h.start(tg)
        await h.position("AAPL", 10 * side, 100.0)
        run = (110.0, 120.0, 116.0) if side > 0 else (90.0, 80.0, 83.0)
        await h.tick("AAPL", *run)
        assert h.exits() == []
        level = 120.0 * 0.95 if side > 0 else 80.0 * 1.05
        await h.tick("AAPL", level + side * 0.01)
        assert h.exits() == []
        await h.tick("AAPL", level - side * 0.01)
        (x,) = h.exits()
        assert x.reason is ExitReason.TRAILING_STOP
        tg.cancel_scope.cancel()


async def test_trailing_stop_is_armed_at_entry() -> None:
    h = Harness(lifecycle_settings(swing={"trailing_stop_pct": 2.0}))
    async with anyio.create_task_group() as tg:
        await h.start(tg)
        await h.position("AAPL", 10, 100.0)
        await h.tick("AAPL", 97.9)  # never above the entry: the armed 98.0 protects
        (x,) = h.exits()
        assert x.reason is ExitReason.TRAILING_STOP
        tg.cancel_scope.cancel()


async def test_time_stop_fires_without_market_data() -> None:
    h = Harness(lifecycle_settings(swing={"max_holding_s": 3600.0}))
    async with anyio.create_task_group() as tg:
        await h.start(tg)
        await h.position("AAPL", 10, 100.0)
        opened = h.clock.now_ns()
        await h.run_until(opened + 3599 * NS_PER_S)
        assert h.exits() == []
        await h.run_until(opened + 3600 * NS_PER_S)
        (x,) = h.exits()
        assert x.reason is ExitReason.TIME_STOP
        assert x.ts == opened + 3600 * NS_PER_S
        tg.cancel_scope.cancel()


async def test_time_stop_by_bars_held() -> None:
    h = Harness(lifecycle_settings(swing={"max_holding_bars": 3}))
    async with anyio.create_task_group() as tg:
        await h.start(tg)
        await h.position("AAPL", 10, 100.0)
        await h.bar("AAPL", 100.0)
        await h.bar("AAPL", 100.0, interval_s=300)  # another interval: not counted
        await h.bar("AAPL", 100.0)
        assert h.exits() == []
        await h.bar("AAPL", 100.0)
        (x,) = h.exits()
        assert x.reason is ExitReason.TIME_STOP
        tg.cancel_scope.cancel()


async def test_volatility_stop() -> None:
    h = Harness(lifecycle_settings(atr_period=3, swing={"volatility_stop_atr": 2.0}))
    async with anyio.create_task_group() as tg:
        await h.start(tg)
        for _ in range(3):  # ATR(3) of bars with a range of 1.0: 1.0
            await h.bar("AAPL", 100.0, high=100.5, low=99.5)
        await h.position("AAPL", 10, 100.0)  # volatility stop at 100 - 2·1.0 = 98
        await h.tick("AAPL", 98.01)
        assert h.exits() == []
        await h.tick("AAPL", 98.0)
        (x,) = h.exits()
        assert (x.reason, x.trigger_price) == (ExitReason.VOLATILITY_STOP, 98.0)
        tg.cancel_scope.cancel()


async def test_pattern_stop_needs_a_close_through_the_band() -> None:
    h = Harness(lifecycle_settings(ema_fast_period=3, swing={"pattern_band_pct": 1.0}))
    async with anyio.create_task_group() as tg:
        await h.start(tg)
        for _ in range(3):
            await h.bar("AAPL", 100.0)  # EMA(3) = 100
        await h.position("AAPL", 10, 100.0)
        await h.tick("AAPL", 96.0)  # through the band, but a tick is not a close
        await h.bar("AAPL", 99.5)  # EMA 99.75, band edge 98.75: inside
        assert h.exits() == []
        await h.bar("AAPL", 97.0)  # EMA 98.375, edge 97.39: closed through it
        (x,) = h.exits()
        assert (x.reason, x.trigger_price) == (ExitReason.PATTERN_STOP, 97.0)
        tg.cancel_scope.cancel()


async def test_exit_signal_from_the_positions_source_only() -> None:
    h = Harness(lifecycle_settings())
    async with anyio.create_task_group() as tg:
        await h.start(tg)
        await h.position("AAPL", 10, 100.0, source="alpha")
        await h.tick("AAPL", 101.0)
        await h.signal("AAPL", Side.SELL, source="beta")  # someone else's opinion
        await h.signal("AAPL", Side.BUY, source="alpha")  # same side: not an exit
        await h.signal("AAPL", Side.SELL, source="alpha", is_exit=True)  # orchestrator's
        assert h.exits() == []
        await h.signal("AAPL", Side.SELL, source="alpha")
        (x,) = h.exits()
        assert (x.reason, x.trigger_price) == (ExitReason.EXIT_SIGNAL, 101.0)
        tg.cancel_scope.cancel()


async def test_flagged_exit_signal_when_configured() -> None:
    h = Harness(lifecycle_settings(exit_on_flagged_signal=True))
    async with anyio.create_task_group() as tg:
        await h.start(tg)
        await h.position("AAPL", 10, 100.0)
        await h.signal("AAPL", Side.SELL, is_exit=True)
        (x,) = h.exits()
        assert x.reason is ExitReason.EXIT_SIGNAL
        tg.cancel_scope.cancel()


async def test_scale_out_then_target() -> None:
    h = Harness(
        lifecycle_settings(swing={"scale_out": [{"at_target_fraction": 0.5, "qty_fraction": 0.5}]})
    )
    async with anyio.create_task_group() as tg:
        await h.start(tg)
        await h.position("AAPL", 101, 100.0, stop=90.0, target=110.0)
        await h.tick("AAPL", 104.99)
        assert h.exits() == []
        await h.tick("AAPL", 105.0, 106.0)  # one partial only, however far it runs
        (x,) = h.exits()
        assert (x.reason, x.qty) == (ExitReason.SCALE_OUT, Decimal(50))
        await h.position("AAPL", 51, 100.0, stop=90.0, target=110.0)  # the partial filled
        await h.tick("AAPL", 110.0)
        (y,) = h.exits()
        assert (y.reason, y.qty) == (ExitReason.PROFIT_TARGET, None)
        assert x.exit_id != y.exit_id
        tg.cancel_scope.cancel()
