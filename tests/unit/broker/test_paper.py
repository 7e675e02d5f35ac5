"""The paper venue: fills, prices, latency, partial fills, rejections, cancels, expiry."""

from __future__ import annotations

import math

import pytest

from actors.broker import BrokerUnavailable, PaperReason
from actors.broker._venue import Venue
from actors.kernels import MarketColumns
from config.sections.broker import PaperSessionSettings
from daemon.clock import NS_PER_S, SimClock
from daemon.messages import Bar, OrderStatus, OrderType, Side, Tick, TimeInForce
from tests.unit.broker._helpers import (
    MS,
    T0,
    D,
    bar,
    drain,
    fills,
    intent,
    paper,
    running,
    settings,
    statuses,
    tick,
    updates,
)

S = OrderStatus


@pytest.fixture
def clock() -> SimClock:
    return SimClock(start_ns=T0)


async def test_market_order_latency_slippage_and_commission(clock: SimClock) -> None:
    broker = paper(
        clock,
        ack_latency_ms=5.0,
        fill_latency_ms=20.0,
        slippage_bps=10.0,
        commission_per_share=0.005,
        commission_min=1.0,
    )
    async with running(broker):
        await broker.on_market(tick(100.0))
        order = await broker.submit(intent("o1"))
        assert order.status is S.SUBMITTED
        await clock.run_until(T0 + 4 * MS)
        assert drain(broker) == []
        assert (await broker.get_order("o1")).status is S.SUBMITTED  # type: ignore[union-attr]
        await clock.run_until(T0 + 5 * MS)
        acked = drain(broker)
        assert statuses(acked) == [S.ACCEPTED]
        assert acked[0].ts == T0 + 5 * MS
        # The price moves while the order is on its way: it fills at the new one.
        await clock.run_until(T0 + 10 * MS)
        await broker.on_market(tick(101.0))
        await clock.run_until(T0 + 24 * MS)
        assert drain(broker) == []
        await clock.run_until(T0 + 25 * MS)
        events = drain(broker)
    assert statuses(events) == [S.FILLED]
    (fill,) = fills(events)
    assert events[0] is fill  # the fill comes before the update that reflects it
    assert fill.price == D("101.11")  # 101 x 1.001 = 101.101, rounded up against the buyer
    assert fill.commission == D("1.00")  # 100 x 0.005 = 0.50, below the 1.00 minimum
    assert fill.ts == T0 + 25 * MS
    assert fill.correlation_id == "corr-o1"
    assert fill.fill_id == f"{fill.broker_order_id}-1"
    (pos,) = broker.books.positions()
    assert pos.qty == D(100)
    assert broker.books.cash == D(100_000) - D("10111") - D(1)


async def test_partial_fills_by_volume_participation(clock: SimClock) -> None:
    broker = paper(clock, max_participation_pct=10.0, commission_per_share=0.01, commission_min=1.0)
    async with running(broker):
        await broker.on_market(bar(100, 101, 99, 100.5, volume=1000))
        await broker.submit(intent("o1", qty="250"))
        await broker.on_market(bar(101, 102, 100, 101.5, volume=1000))
        await broker.on_market(bar(102, 103, 101, 102.5, volume=1000))
        events = drain(broker)
    assert statuses(events) == [S.ACCEPTED, S.PARTIALLY_FILLED, S.PARTIALLY_FILLED, S.FILLED]
    got = [(f.qty, f.price, f.commission) for f in fills(events)]
    assert got == [
        (D(100), D("100.5"), D("1.00")),  # at once, at the last price: 10% of 1000
        (D(100), D("101"), D("1.00")),  # waited for the next bar: its open
        (D(50), D("102"), D("0.50")),  # 250 x 0.01 = 2.50 in all
    ]
    final = updates(events)[-1]
    assert final.filled_qty == D(250)
    assert final.avg_fill_price == D(101)  # 25250 / 250


async def test_limit_order_rests_until_price_crosses(clock: SimClock) -> None:
    broker = paper(clock, slippage_bps=10.0)
    async with running(broker):
        await broker.on_market(tick(100.0))
        await broker.submit(intent("buy", order_type=OrderType.LIMIT, limit="99"))
        await broker.on_market(tick(99.5))
        assert statuses(drain(broker)) == [S.ACCEPTED]
        assert [o.client_order_id for o in await broker.open_orders()] == ["buy"]
        await broker.on_market(tick(98.95))
        events = drain(broker)
    # 98.95 x 1.001 = 99.05 after slippage, but a limit never fills worse than its limit.
    assert [f.price for f in fills(events)] == [D("99.00")]
    assert statuses(events) == [S.FILLED]


