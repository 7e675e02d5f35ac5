"""The lifecycle actor's behaviour around the rules: one exit per decision, retries, end of
day, emergency close, bad input, batching, growth, adoption, offloading."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import anyio
import numpy as np

from actors.broker.queries import GetPositions
from actors.kernels import MarketColumns, Stretch
from actors.kernels._jit import COMPILED
from actors.lifecycle import LifecycleMonitor
from daemon import names
from daemon.clock import NS_PER_S, SimClock
from daemon.messages import (
    Bar,
    ExitReason,
    FlattenAll,
    MarketBatch,
    PositionSnapshot,
    Tick,
    TradeType,
)
from tests.pipeline_support import context
from tests.unit.lifecycle._harness import Harness, lifecycle_settings

NY = dt.timezone(dt.timedelta(hours=-5))  # EST: the test dates are in winter


def ns(t: dt.datetime) -> int:
    return int(t.timestamp()) * NS_PER_S


async def test_one_exit_per_decision_until_the_position_closes() -> None:
    h = Harness(lifecycle_settings())
    async with anyio.create_task_group() as tg:
        await h.start(tg)
        await h.position("AAPL", 10, 100.0, stop=95.0)
        await h.tick("AAPL", 94.0, 93.0, 92.0)
        (x,) = h.exits()
        assert x.exit_id == "c-AAPL:x1:stop_loss"
        await h.position("AAPL", 4, 100.0, stop=95.0)  # partly filled: still pending
        await h.tick("AAPL", 91.0)
        assert h.exits() == []
        await h.close("AAPL")
        assert h.actor.book.row("AAPL") is None
        await h.position("AAPL", 10, 90.0, stop=85.0, correlation_id="c-again")
        await h.tick("AAPL", 84.0)
        (y,) = h.exits()
        assert y.exit_id == "c-again:x1:stop_loss"
        tg.cancel_scope.cancel()


async def test_unconfirmed_exit_is_sent_again_with_a_new_id() -> None:
    h = Harness(lifecycle_settings(exit_retry_s=30.0))
    async with anyio.create_task_group() as tg:
        await h.start(tg)
        await h.position("AAPL", 10, 100.0, stop=95.0)
        await h.tick("AAPL", 94.0)
        (x,) = h.exits()
        sent = h.clock.now_ns()
        await h.run_until(sent + 29 * NS_PER_S)
        assert h.exits() == []
        await h.run_until(sent + 30 * NS_PER_S)
        (y,) = h.exits()
        assert (y.reason, y.qty) == (ExitReason.STOP_LOSS, None)
        assert y.exit_id != x.exit_id
        assert [a.code for a in h.alerts] == ["exit_retry"]
        tg.cancel_scope.cancel()


async def test_end_of_day_flatten_at_the_configured_local_time() -> None:
    start = ns(dt.datetime(2011, 1, 3, 10, 0, tzinfo=NY))
    clock = SimClock(start)
    h = Harness(lifecycle_settings(eod_flatten_time="15:55"), clock)
    flatten_at = ns(dt.datetime(2011, 1, 3, 15, 55, tzinfo=NY))
    async with anyio.create_task_group() as tg:
        await h.start(tg)
        await h.position("DAY", 10, 100.0, trade_type=TradeType.INTRADAY)
        await h.position("HOLD", 10, 100.0, trade_type=TradeType.SWING)
        await h.run_until(flatten_at - 1)
        assert h.exits() == []
        await h.run_until(flatten_at)
        (x,) = h.exits()
        assert (x.symbol, x.reason, x.ts) == ("DAY", ExitReason.END_OF_DAY, flatten_at)
        # The next day's flatten is scheduled for the next day's 15:55.
        await h.close("DAY")
        await h.run_until(flatten_at + 3600 * NS_PER_S)
        await h.position("DAY2", 10, 100.0, trade_type=TradeType.INTRADAY)
        next_day = ns(dt.datetime(2011, 1, 4, 15, 55, tzinfo=NY))
        await h.run_until(next_day - 1)
        assert h.exits() == []
        await h.run_until(next_day)
        assert [(e.symbol, e.reason) for e in h.exits()] == [("DAY2", ExitReason.END_OF_DAY)]
        tg.cancel_scope.cancel()


async def test_emergency_close_all_over_the_control_channel() -> None:
    h = Harness(lifecycle_settings())
    async with anyio.create_task_group() as tg:
        await h.start(tg)
        for sym in ("A", "B", "C"):
            await h.position(sym, 10, 100.0, stop=95.0)
        await h.tick("B", 90.0)  # B is already on its way out
        assert [e.symbol for e in h.exits()] == ["B"]
        await h.control(FlattenAll(reason="test", symbol="C", ts=h.clock.now_ns()))
        assert [(e.symbol, e.reason) for e in h.exits()] == [("C", ExitReason.EMERGENCY)]
        await h.control(
            FlattenAll(reason="kill", exit_reason=ExitReason.OPERATOR, ts=h.clock.now_ns())
        )
        assert [(e.symbol, e.reason) for e in h.exits()] == [("A", ExitReason.OPERATOR)]
        assert await h.actor.emergency_close_all("again") == 0  # all pending already
        tg.cancel_scope.cancel()


async def test_bad_prices_are_rejected_and_recorded() -> None:
    h = Harness(lifecycle_settings())
    async with anyio.create_task_group() as tg:
        await h.start(tg)
        await h.position("AAPL", 10, 100.0, stop=95.0)
        await h.tick("AAPL", math.nan, -1.0, math.inf)
        bad = Bar(symbol="AAPL", open=100, high=99, low=101, close=100, ts=h.clock.now_ns())
        await h.publish_market(bad)
        assert h.exits() == []
        assert h.actor.rejected == 4
        assert [a.code for a in h.alerts] == ["bad_market_data"] * 3  # 1st, 2nd and 4th
        assert "nan" in h.alerts[0].text
        await h.tick("AAPL", 94.0)  # still working
        assert [e.reason for e in h.exits()] == [ExitReason.STOP_LOSS]
        tg.cancel_scope.cancel()


async def test_a_batch_is_checked_in_order_per_symbol() -> None:
    h = Harness(lifecycle_settings())
    async with anyio.create_task_group() as tg:
        await h.start(tg)
        await h.position("AAPL", 10, 100.0, stop=95.0, target=110.0)
        await h.position("MSFT", 10, 100.0, stop=95.0, target=110.0)
        now = h.clock.now_ns()
        prices = [("AAPL", 101.0), ("MSFT", 99.0), ("AAPL", 111.0), ("AAPL", 94.0)]
        items = tuple(Tick(symbol=s, price=p, ts=now) for s, p in prices)
        await h.publish_market(MarketBatch(items=items, ts=now))
        # AAPL reached its target before it fell through its stop: the target wins.
        assert [(e.symbol, e.reason, e.trigger_price) for e in h.exits()] == [
            ("AAPL", ExitReason.PROFIT_TARGET, 111.0)
        ]
        tg.cancel_scope.cancel()


async def test_a_batch_with_a_bad_price_is_taken_item_by_item() -> None:
    h = Harness(lifecycle_settings())
    async with anyio.create_task_group() as tg:
        await h.start(tg)
        await h.position("AAPL", 10, 100.0, stop=95.0)
        now = h.clock.now_ns()
        prices = [("AAPL", 99.0), ("MSFT", math.nan), ("AAPL", 94.0)]
        items = tuple(Tick(symbol=s, price=p, ts=now) for s, p in prices)
        await h.publish_market(MarketBatch(items=items, ts=now))
        assert [e.reason for e in h.exits()] == [ExitReason.STOP_LOSS]
        assert h.actor.rejected == 1
        tg.cancel_scope.cancel()


async def test_horizon_is_the_first_step_whose_prices_fire_an_exit() -> None:
    h = Harness(lifecycle_settings())
    async with anyio.create_task_group() as tg:
        await h.start(tg)
        await h.position("AAPL", 10, 100.0, stop=95.0, target=110.0)
        now = h.clock.now_ns()
        # Steps: [MSFT 50], [AAPL 101], [AAPL 96, MSFT 51], [AAPL 94.5], [AAPL 120].
        prices = [("MSFT", 50.0), ("AAPL", 101.0), ("AAPL", 96.0), ("MSFT", 51.0)]
        prices += [("AAPL", 94.5), ("AAPL", 120.0)]
        steps = np.array([0, 1, 2, 2, 3, 4], np.int64)
        items = [Tick(symbol=s, price=p, ts=now) for s, p in prices]
        step_ts = now + np.arange(5, dtype=np.int64) * NS_PER_S
        stretch = Stretch(MarketColumns.build(items), steps, step_ts)
        book = h.actor.book.fb.copy()
        assert h.actor.horizon(stretch) == 3  # the stop, not the later target
        assert np.array_equal(h.actor.book.fb, book, equal_nan=True)  # worked on copies
        short = Stretch(MarketColumns.build(items[:4]), steps[:4], step_ts[:3])
        assert h.actor.horizon(short) == 3  # nothing fires: the whole stretch
        assert h.exits() == []
        tg.cancel_scope.cancel()


async def test_a_bar_that_began_before_the_entry_counts_only_its_close() -> None:
    h = Harness(lifecycle_settings())
    async with anyio.create_task_group() as tg:
        await h.start(tg)
        await h.position("AAPL", 10, 100.0, stop=95.0)
        # This minute began 30 s before the entry; its low of 90 may predate the entry.
        await h.run_until(h.clock.now_ns() + 30 * NS_PER_S)
        await h.bar("AAPL", 99.0, high=101.0, low=90.0, advance=False)
        assert h.exits() == []
        await h.bar("AAPL", 99.0, high=101.0, low=94.0)  # wholly after the entry
        assert [e.reason for e in h.exits()] == [ExitReason.STOP_LOSS]
        tg.cancel_scope.cancel()


async def test_many_positions_grow_the_book_and_survive_swap_removal() -> None:
    h = Harness(lifecycle_settings(capacity=2))
    async with anyio.create_task_group() as tg:
        await h.start(tg)
        syms = [f"S{k:02d}" for k in range(40)]
        for k, sym in enumerate(syms):
            await h.position(sym, 10 if k % 2 else -10, 100.0, stop=95.0 if k % 2 else 105.0)
        for sym in syms[:10]:
            await h.close(sym)  # moves later columns into the freed ones
        assert len(h.actor.book) == 30
        now = h.clock.now_ns()
        # Every remaining position is hit against its stop, in one batch.
        items = tuple(Tick(symbol=s, price=94.0 if int(s[1:]) % 2 else 106.0, ts=now) for s in syms)
        await h.publish_market(MarketBatch(items=items, ts=now))
        out = h.exits()
        assert sorted(e.symbol for e in out) == syms[10:]
        assert {e.reason for e in out} == {ExitReason.STOP_LOSS}
        assert all(e.exit_id == f"c-{e.symbol}:x1:stop_loss" for e in out)
        tg.cancel_scope.cancel()


async def test_flip_and_reopen_start_a_fresh_position() -> None:
    h = Harness(lifecycle_settings(swing={"stop_loss_pct": 5.0}))
    async with anyio.create_task_group() as tg:
        await h.start(tg)
        await h.position("AAPL", 10, 100.0)
        await h.position("AAPL", -10, 100.0)  # flipped short: stop now above, at 105
        await h.tick("AAPL", 94.0)
        assert h.exits() == []
        await h.tick("AAPL", 105.0)
        assert [e.reason for e in h.exits()] == [ExitReason.STOP_LOSS]
        tg.cancel_scope.cancel()


async def test_large_books_are_evaluated_off_the_event_loop() -> None:
    h = Harness(lifecycle_settings(offload_positions=3))
    async with anyio.create_task_group() as tg:
        await h.start(tg)
        for sym in ("A", "B", "C"):
            await h.position(sym, 10, 100.0, stop=95.0)
        await h.market.publish(Tick(symbol="B", price=90.0, ts=h.clock.now_ns()))
        with anyio.fail_after(10):  # a guard only: the evaluation runs in a worker thread
            x = await h.exits_channel.receive()
        assert (x.symbol, x.reason) == ("B", ExitReason.STOP_LOSS)
        tg.cancel_scope.cancel()


async def test_adopts_the_brokers_positions_on_start() -> None:
    settings = lifecycle_settings(adopt_on_start=True, swing={"stop_loss_pct": 5.0})
    h = Harness(settings)
    service = h.bus.service(names.BROKER_QUERY)
    held = PositionSnapshot(symbol="AAPL", qty=Decimal(5), avg_price=Decimal("100"))

    async def broker() -> None:
        for call in await service.next_calls():
            assert isinstance(call.request, GetPositions)
            call.reply((held,))

    async with anyio.create_task_group() as tg:
        tg.start_soon(broker)
        await h.start(tg)
        assert h.actor.book.row("AAPL") is not None
        await h.tick("AAPL", 95.0)
        assert [e.reason for e in h.exits()] == [ExitReason.STOP_LOSS]
        tg.cancel_scope.cancel()


async def test_start_goes_on_when_the_broker_does_not_answer() -> None:
    h = Harness(lifecycle_settings(adopt_on_start=True, adopt_timeout_s=5.0))
    async with anyio.create_task_group() as tg:
        tg.start_soon(h.clock.autojump)
        await h.start(tg)  # nobody serves broker.query: gives up after 5 s of clock time
        h.exits()
        assert [a.code for a in h.alerts] == ["adopt_failed"]
        tg.cancel_scope.cancel()


async def test_actor_calls_reuse_the_warmed_kernels() -> None:
    h = Harness(lifecycle_settings(swing={"volatility_stop_atr": 1.0}))
    names_ = ("evaluate_exits", "ema_update", "atr_update")
    async with anyio.create_task_group() as tg:
        await h.start(tg)  # warm_up has run
        warmed = {n: list(COMPILED[n].signatures) for n in names_}
        await h.position("AAPL", 10, 100.0)
        await h.bar("AAPL", 100.0, high=101.0, low=99.0)
        await h.tick("AAPL", 99.0)
        tg.cancel_scope.cancel()
    # A new specialisation would mean numba compiled on the hot path.
    assert {n: list(COMPILED[n].signatures) for n in names_} == warmed


async def test_a_restarted_actor_keeps_its_subscriptions_and_their_buffer() -> None:
    h = Harness(lifecycle_settings())
    await h.position("AAPL", 10, 100.0, stop=95.0, wait=False)  # while no actor runs
    again = LifecycleMonitor(context("lifecycle", h.settings, h.clock, h.bus))
    subs = [s.channel.name for s in h.events.subscriptions]
    assert subs.count("events->lifecycle") == 1
    assert again.event_sub is h.actor.event_sub
    h.actor = again
    async with anyio.create_task_group() as tg:
        await h.start(tg)
        await h.settle()  # the update buffered before the restart is applied...
        assert h.actor.book.row("AAPL") is not None
        await h.tick("AAPL", 94.0)  # ...and protects the position
        assert [e.reason for e in h.exits()] == [ExitReason.STOP_LOSS]
        tg.cancel_scope.cancel()


async def test_reload_applies_to_new_positions() -> None:
    h = Harness(lifecycle_settings(swing={"stop_loss_pct": 5.0}))
    async with anyio.create_task_group() as tg:
        await h.start(tg)
        await h.position("OLD", 10, 100.0)
        await h.actor.on_reload(lifecycle_settings(swing={"stop_loss_pct": 1.0}))
        await h.position("NEW", 10, 100.0)
        await h.tick("OLD", 98.0)
        await h.tick("NEW", 98.0)
        assert [e.symbol for e in h.exits()] == ["NEW"]
        tg.cancel_scope.cancel()