async def test_limit_order_on_bars_fills_at_open_or_limit(clock: SimClock) -> None:
    broker = paper(clock)
    async with running(broker):
        await broker.on_market(bar(100, 100.5, 99.5, 100))
        await broker.submit(intent("s", Side.SELL, order_type=OrderType.LIMIT, limit="101"))
        await broker.submit(intent("b", Side.BUY, order_type=OrderType.LIMIT, limit="97"))
        await broker.on_market(bar(100, 101.5, 99.8, 100.2))  # high crosses 101
        await broker.on_market(bar(96, 98, 95, 97.5))  # gaps below 97: fills at the open
        events = drain(broker)
    assert [(f.client_order_id, f.price) for f in fills(events)] == [
        ("s", D(101)),
        ("b", D(96)),
    ]


async def test_marketable_limit_fills_at_once_at_the_better_price(clock: SimClock) -> None:
    broker = paper(clock)
    async with running(broker):
        await broker.on_market(tick(100.0))
        await broker.submit(intent("o", order_type=OrderType.LIMIT, limit="102"))
        events = drain(broker)
    assert [f.price for f in fills(events)] == [D(100)]


async def test_stop_orders_trigger_and_gap(clock: SimClock) -> None:
    broker = paper(clock)
    async with running(broker):
        await broker.on_market(tick(100.0))
        await broker.submit(intent("up", order_type=OrderType.STOP, stop="105"))
        await broker.on_market(tick(104.0))
        assert fills(drain(broker)) == []
        await broker.on_market(tick(105.5))
        up = fills(drain(broker))
        await broker.submit(intent("down", Side.SELL, order_type=OrderType.STOP, stop="95"))
        await broker.on_market(bar(94, 96, 93, 95.5))
        down = fills(drain(broker))
    assert [f.price for f in up] == [D("105.5")]
    assert [f.price for f in down] == [D(94)]  # gapped through 95: the open


async def test_quotes_buy_at_ask_sell_at_bid(clock: SimClock) -> None:
    broker = paper(clock)
    async with running(broker):
        await broker.on_market(tick(100.0, bid=99.98, ask=100.02))
        await broker.submit(intent("b"))
        await broker.submit(intent("s", Side.SELL))
        events = drain(broker)
    assert [f.price for f in fills(events)] == [D("100.02"), D("99.98")]


async def test_rejects_unknown_symbol(clock: SimClock) -> None:
    broker = paper(clock)
    async with running(broker):
        await broker.submit(intent("o", symbol="MSFT"))
        events = drain(broker)
    (update,) = updates(events)
    assert update.status is S.REJECTED
    assert update.reason == PaperReason.UNKNOWN_SYMBOL
    assert (await broker.get_order("o")).reason == "unknown_symbol"  # type: ignore[union-attr]


async def test_rejects_insufficient_buying_power_including_open_orders(clock: SimClock) -> None:
    broker = paper(clock, cash=10_000.0)
    async with running(broker):
        await broker.on_market(tick(100.0))
        await broker.submit(intent("too-big", qty="101"))
        await broker.submit(intent("rests", qty="50", order_type=OrderType.LIMIT, limit="99"))
        acct = await broker.account()
        assert acct.buying_power == D(10_000) - D(50 * 99)
        await broker.submit(intent("after-reserve", qty="60"))
        await broker.submit(intent("fits", qty="50"))
        # Reducing a position needs no buying power.
        await broker.submit(intent("reduce", Side.SELL, qty="50"))
        events = drain(broker)
    by_id = {u.client_order_id: u for u in updates(events)}
    assert by_id["too-big"].reason == PaperReason.INSUFFICIENT_BUYING_POWER
    assert by_id["after-reserve"].reason == PaperReason.INSUFFICIENT_BUYING_POWER
    assert by_id["fits"].status is S.FILLED
    assert by_id["reduce"].status is S.FILLED


@pytest.mark.parametrize(
    ("kw", "order", "reason"),
    [
        ({}, intent("o", qty="0.5"), PaperReason.INVALID_QUANTITY),
        ({}, intent("o", qty="-3"), PaperReason.INVALID_QUANTITY),
        ({}, intent("o", order_type=OrderType.LIMIT), PaperReason.INVALID_PRICE),
        ({}, intent("o", order_type=OrderType.STOP, stop="0.001"), PaperReason.INVALID_PRICE),
        ({"allow_short": False}, intent("o", Side.SELL), PaperReason.SHORT_NOT_ALLOWED),
    ],
)
async def test_rejects_invalid_orders(
    clock: SimClock, kw: dict[str, bool], order: object, reason: PaperReason
) -> None:
    broker = paper(clock, **kw)
    async with running(broker):
        await broker.on_market(tick(100.0))
        await broker.submit(order)  # type: ignore[arg-type]
        (update,) = updates(drain(broker))
    assert update.status is S.REJECTED
    assert update.reason == reason


async def test_market_closed_and_day_expiry(clock: SimClock) -> None:
    session = PaperSessionSettings(enforce=True)
    broker = paper(clock, session=session, ack_latency_ms=1.0)
    close = T0 + 6 * 3600 * NS_PER_S  # 16:00 New York
    async with running(broker):
        await broker.on_market(tick(100.0))
        await broker.submit(intent("day", order_type=OrderType.LIMIT, limit="90"))
        await broker.submit(
            intent("gtc", order_type=OrderType.LIMIT, limit="90", tif=TimeInForce.GTC)
        )
        await clock.run_until(close - 1)
        assert statuses(drain(broker)) == [S.ACCEPTED, S.ACCEPTED]
        await clock.run_until(close)
        expired = updates(drain(broker))
        assert [(u.client_order_id, u.status, u.reason) for u in expired] == [
            ("day", S.EXPIRED, "day_expired")
        ]
        await broker.submit(intent("late"))
        await clock.run_until(close + MS)
        (late,) = updates(drain(broker))
        assert [o.client_order_id for o in await broker.open_orders()] == ["gtc"]
    assert late.status is S.REJECTED
    assert late.reason == PaperReason.MARKET_CLOSED


async def test_ioc_cancels_what_it_cannot_fill(clock: SimClock) -> None:
    broker = paper(clock, max_participation_pct=10.0)
    async with running(broker):
        await broker.on_market(tick(100.0, size=1000))
        await broker.submit(intent("ioc", qty="250", tif=TimeInForce.IOC))
        await broker.submit(
            intent("away", order_type=OrderType.LIMIT, limit="95", tif=TimeInForce.IOC)
        )
        events = drain(broker)
    by_id = {u.client_order_id: u for u in updates(events) if u.status.is_terminal}
    assert by_id["ioc"].status is S.CANCELLED
    assert by_id["ioc"].filled_qty == D(100)
    assert by_id["ioc"].reason == PaperReason.IOC_REMAINDER
    assert by_id["away"].status is S.CANCELLED
    assert by_id["away"].filled_qty == 0


async def test_cancel_takes_effect_after_the_ack_latency(clock: SimClock) -> None:
    broker = paper(clock, ack_latency_ms=2.0)
    async with running(broker):
        await broker.on_market(tick(100.0))
        await broker.submit(intent("o", order_type=OrderType.LIMIT, limit="90"))
        await clock.run_until(T0 + 2 * MS)
        drain(broker)
        pending = await broker.cancel("o")
        assert pending is not None
        assert pending.status is S.ACCEPTED
        await clock.run_until(T0 + 4 * MS)
        (update,) = updates(drain(broker))
        assert await broker.cancel("nope") is None
        again = await broker.cancel("o")
        await clock.run_until(T0 + 10 * MS)
        assert drain(broker) == []
        # The cancelled order no longer holds buying power.
        assert (await broker.account()).buying_power == D(100_000)
    assert update.status is S.CANCELLED
    assert update.reason == PaperReason.CANCELLED
    assert again is not None
    assert again.status is S.CANCELLED


async def test_idempotent_submit_never_creates_two_orders(clock: SimClock) -> None:
    broker = paper(clock)
    async with running(broker):
        await broker.on_market(tick(100.0))
        first = await broker.submit(intent("same"))
        second = await broker.submit(intent("same"))
        events = drain(broker)
    assert first.broker_order_id == second.broker_order_id
    assert second.status is S.FILLED
    assert len(fills(events)) == 1
    assert [(u.status, u.reason) for u in updates(events)] == [
        (S.ACCEPTED, ""),
        (S.FILLED, ""),
        (S.FILLED, PaperReason.DUPLICATE_CLIENT_ORDER_ID),
    ]
    assert broker.books.qty("AAPL") == D(100)


async def test_short_and_cover(clock: SimClock) -> None:
    broker = paper(clock)
    async with running(broker):
        await broker.on_market(tick(50.0))
        await broker.submit(intent("short", Side.SELL, qty="10"))
        await broker.on_market(tick(45.0))
        await broker.submit(intent("cover", Side.BUY, qty="10"))
    assert broker.books.open_positions == 0
    assert broker.books.realized_pnl == D(50)


async def test_bad_market_data_is_ignored_and_counted(clock: SimClock) -> None:
    broker = paper(clock)
    async with running(broker):
        await broker.on_market(tick(math.nan))
        await broker.on_market(tick(-1.0))
        await broker.on_market(bar(100, 99, 101, 100))  # high below low
        await broker.submit(intent("o"))
        (update,) = updates(drain(broker))
    assert broker.bad_market_updates == 3
    assert update.reason == PaperReason.UNKNOWN_SYMBOL


async def test_requests_fail_while_disconnected(clock: SimClock) -> None:
    broker = paper(clock)
    async with running(broker):
        await broker.close()
        assert not broker.connected
        with pytest.raises(BrokerUnavailable):
            await broker.submit(intent("o"))
        with pytest.raises(BrokerUnavailable):
            await broker.account()
        broker.go_offline()
        with pytest.raises(BrokerUnavailable, match="offline"):
            await broker.connect()
        broker.go_online()
        await broker.connect()
        assert (await broker.account()).cash == D(100_000)


async def test_timers_set_before_run_fire_once_running(clock: SimClock) -> None:
    broker = paper(clock, ack_latency_ms=1.0)
    await broker.connect()
    await broker.on_market(tick(100.0))
    await broker.submit(intent("o"))
    assert broker.next_timer_ns == T0 + MS
    async with running(broker):
        await clock.run_until(T0 + MS)
        assert statuses(drain(broker)) == [S.ACCEPTED, S.FILLED]


async def test_finished_orders_are_forgotten_beyond_the_bound(clock: SimClock) -> None:
    broker = paper(clock, max_closed_orders=2)
    async with running(broker):
        await broker.on_market(tick(100.0))
        for n in range(4):
            await broker.submit(intent(f"o{n}", qty="1"))
        known = [await broker.get_order(f"o{n}") is not None for n in range(4)]
    assert known == [False, False, True, True]


def test_public_surface() -> None:
    import actors.broker
    import actors.common

    for module in (actors.broker, actors.common):
        for name in module.__all__:
            assert getattr(module, name) is not None, name


# -- a batch of market data at once ----------------------------------------------------


def _market_picture(venue: Venue) -> dict[str, tuple[object, ...]]:
    return {
        s: (st.last, st.bid, st.ask, st.bar, st.budget, st.ts) for s, st in venue.market.items()
    }


@pytest.mark.parametrize("working", [False, True])
def test_a_batch_leaves_the_venue_as_its_items_one_by_one(working: bool) -> None:
    nan = float("nan")
    items: list[Bar | Tick] = []
    for i in range(30):
        sym = ("AAA", "BBB", "CCC")[i % 3]
        c = 10.0 + (i % 7) * 0.5
        items.append(Bar(symbol=sym, open=c, high=c + 1, low=c - 1, close=c, volume=500.0, ts=T0))
    items[7] = Bar(symbol="BBB", open=5.0, high=4.0, low=6.0, close=5.0, ts=T0)  # high<low
    items[8] = Bar(symbol="CCC", open=nan, high=9.0, low=8.0, close=8.5, ts=T0)
    items[28] = Tick(symbol="BBB", price=12.0, size=3.0, bid=11.9, ask=12.1, ts=T0)
    items[29] = Tick(symbol="CCC", price=12.0, bid=-1.0, ts=T0)  # a bid that is no price
    venues = [Venue(settings()), Venue(settings())]
    for v in venues:
        v.on_market(Bar(symbol="AAA", open=10, high=10, low=10, close=10, ts=T0 - 1), T0 - 1)
        if working:
            order = intent("w1", symbol="AAA", order_type=OrderType.LIMIT, limit="9.50", ts=T0 - 1)
            v.submit(order, T0 - 1)
            v.advance(T0 - 1)
    one, batch = venues
    for it in items:
        one.on_market(it, T0)
    batch.on_market_many(MarketColumns.build(items), T0)
    assert _market_picture(batch) == _market_picture(one)
    assert batch.bad_market_updates == one.bad_market_updates == 3
    assert batch.books.positions() == one.books.positions()
    assert list(batch.outbox) == list(one.outbox)
